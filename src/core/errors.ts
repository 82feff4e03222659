/**
 * Warden's error hierarchy. Every error has a stable `code`; errors that cross a wire
 * (socket API, MCP, HTTP) are converted with `toWireError`, which never includes a stack.
 */
const marker = Symbol.for("warden.error");

export type WardenErrorCode =
  | "usage"
  | "config-invalid"
  | "policy-invalid"
  | "policy-missing"
  | "store-unavailable"
  | "store-corrupt"
  | "daemon-unreachable"
  | "daemon-running"
  | "input-invalid"
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "timeout"
  | "internal";

export class WardenError extends Error {
  readonly [marker] = true;
  readonly code: WardenErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(
    code: WardenErrorCode,
    message: string,
    options?: { cause?: unknown; details?: Record<string, unknown> },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "WardenError";
    this.code = code;
    this.details = options?.details;
  }

  static isInstance(error: unknown): error is WardenError {
    return typeof error === "object" && error !== null && (error as Record<symbol, unknown>)[marker] === true;
  }

  /** Usage and configuration problems (and no store to read) exit with 2; everything else is a failed check. */
  get exitCode(): number {
    return this.code === "usage" ||
      this.code === "config-invalid" ||
      this.code === "policy-invalid" ||
      this.code === "store-unavailable"
      ? 2
      : 1;
  }
}

export interface WireError {
  code: WardenErrorCode;
  message: string;
}

export function toWireError(error: unknown): WireError {
  if (WardenError.isInstance(error)) return { code: error.code, message: error.message };
  return { code: "internal", message: "internal error" };
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
