import { randomBytes } from "node:crypto";
import { monotonicFactory } from "ulid";

/** Creates ULIDs that sort in creation order even within one millisecond. */
export function createIdFactory(): () => string {
  return monotonicFactory();
}

/** A W3C Trace Context trace id: 16 random bytes, lowercase hex. */
export function newTraceId(): string {
  return randomBytes(16).toString("hex");
}

/** A W3C Trace Context span id: 8 random bytes, lowercase hex. */
export function newSpanId(): string {
  return randomBytes(8).toString("hex");
}
