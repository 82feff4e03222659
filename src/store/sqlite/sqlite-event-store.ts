import Database from "better-sqlite3";
import { WardenError } from "../../core/errors.js";
import type { AppendOptions, EventQuery, EventStore } from "../../core/event-store.js";
import type { EventInput, EventType, StoredEvent } from "../../core/events.js";
import { canonicalEventBody, genesisHash, hashEventBody } from "../../core/hash-chain.js";
import { createIdFactory } from "../../core/ids.js";
import { migrations } from "./schema.js";
import { SqliteWriter } from "./sqlite-writer.js";

/** A row as stored: the hashed canonical body and the copies used for queries. */
export interface EventRow {
  seq: number;
  id: string;
  time: string;
  type: string;
  agent_id: string;
  session_id: string;
  trace_id: string;
  hash: string;
  body: string;
}

interface Pending {
  row: EventRow;
  resolve: () => void;
  reject: (error: Error) => void;
}

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
  readonly #redact: (data: unknown) => unknown;
  readonly #now: () => Date;
  readonly #nextId = createIdFactory();
  #headSeq: number;
  #headHash: string;
  #queue: Pending[] = [];
  #flushScheduled = false;
  /** A batch is being committed; the next one waits for it, gathering appends meanwhile. */
  #committing = false;
  #failure: Error | null = null;
  #closed = false;
  #flushWaiters: (() => void)[] = [];

  constructor(options: SqliteEventStoreOptions) {
    this.#redact = options.redact ?? ((data) => data);
    this.#now = options.now ?? (() => new Date());
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
    this.#headSeq = head?.seq ?? 0;
    this.#headHash = head?.hash ?? genesisHash;
  }

  append<T extends EventType>(input: EventInput<T>, options: AppendOptions = {}): Promise<StoredEvent<T>> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#closed)
      return Promise.reject(new WardenError("store-unavailable", "the event store is closed"));
    let event: StoredEvent<T>;
    let row: EventRow;
    try {
      const body: Omit<StoredEvent<T>, "hash"> = {
        id: this.#nextId(),
        seq: this.#headSeq + 1,
        time: this.#now().toISOString(),
        traceId: input.traceId,
        spanId: input.spanId,
        ...(input.parentSpanId === undefined ? {} : { parentSpanId: input.parentSpanId }),
        agentId: input.agentId,
        sessionId: input.sessionId,
        type: input.type,
        data: this.#redact(input.data) as StoredEvent<T>["data"],
        prevHash: this.#headHash,
      };
      const canonicalBody = canonicalEventBody(body as Omit<StoredEvent, "hash">);
      const hash = hashEventBody(canonicalBody);
      event = { ...body, hash } as StoredEvent<T>;
      row = {
        seq: body.seq,
        id: body.id,
        time: body.time,
        type: body.type,
        agent_id: body.agentId,
        session_id: body.sessionId,
        trace_id: body.traceId,
        hash,
        body: canonicalBody,
      };
    } catch (error) {
      return Promise.reject(
        new WardenError("input-invalid", `event cannot be encoded: ${(error as Error).message}`),
      );
    }
    this.#headSeq = row.seq;
    this.#headHash = row.hash;
    const durable = new Promise<void>((resolve, reject) => {
      this.#queue.push({ row, resolve, reject });
    });
    this.#scheduleFlush();
    if (options.durability === "buffered") {
      // The caller does not wait for the disk; a failed commit poisons the store instead.
      durable.catch(() => {});
      return Promise.resolve(event);
    }
    return durable.then(() => event);
  }

  async read(query: EventQuery = {}): Promise<StoredEvent[]> {
    return readEvents(this.#database, query);
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    return this.#headSeq === 0 ? null : { seq: this.#headSeq, hash: this.#headHash };
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
    if (!this.#flushScheduled && !this.#committing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#writer.close();
    this.#database.close();
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#committing) return;
    this.#flushScheduled = true;
    // setImmediate lets every append issued in this turn of the event loop join the commit.
    setImmediate(() => this.#flushNow());
  }

  #flushNow(): void {
    this.#flushScheduled = false;
    const batch = this.#queue;
    this.#queue = [];
    if (batch.length === 0) {
      this.#notifyFlushed();
      return;
    }
    if (this.#failure) {
      for (const pending of batch) pending.reject(this.#failure);
      this.#notifyFlushed();
      return;
    }
    this.#committing = true;
    this.#writer
      .commit(batch.map((pending) => pending.row))
      .then(
        () => {
          for (const pending of batch) pending.resolve();
        },
        (error: Error) => {
          // The in-memory head already counts these events; the chain can no longer be extended
          // safely, so the store refuses everything from now on (fail closed).
          this.#failure ??= new WardenError(
            "store-unavailable",
            `the event store failed to commit: ${error.message}`,
            {
              cause: error,
            },
          );
          for (const pending of batch) pending.reject(this.#failure);
        },
      )
      .finally(() => {
        this.#committing = false;
        // Appends that arrived during the commit form the next batch at once.
        if (this.#queue.length > 0) this.#flushNow();
        else this.#notifyFlushed();
      });
  }

  #notifyFlushed(): void {
    if (this.#flushScheduled || this.#committing || this.#queue.length > 0) return;
    const waiters = this.#flushWaiters;
    this.#flushWaiters = [];
    for (const waiter of waiters) waiter();
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
