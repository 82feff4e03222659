import { createHash } from "node:crypto";
import { canonicalJson } from "../core/canonical-json.js";
import type { EventStore } from "../core/event-store.js";
import type { StoredEvent } from "../core/events.js";

/**
 * What makes two findings the same: the detector, its evidence and its explanation. Detectors
 * are deterministic given the same events, so a replay or a re-scan reproduces the key of a
 * finding it already reported. Canonical JSON: the store keeps data in RFC 8785 key order.
 */
export function findingKey(finding: {
  detector: unknown;
  evidence?: unknown;
  explanation?: unknown;
}): string {
  return createHash("sha256")
    .update(
      `${String(finding.detector)}\n${canonicalOrText(finding.evidence ?? [])}\n${String(finding.explanation ?? "")}`,
    )
    .digest("hex")
    .slice(0, 32);
}

/**
 * What makes two claim checks the same: the claim (which message, where in it, what kind) and
 * how it was judged. `claim-check:` keeps these keys apart from finding keys in one map.
 */
export function claimCheckKey(check: {
  detector?: unknown;
  message?: unknown;
  kind?: unknown;
  verdict?: unknown;
  evidenceEventIds?: unknown;
}): string {
  const identity = {
    detector: check.detector ?? null,
    message: check.message ?? null,
    kind: check.kind ?? null,
    verdict: check.verdict ?? null,
    evidence: check.evidenceEventIds ?? [],
  };
  return `claim-check:${createHash("sha256").update(canonicalOrText(identity)).digest("hex").slice(0, 32)}`;
}

function canonicalOrText(value: unknown): string {
  try {
    return canonicalJson(value);
  } catch {
    // Not JSON (NaN, a cycle): the schema check drops such a report anyway.
    return String(value);
  }
}

/** The key of a recorded finding or claim check. */
export function reportKeyOf(event: StoredEvent): string {
  return event.type === "claim-check"
    ? claimCheckKey(event.data as object)
    : findingKey(event.data as { detector: unknown });
}

/** The key of every finding and claim check in the log, with the id of the event that holds it. */
export async function reportedKeys(store: EventStore): Promise<Map<string, string>> {
  const keys = new Map<string, string>();
  for (let after = 0; ; ) {
    const page = await store.read({ afterSeq: after, limit: 5000, types: ["finding", "claim-check"] });
    for (const event of page) if (!keys.has(reportKeyOf(event))) keys.set(reportKeyOf(event), event.id);
    if (page.length < 5000) return keys;
    after = page.at(-1)!.seq;
  }
}
