import { pino } from "pino";

export type Logger = pino.Logger;

/** The one logger: structured, to stderr, so stdout stays the command's output. */
export function createLogger(options: { level?: string; name?: string } = {}): Logger {
  return pino(
    { name: options.name ?? "warden", level: options.level ?? process.env.WARDEN_LOG_LEVEL ?? "info" },
    pino.destination({ fd: 2, sync: true }),
  );
}

export function silentLogger(): Logger {
  return pino({ level: "silent" });
}
