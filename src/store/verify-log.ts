import { type KeyObject, verify } from "node:crypto";
import { storedEventSchema } from "../core/events.js";
import { checkpointMessage, genesisHash, hashEventBody } from "../core/hash-chain.js";
import { parseStrictJson } from "../core/strict-json.js";
import type { WitnessEntry } from "./checkpointer.js";
import type { EventRow } from "./sqlite/sqlite-event-store.js";

export type VerifyProblemKind =
  | "edited"
  | "missing"
  | "reordered"
  | "truncated"
  | "rolled-back"
  | "bad-signature"
  | "corrupt";

export interface VerifyProblem {
  seq: number;
  kind: VerifyProblemKind;
  message: string;
}

export interface VerifyReport {
  ok: boolean;
  /**
   * The first seq checked: 1, or the checkpoint a shortened log starts at (its signed head is the
   * hash the next event chains to; the signature is checked like any checkpoint's).
   */
  startsAt: number;
  events: number;
  head: { seq: number; hash: string } | null;
  checkpoints: number;
  lastCheckpointSeq: number | null;
  witnessed: number | null;
  /**
   * Problems in log order. A problem is reported where it becomes visible: an edit whose hash
   * was recomputed shows at the next event (it no longer chains), and a rewritten stretch at the
   * first checkpoint or witness entry covering it; the damage may start earlier.
   */
  problems: VerifyProblem[];
}

export interface VerifyOptions {
  publicKey: KeyObject | null;
  witness: WitnessEntry[] | null;
  /** Stop collecting after this many problems. */
  maxProblems?: number;
  /**
   * The rows are a stretch cut out of a log (an export): it may start at any checkpoint. A whole
   * log may start after seq 1 only where a `retention-prune` event records the removal.
   */
  segment?: boolean;
}

/**
 * Re-derives everything from the stored canonical bodies: each body must hash to its row's
 * hash, chain to the previous event, carry the row's seq and query columns, and every
 * checkpoint must be signed by the key and commit to the hash actually stored at its seq.
 */
