const unitMilliseconds = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

export const durationPattern = /^([1-9][0-9]{0,6})(s|m|h|d)$/;

/** Parses a duration written like `30s`, `5m`, `2h` or `1d` into milliseconds; undefined if malformed. */
export function parseDuration(text: string): number | undefined {
  const match = durationPattern.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = match[2] as keyof typeof unitMilliseconds;
  return amount * unitMilliseconds[unit];
}
