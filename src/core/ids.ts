import { randomFillSync } from "node:crypto";
import { monotonicFactory } from "ulid";

/**
 * Cryptographic randomness drawn from the OS in 4 KiB refills instead of one call per byte: ids
 * are made several times per model call, and the per-call path into the OS was the largest
 * single cost of an id (ulid's default asks the OS once per character).
 */
const pool = Buffer.alloc(4096);
let offset = pool.length;

function takeRandom(length: number): Buffer {
  if (offset + length > pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const bytes = pool.subarray(offset, offset + length);
  offset += length;
  return bytes;
}

/** A float in [0, 1) from 32 random bits, the PRNG shape ulid takes. */
function pooledFraction(): number {
  return takeRandom(4).readUInt32LE(0) / 0x1_0000_0000;
}

/** Creates ULIDs that sort in creation order even within one millisecond. */
export function createIdFactory(): () => string {
  return monotonicFactory(pooledFraction);
}

/** A W3C Trace Context trace id: 16 random bytes, lowercase hex. */
export function newTraceId(): string {
  return takeRandom(16).toString("hex");
}

/** A W3C Trace Context span id: 8 random bytes, lowercase hex. */
export function newSpanId(): string {
  return takeRandom(8).toString("hex");
}
