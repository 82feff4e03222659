import { createHmac } from "node:crypto";

// Field names whose string values are credentials, whatever they look like.
const secretFieldName =
  /(^|[-_])(api[-_]?key|apikey|token|secret|password|passwd|authorization|cookie|credential|private[-_]?key)s?$/i;

// Well-known credential shapes that can appear inside free text.
export const secretPatterns: RegExp[] = [
  /\bsk-(?:ant-|proj-)?[A-Za-z0-9_-]{20,}/g, // OpenAI / Anthropic keys
  /\bgh[pousr]_[A-Za-z0-9]{30,}/g, // GitHub tokens
  /\bxox[abposr]-[A-Za-z0-9-]{10,}/g, // Slack tokens
  /\bAKIA[0-9A-Z]{16}\b/g, // AWS access key ids
  /\bwdn_[A-Za-z0-9_-]{20,}/g, // Warden's own agent and operator tokens
  /\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}/g, // JWTs
  /\bBearer\s+[A-Za-z0-9._~+/-]{16,}=*/g,
  // Assignments in env files and shell snippets: DATABASE_PASSWORD=..., api_key: ...
  /(?<=\b[A-Za-z0-9_]*(?:PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_KEY)[A-Za-z0-9_]*\s*[=:]\s*["']?)[^\s"']{6,}/gi,
];

// Text in which none of these occur (case-insensitively) cannot match any pattern above: each
// pattern needs one of them. Most event text has none, and this one test is ~10x cheaper than
// running every pattern. A new pattern must add its literal part here (redact-secrets.test.ts).
export const mayHoldSecret =
  /sk-|gh[pousr]_|xox|akia|wdn_|eyj|bearer|passw|secret|token|api_?key|private_key/i;

/**
 * Replaces secrets with keyed fingerprints (`secret:` + 16 hex of HMAC-SHA256) so that equal
 * secrets can still be matched across events without the secret being stored.
 */
export function createSecretRedactor(key: Buffer): (value: unknown) => unknown {
  const fingerprint = (secret: string) =>
    `secret:${createHmac("sha256", key).update(secret).digest("hex").slice(0, 16)}`;

  // Every pattern looks at the original text and overlapping matches become one fingerprint, so
  // no pattern takes another's output (`secret:<hex>` after `SECRET:`) for a secret of its own.
  const redactText = (text: string): string => {
    if (!mayHoldSecret.test(text)) return text;
    const ranges: [start: number, end: number][] = [];
    for (const pattern of secretPatterns) {
      pattern.lastIndex = 0;
      for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
        ranges.push([match.index, pattern.lastIndex]);
      }
    }
    if (ranges.length === 0) return text;
    ranges.sort((left, right) => left[0] - right[0]);
    let result = "";
    let position = 0;
    for (let index = 0; index < ranges.length; ) {
      const start = ranges[index]![0];
      let end = ranges[index]![1];
      for (index++; index < ranges.length && ranges[index]![0] < end; index++)
        end = Math.max(end, ranges[index]![1]);
      result += text.slice(position, start) + fingerprint(text.slice(start, end));
      position = end;
    }
    return result + text.slice(position);
  };

  const redact = (value: unknown, fieldName: string | null): unknown => {
    if (typeof value === "string") {
      if (fieldName !== null && secretFieldName.test(fieldName) && value.length > 0)
        return fingerprint(value);
      return redactText(value);
    }
    if (Array.isArray(value)) return value.map((item) => redact(item, null));
    if (value !== null && typeof value === "object") {
      const result: Record<string, unknown> = {};
      for (const [key, item] of Object.entries(value)) result[key] = redact(item, key);
      return result;
    }
    return value;
  };

  return (value) => redact(value, null);
}
