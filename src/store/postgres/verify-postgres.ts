import type { KeyObject } from "node:crypto";
import type { VerifyProblem, VerifyReport } from "../verify-log.js";
import { verifyLog } from "../verify-log.js";
import { PostgresEventStore } from "./postgres-event-store.js";

export interface ChainsVerifyReport {
  ok: boolean;
  chains: { chain: string; report: VerifyReport }[];
  /** Heads one chain's checkpoints recorded for another that the other no longer holds. */
  crossChainProblems: (VerifyProblem & { chain: string; recordedBy: string })[];
}

/**
 * Verifies every chain of a PostgreSQL store: each on its own (hashes, links, checkpoint
 * signatures with `publicKeys[chain]` when given), then each checkpoint's record of the other
 * chains' heads against those chains, so that a chain rewritten consistently from its start (which
 * its own hashes cannot reveal without its key) is caught by the chains that vouched for it.
 */
export async function verifyPostgresChains(
  url: string,
  publicKeys: Record<string, KeyObject> = {},
): Promise<ChainsVerifyReport> {
  // Opening takes a writer lock on a chain of its own name, never on a replica's.
  const reader = await PostgresEventStore.open({ url, chain: `verify-${process.pid}` });
  try {
    const heads = await reader.chainHeads();
    const chains: ChainsVerifyReport["chains"] = [];
    const hashes = new Map<string, Map<number, string>>();
    const recorded: { chain: string; seq: number; hash: string; recordedBy: string; at: number }[] = [];
    for (const { chain } of heads) {
      const rows = await reader.rowsOfChain(chain);
      const bySeq = new Map<number, string>();
      for (const row of rows) {
        bySeq.set(row.seq, row.hash);
        if (row.type !== "checkpoint") continue;
        const body = JSON.parse(row.body) as {
          data: { chainHeads?: { chain: string; seq: number; hash: string }[] };
        };
        for (const other of body.data.chainHeads ?? [])
          recorded.push({ ...other, recordedBy: chain, at: row.seq });
      }
      hashes.set(chain, bySeq);
      chains.push({
        chain,
        report: verifyLog(rows, { publicKey: publicKeys[chain] ?? null, witness: null }),
      });
    }
    const crossChainProblems: ChainsVerifyReport["crossChainProblems"] = [];
    for (const entry of recorded) {
      // Retention removed it from that chain, as that chain's own record says (checked above).
      const startsAt = chains.find(({ chain }) => chain === entry.chain)?.report.startsAt ?? 1;
      if (entry.seq < startsAt) continue;
      const stored = hashes.get(entry.chain)?.get(entry.seq);
      if (stored === entry.hash) continue;
      crossChainProblems.push({
        chain: entry.chain,
        recordedBy: entry.recordedBy,
        seq: entry.seq,
        kind: stored === undefined ? "missing" : "edited",
        message:
          stored === undefined
            ? `chain ${entry.chain} has no seq ${entry.seq}, which chain ${entry.recordedBy} recorded at its seq ${entry.at} (truncated or removed)`
            : `chain ${entry.chain} at seq ${entry.seq} is not what chain ${entry.recordedBy} recorded at its seq ${entry.at} (rewritten)`,
      });
    }
    return {
      ok: chains.every(({ report }) => report.ok) && crossChainProblems.length === 0,
      chains,
      crossChainProblems,
    };
  } finally {
    await reader.close();
  }
}
