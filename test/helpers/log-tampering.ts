import { type KeyObject, sign } from "node:crypto";
import Database from "better-sqlite3";
import {
  canonicalEventBody,
  checkpointMessage,
  genesisHash,
  hashEventBody,
} from "../../src/core/hash-chain.js";
import type { EventRow } from "../../src/store/sqlite/sqlite-event-store.js";

/**
 * What an attacker with write access to the store file can do. Each change runs with the
 * append-only triggers dropped and puts them back afterwards, so the schema looks untouched.
 */
export function tamperWith(storeFile: string, change: (database: Database.Database) => void): void {
  const database = new Database(storeFile);
  try {
    const triggers = database
      .prepare(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name IN ('events_no_update', 'events_no_delete')",
      )
      .all() as { sql: string }[];
    if (triggers.length !== 2) throw new Error("the append-only triggers are not where expected");
    database.transaction(() => {
      database.exec("DROP TRIGGER events_no_update; DROP TRIGGER events_no_delete;");
      change(database);
      for (const trigger of triggers) database.exec(trigger.sql);
    })();
  } finally {
    database.close();
  }
}

type EventBody = Record<string, unknown> & { data: Record<string, unknown> };

export function readRow(database: Database.Database, seq: number): EventRow {
  const row = database.prepare("SELECT * FROM events WHERE seq = ?").get(seq) as EventRow | undefined;
  if (!row) throw new Error(`no row ${seq}`);
  return row;
}

export function readAllRows(database: Database.Database): EventRow[] {
  return database.prepare("SELECT * FROM events ORDER BY seq").all() as EventRow[];
}

/** Changes the hashed body of one event; with `rehash` its hash column is recomputed to match. */
export function editBody(
  database: Database.Database,
  seq: number,
  edit: (body: EventBody) => void,
  options: { rehash: boolean },
): void {
  const row = readRow(database, seq);
  const body = JSON.parse(row.body) as EventBody;
  edit(body);
  const text = canonicalEventBody(body as never);
  const hash = options.rehash ? hashEventBody(text) : row.hash;
  database.prepare("UPDATE events SET body = ?, hash = ? WHERE seq = ?").run(text, hash, seq);
}

export type QueryColumn = "id" | "time" | "type" | "agent_id" | "session_id" | "trace_id" | "hash";

export function setColumn(
  database: Database.Database,
  seq: number,
  column: QueryColumn,
  value: string,
): void {
  database.prepare(`UPDATE events SET ${column} = ? WHERE seq = ?`).run(value, seq);
}

export function deleteRows(
  database: Database.Database,
  fromSeq: number,
  toSeq = Number.MAX_SAFE_INTEGER,
): void {
  database.prepare("DELETE FROM events WHERE seq BETWEEN ? AND ?").run(fromSeq, toSeq);
}

/** Swaps the contents of two rows; each keeps its seq (its position in the log). */
export function swapRows(database: Database.Database, first: number, second: number): void {
  const a = readRow(database, first);
  const b = readRow(database, second);
  deleteRows(database, first, first);
  deleteRows(database, second, second);
  const insert = database.prepare(
    "INSERT INTO events (seq, id, time, type, agent_id, session_id, trace_id, hash, body) VALUES (@seq, @id, @time, @type, @agent_id, @session_id, @trace_id, @hash, @body)",
  );
  insert.run({ ...b, seq: first });
  insert.run({ ...a, seq: second });
}

export type CheckpointTreatment =
  /** Leave checkpoint data as signed; only re-chain the checkpoint event itself. */
  | { kind: "keep" }
  /** Point checkpoints at the rewritten hashes; the old signatures no longer match. */
  | { kind: "claim-new-head" }
  /** Point checkpoints at the rewritten hashes and sign them with this key. */
  | { kind: "re-sign"; privateKey: KeyObject; keyId: string };

/**
 * Rewrites the chain from `fromSeq` to the head with recomputed hashes, changing the event at
 * `edit.seq` on the way, so that every body matches its hash and chains to the one before:
 * only signatures and a witness can tell.
 */
export function rewriteChainFrom(
  database: Database.Database,
  fromSeq: number,
  options: { edit: { seq: number; change: (body: EventBody) => void }; checkpoints: CheckpointTreatment },
): void {
  const previous = fromSeq > 1 ? readRow(database, fromSeq - 1).hash : genesisHash;
  const rewrittenHashes = new Map<number, string>();
  let previousHash = previous;
  const rows = (
    database.prepare("SELECT * FROM events WHERE seq >= ? ORDER BY seq").all(fromSeq) as EventRow[]
  ).map((row) => ({ ...row }));
  const update = database.prepare("UPDATE events SET body = ?, hash = ? WHERE seq = ?");
  for (const row of rows) {
    const body = JSON.parse(row.body) as EventBody;
    if (row.seq === options.edit.seq) options.edit.change(body);
    body.prevHash = previousHash;
    if (body.type === "checkpoint" && options.checkpoints.kind !== "keep") {
      const headSeq = body.data.headSeq as number;
      const headHash = rewrittenHashes.get(headSeq) ?? (body.data.headHash as string);
      body.data.headHash = headHash;
      if (options.checkpoints.kind === "re-sign") {
        body.data.signature = sign(
          null,
          checkpointMessage(headSeq, headHash),
          options.checkpoints.privateKey,
        ).toString("base64");
        body.data.keyId = options.checkpoints.keyId;
      }
    }
    const text = canonicalEventBody(body as never);
    previousHash = hashEventBody(text);
    rewrittenHashes.set(row.seq, previousHash);
    update.run(text, previousHash, row.seq);
  }
}
