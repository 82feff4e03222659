import Database from "better-sqlite3";
import { WardenError } from "../../core/errors.js";
import type { AppendOptions, EventQuery, EventStore } from "../../core/event-store.js";
import type { EventInput, EventType, StoredEvent } from "../../core/events.js";
import { genesisHash } from "../../core/hash-chain.js";
import { ChainAppender, type EventRow } from "../chain-appender.js";
import { migrations } from "./schema.js";
import { SqliteWriter } from "./sqlite-writer.js";

export type { EventRow } from "../chain-appender.js";

export interface SqliteEventStoreOptions {
  file: string;
  /** Applied to event data before hashing (secret fingerprints). */
  redact?: (data: unknown) => unknown;
  now?: () => Date;
}

/**
 * SQLite event store with group commit: appends are hashed and ordered synchronously, then
 * written in one transaction per event-loop turn; with WAL and `synchronous=FULL` each commit
 * is one fsync shared by every append in it. A durable append resolves after that commit.
 */
export class SqliteEventStore implements EventStore {
  /** Reads, migrations and the head; commits go through the writer thread. */
  readonly #database: Database.Database;
  readonly #writer: SqliteWriter;
  readonly #chain: ChainAppender;

  constructor(options: SqliteEventStoreOptions) {
    try {
      this.#database = new Database(options.file);
      this.#database.pragma("journal_mode = WAL");
      this.#database.pragma("synchronous = FULL");
      this.#database.pragma("busy_timeout = 5000");
      migrate(this.#database);
    } catch (error) {
      throw new WardenError(
        "store-unavailable",
        `cannot open the event store ${options.file}: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
    this.#writer = new SqliteWriter(options.file);
    const head = this.#database.prepare("SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1").get() as
      | { seq: number; hash: string }
      | undefined;
    const writer = this.#writer;
    this.#chain = new ChainAppender({
      head: { seq: head?.seq ?? 0, hash: head?.hash ?? genesisHash },
      commit: (rows) => writer.commit(rows),
      ...(options.redact === undefined ? {} : { redact: options.redact }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  append<T extends EventType>(input: EventInput<T>, options: AppendOptions = {}): Promise<StoredEvent<T>> {
    return this.#chain.append(input, options);
  }

  async read(query: EventQuery = {}): Promise<StoredEvent[]> {
    return readEvents(this.#database, query);
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    return this.#chain.head();
  }

  async retentionCut(before: string): Promise<{ checkpointSeq: number; removable: number } | null> {
    const cut = this.#database
      .prepare("SELECT seq FROM events WHERE type = 'checkpoint' AND time < ? ORDER BY seq DESC LIMIT 1")
      .get(before) as { seq: number } | undefined;
    if (cut === undefined) return null;
    const { removable } = this.#database
      .prepare("SELECT count(*) AS removable FROM events WHERE seq < ?")
      .get(cut.seq) as { removable: number };
    return removable === 0 ? null : { checkpointSeq: cut.seq, removable };
  }

  async pruneBefore(checkpointSeq: number): Promise<number> {
    const anchor = this.#database.prepare("SELECT type FROM events WHERE seq = ?").get(checkpointSeq) as
      | { type: string }
      | undefined;
    if (anchor?.type !== "checkpoint")
      throw new WardenError(
        "input-invalid",
        `seq ${checkpointSeq} is not a checkpoint; the log may only start at one`,
      );
    // The append-only trigger is lifted for this one statement, inside one transaction.
    const prune = this.#database.transaction(() => {
      this.#database.exec("DROP TRIGGER events_no_delete");
      const removed = this.#database.prepare("DELETE FROM events WHERE seq < ?").run(checkpointSeq).changes;
      this.#database.exec(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;",
      );
      return removed;
    });
    return prune.immediate();
  }

  flush(): Promise<void> {
    return this.#chain.flush();
  }

  async close(): Promise<void> {
    if (this.#chain.closed) return;
    await this.#chain.close();
    await this.#writer.close();
    this.#database.close();
  }
}

function migrate(database: Database.Database): void {
  const version = database.pragma("user_version", { simple: true }) as number;
  if (version > migrations.length) {
    throw new Error(`store schema version ${version} is newer than this Warden (${migrations.length})`);
  }
  for (let index = version; index < migrations.length; index++) {
    database.transaction(() => {
      database.exec(migrations[index]!);
      database.pragma(`user_version = ${index + 1}`);
    })();
  }
}

/** Reads events in seq order; used by the store and by read-only commands. */
export function readEvents(database: Database.Database, query: EventQuery): StoredEvent[] {
  const conditions = ["seq > @afterSeq"];
  const parameters: Record<string, unknown> = { afterSeq: query.afterSeq ?? 0, limit: query.limit ?? 1000 };
  if (query.agentId !== undefined) {
    conditions.push("agent_id = @agentId");
    parameters.agentId = query.agentId;
  }
  if (query.sessionId !== undefined) {
    conditions.push("session_id = @sessionId");
    parameters.sessionId = query.sessionId;
  }
  if (query.types !== undefined && query.types.length > 0) {
    const names = query.types.map((_, index) => `@type${index}`);
    conditions.push(`type IN (${names.join(", ")})`);
    query.types.forEach((type, index) => {
      parameters[`type${index}`] = type;
    });
  }
  const rows = database
    .prepare(`SELECT hash, body FROM events WHERE ${conditions.join(" AND ")} ORDER BY seq LIMIT @limit`)
    .all(parameters) as { hash: string; body: string }[];
  return rows.map((row) => ({ ...(JSON.parse(row.body) as Omit<StoredEvent, "hash">), hash: row.hash }));
}

/** Opens a store file read-only for commands that must not write (verify, log, trace). */
export function openReadOnly(file: string): Database.Database {
  try {
    const database = new Database(file, { readonly: true, fileMustExist: true });
    return database;
  } catch (error) {
    throw new WardenError(
      "store-unavailable",
      `cannot open the event store ${file}: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** Iterates every row in seq order without loading the whole log. */
export function* iterateRows(database: Database.Database): Generator<EventRow> {
  yield* database
    .prepare(
      "SELECT seq, id, time, type, agent_id, session_id, trace_id, hash, body FROM events ORDER BY seq",
    )
    .iterate() as Generator<EventRow>;
}