export function verifyLog(rows: Iterable<EventRow>, options: VerifyOptions): VerifyReport {
  const maxProblems = options.maxProblems ?? 20;
  const problems: VerifyProblem[] = [];
  const report = (seq: number, kind: VerifyProblemKind, message: string) => {
    if (problems.length < maxProblems) problems.push({ seq, kind, message });
  };
  const hashesBySeq = new Map<number, string>();
  const checkpointsToCheck: {
    seq: number;
    headSeq: number;
    headHash: string;
    keyId: string;
    signature: string;
  }[] = [];
  let expectedSeq = 1;
  let previousHash = genesisHash;
  let events = 0;
  let head: { seq: number; hash: string } | null = null;

  let startsAt = 1;
  let prunedThrough = 0;
  for (const row of rows) {
    events++;
    if (events === 1 && row.seq > 1) {
      // A log whose older part was removed by retention, or an exported stretch, starts at a
      // checkpoint: its (signed) head is the hash the rest chains to.
      const anchor = checkpointAnchor(row);
      if (anchor !== null) {
        expectedSeq = row.seq;
        previousHash = anchor;
        startsAt = row.seq;
      }
    }
    if (row.seq !== expectedSeq) {
      if (row.seq > expectedSeq) {
        report(expectedSeq, "missing", `events ${expectedSeq}..${row.seq - 1} are missing`);
      } else {
        report(row.seq, "reordered", `seq ${row.seq} appears after seq ${expectedSeq - 1}`);
      }
    }
    let body: Record<string, unknown>;
    try {
      body = storedEventSchema.omit({ hash: true }).parse(parseStrictJson(row.body)) as Record<
        string,
        unknown
      >;
    } catch (error) {
      report(
        row.seq,
        "corrupt",
        `event body is not a valid event: ${(error as Error).message.split("\n")[0]}`,
      );
      expectedSeq = row.seq + 1;
      previousHash = row.hash;
      continue;
    }
    const computed = hashEventBody(row.body);
    if (computed !== row.hash) {
      report(row.seq, "edited", "event content does not match its hash (edited after it was written)");
    } else if (body.prevHash !== previousHash) {
      if (body.seq !== row.seq) {
        report(row.seq, "reordered", `row ${row.seq} holds the event written as seq ${String(body.seq)}`);
      } else {
        report(
          row.seq,
          "edited",
          `does not chain to seq ${row.seq - 1} (an earlier event was edited, removed or replaced)`,
        );
      }
    } else if (body.seq !== row.seq) {
      report(row.seq, "reordered", `row ${row.seq} holds the event written as seq ${String(body.seq)}`);
    }
    const columnsMatch =
      body.id === row.id &&
      body.time === row.time &&
      body.type === row.type &&
      body.agentId === row.agent_id &&
      body.sessionId === row.session_id &&
      body.traceId === row.trace_id;
    if (!columnsMatch) report(row.seq, "edited", "query columns differ from the hashed event (index edited)");
    if (body.type === "retention-prune") {
      const removed = Number((body.data as Record<string, unknown>).removedThroughSeq);
      if (Number.isInteger(removed)) prunedThrough = Math.max(prunedThrough, removed);
    }
    if (body.type === "checkpoint") {
      const data = body.data as Record<string, unknown>;
      checkpointsToCheck.push({
        seq: row.seq,
        headSeq: Number(data.headSeq),
        headHash: String(data.headHash),
        keyId: String(data.keyId),
        signature: String(data.signature),
      });
    }
    hashesBySeq.set(row.seq, row.hash);
    previousHash = row.hash;
    expectedSeq = row.seq + 1;
    head = { seq: row.seq, hash: row.hash };
  }

  let lastCheckpointSeq: number | null = null;
  for (const checkpoint of checkpointsToCheck) {
    const message = checkpointMessage(checkpoint.headSeq, checkpoint.headHash);
    if (options.publicKey) {
      let valid = false;
      try {
        valid = verify(null, message, options.publicKey, Buffer.from(checkpoint.signature, "base64"));
      } catch {
        valid = false;
      }
      if (!valid)
        report(checkpoint.seq, "bad-signature", "checkpoint signature does not verify with the public key");
    }
    const stored = hashesBySeq.get(checkpoint.headSeq);
    // The anchor checkpoint of a shortened log commits to an event no longer present.
    if (checkpoint.seq === startsAt && startsAt > 1) {
      lastCheckpointSeq = checkpoint.seq;
      continue;
    }
    if (stored === undefined) {
      report(
        checkpoint.headSeq,
        "missing",
        `checkpoint at seq ${checkpoint.seq} commits to seq ${checkpoint.headSeq}, which is missing`,
      );
    } else if (stored !== checkpoint.headHash) {
      report(
        checkpoint.headSeq,
        "edited",
        `checkpoint at seq ${checkpoint.seq} signed a different hash for seq ${checkpoint.headSeq} (the log up to it was rewritten)`,
      );
    }
    lastCheckpointSeq = checkpoint.seq;
  }

  let witnessed: number | null = null;
  for (const entry of options.witness ?? []) {
    witnessed = Math.max(witnessed ?? 0, entry.seq);
    if (options.publicKey) {
      let valid = false;
      try {
        valid = verify(
          null,
          checkpointMessage(entry.seq, entry.hash),
          options.publicKey,
          Buffer.from(entry.signature, "base64"),
        );
      } catch {
        valid = false;
      }
      if (!valid) {
        report(entry.seq, "bad-signature", "witness entry is not signed by the public key");
        continue;
      }
    }
    const stored = hashesBySeq.get(entry.seq);
    if (stored === undefined && (head === null || entry.seq > head.seq)) {
      report(
        head ? head.seq + 1 : 1,
        "truncated",
        `the witness saw seq ${entry.seq}, but the log ends at seq ${head?.seq ?? 0} (truncated or rolled back)`,
      );
    } else if (stored !== undefined && stored !== entry.hash) {
      report(
        entry.seq,
        "rolled-back",
        `the witness saw a different event at seq ${entry.seq} (the log was rolled back and rewritten)`,
      );
    }
  }

  if (startsAt > 1 && !options.segment && prunedThrough !== startsAt - 1)
    report(
      1,
      "missing",
      `events 1..${startsAt - 1} are missing and no retention-prune event records their removal`,
    );
  problems.sort((left, right) => left.seq - right.seq);
  return {
    ok: problems.length === 0,
    startsAt,
    events,
    head,
    checkpoints: checkpointsToCheck.length,
    lastCheckpointSeq,
    witnessed,
    problems,
  };
}

export function parseWitnessFile(text: string): WitnessEntry[] {
  return text
    .split("\n")
    .filter((line) => line.trim().length > 0)
    .map((line) => JSON.parse(line) as WitnessEntry);
}

/** The head a checkpoint row commits to, when the row is a well-formed checkpoint chained to it. */
function checkpointAnchor(row: EventRow): string | null {
  try {
    const body = parseStrictJson(row.body) as {
      type?: unknown;
      seq?: unknown;
      prevHash?: unknown;
      data?: { headSeq?: unknown; headHash?: unknown };
    };
    if (body.type !== "checkpoint" || body.seq !== row.seq) return null;
    if (body.data?.headSeq !== row.seq - 1 || typeof body.data.headHash !== "string") return null;
    return body.prevHash === body.data.headHash ? body.data.headHash : null;
  } catch {
    return null;
  }
}
