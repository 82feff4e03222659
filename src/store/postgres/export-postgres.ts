import { WardenError } from "../../core/errors.js";
import type { EventRow } from "../chain-appender.js";
import type { ChainRows, ExportSelection } from "../export-record.js";
import { connectReader, noStoreError } from "./postgres-event-store.js";

/**
 * The stretch of each chain that an export of `selection` needs, read without becoming a writer:
 * per chain holding selected events, from the checkpoint before the first to the one after the
 * last (or the chain's start and head), chosen as `exportRecord` chooses them and found with
 * indexed queries so that only the stretch is loaded. With `chain`, that chain only.
 */
export async function readExportStretches(
  url: string,
  selection: ExportSelection,
  chain?: string,
): Promise<ChainRows[]> {
  const client = await connectReader(url);
  try {
    const values: unknown[] = [];
    const conditions = ["type <> 'checkpoint'"];
    const add = (column: string, operator: string, value: unknown) => {
      values.push(value);
      conditions.push(`${column} ${operator} $${values.length}`);
    };
    if (selection.sessionId !== undefined) add("session_id", "=", selection.sessionId);
    if (selection.agentId !== undefined) add("agent_id", "=", selection.agentId);
    if (selection.since !== undefined) add("time", ">=", selection.since);
    if (chain !== undefined) add("chain", "=", chain);
    const bounds = await client.query<{ chain: string; first: string; last: string }>(
      `SELECT chain, min(seq) AS first, max(seq) AS last FROM warden_events WHERE ${conditions.join(" AND ")} GROUP BY chain ORDER BY chain`,
      values,
    );
    if (chain !== undefined && bounds.rows.length === 0) {
      const known = await client.query("SELECT 1 FROM warden_events WHERE chain = $1 LIMIT 1", [chain]);
      if (known.rows.length === 0) throw new WardenError("usage", `no chain "${chain}" in this database`);
    }
    const stretches: ChainRows[] = [];
    for (const bound of bounds.rows) {
      const rows = await stretchRows(client, bound.chain, Number(bound.first), Number(bound.last));
      stretches.push({ chain: bound.chain, rows: () => rows });
    }
    return stretches;
  } catch (error) {
    throw noStoreError(error, url);
  } finally {
    await client.end().catch(() => {});
  }
}

async function stretchRows(
  client: Awaited<ReturnType<typeof connectReader>>,
  chain: string,
  firstSelected: number,
  lastSelected: number,
): Promise<EventRow[]> {
  const range = await client.query<{ from_seq: string; to_seq: string }>(
    `SELECT
       coalesce((SELECT max(seq) FROM warden_events WHERE chain = $1 AND type = 'checkpoint' AND seq < $2
                   AND (body::jsonb #>> '{data,headSeq}')::bigint = seq - 1),
                (SELECT min(seq) FROM warden_events WHERE chain = $1)) AS from_seq,
       coalesce((SELECT min(seq) FROM warden_events WHERE chain = $1 AND type = 'checkpoint' AND seq > $3
                   AND (body::jsonb #>> '{data,headSeq}')::bigint >= $3),
                (SELECT max(seq) FROM warden_events WHERE chain = $1)) AS to_seq`,
    [chain, firstSelected, lastSelected],
  );
  const { from_seq: fromSeq, to_seq: toSeq } = range.rows[0]!;
  const result = await client.query<EventRow & { seq: string }>(
    "SELECT seq, id, time, type, agent_id, session_id, trace_id, hash, body FROM warden_events WHERE chain = $1 AND seq BETWEEN $2 AND $3 ORDER BY seq",
    [chain, fromSeq, toSeq],
  );
  return result.rows.map((row) => ({ ...row, seq: Number(row.seq) }));
}
