import { hash } from "node:crypto";
import { canonicalJson } from "./canonical-json.js";
import type { StoredEvent } from "./events.js";

/** The prevHash of the first event of a log. */
export const genesisHash = "0".repeat(64);

// Domain separation: a hash over an event can never be confused with one over another
// structure that happens to share the canonical bytes.
const eventDomain = "warden/event/v1\n";
export const checkpointDomain = "warden/checkpoint/v1\n";

/** The canonical text of an event without its own hash: this is what is stored and hashed. */
export function canonicalEventBody(event: Omit<StoredEvent, "hash">): string {
  return canonicalJson(event);
}

export function hashEventBody(canonicalBody: string): string {
  // One-shot hashing: the same digest as update(domain).update(body), without a Hash object
  // per event (measurable on the append path).
  return hash("sha256", eventDomain + canonicalBody, "hex");
}

/** The bytes a checkpoint signature covers. */
export function checkpointMessage(headSeq: number, headHash: string): Buffer {
  return Buffer.from(`${checkpointDomain}${headSeq}\n${headHash}`);
}
