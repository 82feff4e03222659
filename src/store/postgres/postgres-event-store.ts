import pg from "pg";
import { WardenError } from "../../core/errors.js";
import type { AppendOptions, EventQuery, EventStore } from "../../core/event-store.js";
import type { EventInput, EventType, StoredEvent } from "../../core/events.js";
import { genesisHash } from "../../core/hash-chain.js";
import { ChainAppender, type EventRow } from "../chain-appender.js";
import { postgresMigrations } from "./schema.js";

/** Event types other replicas apply as soon as they commit (announced with NOTIFY). */
export const replicatedEventTypes = ["kill-switch", "grant-created", "grant-revoked"] as const;

export interface PostgresEventStoreOptions {
  /** A `postgres://` connection string. */
  url: string;
  /**
   * This replica's hash chain. Each `warden up` replica sharing a database writes its own
   * chain, so writers never serialise on one head; a chain has one writer at a time (an
   * advisory lock held for the store's lifetime).
   */
  chain?: string;
  /** Applied to event data before hashing (secret fingerprints). */
  redact?: (data: unknown) => unknown;
  now?: () => Date;
}

export interface OpenApprovalRequest {
  chain: string;
  event: StoredEvent;
  approvedBy: string[];
}

/** Migrations and chain locks use advisory locks in this namespace (any fixed 32-bit value). */
const lockNamespace = 0x5741_5244;

/**
 * PostgreSQL event store with group commit: appends are hashed and ordered synchronously, as
 * in SQLite, then written in one multi-row INSERT per batch on a dedicated connection. With
 * `synchronous_commit` on (PostgreSQL's default) a durable append resolves after its
 * transaction's WAL is flushed.
 */
export class PostgresEventStore implements EventStore {
  readonly chain: string;
  readonly #url: string;
  #listener: pg.Client | null = null;
  readonly #writer: pg.Client;
  readonly #readers: pg.Pool;
  readonly #chain: ChainAppender;

  private constructor(
    options: PostgresEventStoreOptions,
    writer: pg.Client,
    readers: pg.Pool,
    head: { seq: number; hash: string },
  ) {
    this.chain = options.chain ?? "main";
    this.#url = options.url;
    this.#writer = writer;
    this.#readers = readers;
    this.#chain = new ChainAppender({
      head,
      commit: (rows) => this.#insert(rows),
      ...(options.redact === undefined ? {} : { redact: options.redact }),
      ...(options.now === undefined ? {} : { now: options.now }),
    });
    // A lost writer connection poisons the store: the chain's head is no longer known to be
    // what was committed, so nothing more may be appended (fail closed).
    writer.on("error", (error) => {
      this.#chain.poison(
        new WardenError("store-unavailable", `the event store lost its connection: ${error.message}`, {
          cause: error,
        }),
      );
    });
  }

  /** Connects, migrates, takes the chain's writer lock and reads its head. */
  static async open(options: PostgresEventStoreOptions): Promise<PostgresEventStore> {
    const chain = options.chain ?? "main";
    if (!/^[A-Za-z0-9._:-]{1,64}$/.test(chain))
      throw new WardenError("config-invalid", `chain names are 1-64 of A-Z a-z 0-9 . _ : -, not "${chain}"`);
    const writer = new pg.Client({ connectionString: options.url });
    try {
      await writer.connect();
    } catch (error) {
      throw new WardenError(
        "store-unavailable",
        `cannot connect to PostgreSQL at ${redactUrl(options.url)}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    try {
      await migrate(writer);
      const locked = await writer.query<{ locked: boolean }>(
        "SELECT pg_try_advisory_lock($1, hashtext($2)) AS locked",
        [lockNamespace, `chain:${chain}`],
      );
      if (!locked.rows[0]?.locked)
        throw new WardenError(
          "store-unavailable",
          `chain "${chain}" is being written by another Warden replica; give each replica its own chain name`,
        );
      const head = await writer.query<{ seq: string; hash: string }>(
        "SELECT seq, hash FROM warden_events WHERE chain = $1 ORDER BY seq DESC LIMIT 1",
        [chain],
      );
      const row = head.rows[0];
      const readers = new pg.Pool({ connectionString: options.url, max: 4 });
      readers.on("error", () => {
        // An idle reader dropped: the pool replaces it on the next query.
      });
      return new PostgresEventStore(options, writer, readers, {
        seq: row ? Number(row.seq) : 0,
        hash: row?.hash ?? genesisHash,
      });
    } catch (error) {
      await writer.end().catch(() => {});
      if (WardenError.isInstance(error)) throw error;
      throw new WardenError(
        "store-unavailable",
        `cannot open the PostgreSQL store: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  append<T extends EventType>(input: EventInput<T>, options: AppendOptions = {}): Promise<StoredEvent<T>> {
    return this.#chain.append(input, options);
  }

  /** This replica's chain, in seq order (`afterSeq` is a position in this chain). */
  async read(query: EventQuery = {}): Promise<StoredEvent[]> {
    return this.#select(query, this.chain);
  }

  /** Every chain's events in the order they were committed (by `position`). */
  async readAllChains(
    query: Omit<EventQuery, "afterSeq"> & { afterPosition?: number } = {},
  ): Promise<(StoredEvent & { chain: string; position: number })[]> {
    const { sql, values } = whereClause(query, null, query.afterPosition ?? 0, "position");
    const result = await this.#readers.query<{ hash: string; body: string; chain: string; position: string }>(
      `SELECT hash, body, chain, position FROM warden_events WHERE ${sql} ORDER BY position LIMIT $${values.length + 1}`,
      [...values, query.limit ?? 1000],
    );
    return result.rows.map((row) => ({
      ...(JSON.parse(row.body) as Omit<StoredEvent, "hash">),
      hash: row.hash,
      chain: row.chain,
      position: Number(row.position),
    }));
  }

  /**
   * Calls `handler` with each kill-switch or grant event another replica commits, as it commits
   * (LISTEN/NOTIFY). Resolves once listening.
   */
  async subscribeReplicated(handler: (event: StoredEvent) => void | Promise<void>): Promise<void> {
    // A dropped listener misses later announcements until restart; the events are still in the
    // database and are applied at the next start.
    const listener = await this.#listenerClient();
    listener.on("notification", (message) => {
      if (message.channel !== "warden_oversight") return;
      const [chain, seq] = (message.payload ?? "").split(" ");
      if (chain === undefined || seq === undefined || chain === this.chain) return;
      void this.#readers
        .query<{ hash: string; body: string }>(
          "SELECT hash, body FROM warden_events WHERE chain = $1 AND seq = $2",
          [chain, Number(seq)],
        )
        .then(async (result) => {
          const row = result.rows[0];
          if (row !== undefined)
            await handler({ ...(JSON.parse(row.body) as Omit<StoredEvent, "hash">), hash: row.hash });
        })
        .catch(() => {});
    });
    await listener.query("LISTEN warden_oversight");
  }

  /** Retention on this replica's chain: the newest checkpoint before `before`, and what precedes it. */
  async retentionCut(before: string): Promise<{ checkpointSeq: number; removable: number } | null> {
    const cut = await this.#readers.query<{ seq: string }>(
      "SELECT seq FROM warden_events WHERE chain = $1 AND type = 'checkpoint' AND time < $2 ORDER BY seq DESC LIMIT 1",
      [this.chain, before],
    );
    const checkpointSeq = cut.rows[0] === undefined ? null : Number(cut.rows[0].seq);
    if (checkpointSeq === null) return null;
    const count = await this.#readers.query<{ removable: string }>(
      "SELECT count(*) AS removable FROM warden_events WHERE chain = $1 AND seq < $2",
      [this.chain, checkpointSeq],
    );
    const removable = Number(count.rows[0]?.removable ?? 0);
    return removable === 0 ? null : { checkpointSeq, removable };
  }

  /** Removes this chain's events before the checkpoint at `checkpointSeq` (after a `retention-prune` event). */
  async pruneBefore(checkpointSeq: number): Promise<number> {
    const client = await this.#readers.connect();
    try {
      await client.query("BEGIN");
      const anchor = await client.query<{ type: string }>(
        "SELECT type FROM warden_events WHERE chain = $1 AND seq = $2",
        [this.chain, checkpointSeq],
      );
      if (anchor.rows[0]?.type !== "checkpoint")
        throw new WardenError(
          "input-invalid",
          `seq ${checkpointSeq} is not a checkpoint; the chain may only start at one`,
        );
      await client.query("SELECT set_config('warden.retention', 'on', true)");
      const removed = await client.query("DELETE FROM warden_events WHERE chain = $1 AND seq < $2", [
        this.chain,
        checkpointSeq,
      ]);
      await client.query("COMMIT");
      return removed.rowCount ?? 0;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw error;
    } finally {
      client.release();
    }
  }

  /** Sends `payload` to every replica listening on `channel` (delivered after this commits). */
  async notify(channel: string, payload: string): Promise<void> {
    await this.#readers.query("SELECT pg_notify($1, $2)", [channel, payload]);
  }

  /** Calls `handler` with each payload sent on `channel` (by any replica, this one included). */
  async listen(channel: string, handler: (payload: string) => void): Promise<void> {
    if (!/^[a-z_]{1,40}$/.test(channel)) throw new Error(`bad channel name ${channel}`);
    const listener = await this.#listenerClient();
    listener.on("notification", (message) => {
      if (message.channel === channel) handler(message.payload ?? "");
    });
    await listener.query(`LISTEN ${channel}`);
  }

  /**
   * The calls other replicas hold, as the shared record shows them: `approval-request` events on
   * any other chain that have not expired, not been denied or expired by their owner, and not yet
   * had as many approvals as they need, with who approved so far. Oldest first.
   */
  async openApprovalRequests(now: Date, limit = 1000): Promise<OpenApprovalRequest[]> {
    const result = await this.#readers.query<{
      chain: string;
      hash: string;
      body: string;
      approved_by: string[];
    }>(
      `SELECT r.chain, r.hash, r.body,
              coalesce(array_agg(d.reviewer ORDER BY d.position) FILTER (WHERE d.outcome = 'approved'), '{}') AS approved_by
         FROM warden_events r
         LEFT JOIN LATERAL (
           SELECT position, body::jsonb #>> '{data,outcome}' AS outcome, body::jsonb #>> '{data,reviewer}' AS reviewer
             FROM warden_events
            WHERE type = 'approval-decision' AND chain = r.chain
              AND body::jsonb #>> '{data,approvalId}' = r.body::jsonb #>> '{data,approvalId}'
         ) d ON true
        WHERE r.type = 'approval-request' AND r.chain <> $1
          AND r.body::jsonb #>> '{data,expiresAt}' > $2
        GROUP BY r.position, r.chain, r.hash, r.body
       HAVING NOT coalesce(bool_or(d.outcome IN ('denied', 'expired')), false)
          AND count(d.outcome) FILTER (WHERE d.outcome = 'approved')
              < coalesce((r.body::jsonb #>> '{data,approvers,count}')::int, 1)
        ORDER BY r.position
        LIMIT $3`,
      [this.chain, now.toISOString(), limit],
    );
    return result.rows.map((row) => ({
      chain: row.chain,
      event: { ...(JSON.parse(row.body) as Omit<StoredEvent, "hash">), hash: row.hash },
      approvedBy: row.approved_by,
    }));
  }

  /** One chain's events in seq order, like `read` on another replica's chain. */
  async readChain(chain: string, query: EventQuery = {}): Promise<StoredEvent[]> {
    return this.#select(query, chain);
  }

  async #listenerClient(): Promise<pg.Client> {
    if (this.#listener !== null) return this.#listener;
    const listener = new pg.Client({ connectionString: this.#url });
    await listener.connect();
    listener.on("error", () => {
      // A dropped listener misses later announcements until restart; the record is unaffected.
    });
    this.#listener = listener;
    return listener;
  }

  /** The head of every chain in the database (what a checkpoint commits to). */
  async chainHeads(): Promise<{ chain: string; seq: number; hash: string }[]> {
    const result = await this.#readers.query<{ chain: string; seq: string; hash: string }>(
      `SELECT DISTINCT ON (chain) chain, seq, hash FROM warden_events ORDER BY chain, seq DESC`,
    );
    return result.rows.map((row) => ({ chain: row.chain, seq: Number(row.seq), hash: row.hash }));
  }

  /** Every row of one chain in seq order, for `verifyLog`. */
  async rowsOfChain(chain: string): Promise<EventRow[]> {
    const result = await this.#readers.query<EventRow & { seq: string }>(
      "SELECT seq, id, time, type, agent_id, session_id, trace_id, hash, body FROM warden_events WHERE chain = $1 ORDER BY seq",
      [chain],
    );
    return result.rows.map((row) => ({ ...row, seq: Number(row.seq) }));
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    return this.#chain.head();
  }

  flush(): Promise<void> {
    return this.#chain.flush();
  }

  async close(): Promise<void> {
    if (this.#chain.closed) return;
    await this.#chain.close();
    // Ending the connection releases the chain's advisory lock.
    await this.#listener?.end().catch(() => {});
    await this.#writer.end().catch(() => {});
    await this.#readers.end().catch(() => {});
  }

  async #select(query: EventQuery, chain: string): Promise<StoredEvent[]> {
    const { sql, values } = whereClause(query, chain, query.afterSeq ?? 0, "seq");
    const result = await this.#readers.query<{ hash: string; body: string }>(
      `SELECT hash, body FROM warden_events WHERE ${sql} ORDER BY seq LIMIT $${values.length + 1}`,
      [...values, query.limit ?? 1000],
    );
    return result.rows.map((row) => ({
      ...(JSON.parse(row.body) as Omit<StoredEvent, "hash">),
      hash: row.hash,
    }));
  }

  /** One prepared statement per batch, bound and executed on the writer connection. */
  async #insert(rows: EventRow[]): Promise<void> {
    await this.#writer.query(insertBatch(this.chain, rows));
  }
}

/**
 * Columns Warden writes itself (ULID, ISO time, type, hex hash, canonical body) never hold a
 * control character: RFC 8785 escapes U+0000..U+001F inside strings. Joined with U+001E and
 * split by the server they need none of the quoting a text[] literal needs, which was the
 * largest cost of encoding a batch. Agent-supplied columns stay text[] literals.
 */
const recordSeparator = "\u001e";
const insertBatchText = `INSERT INTO warden_events (chain, seq, id, time, type, agent_id, session_id, trace_id, hash, body)
  SELECT $1, $2::bigint + r.n - 1, r.id, r.time, r.type, r.agent_id, r.session_id, r.trace_id, r.hash, r.body
    FROM unnest(string_to_array($3, chr(30)), string_to_array($4, chr(30)), string_to_array($5, chr(30)),
                $6::text[], $7::text[], $8::text[], string_to_array($9, chr(30)), string_to_array($10, chr(30)))
         WITH ORDINALITY AS r(id, time, type, agent_id, session_id, trace_id, hash, body, n)`;

/** The batch as one prepared INSERT: one row per event, seq counted up from the first (no parameter-count limit). */
function insertBatch(chain: string, rows: EventRow[]): pg.QueryConfig {
  const first = rows[0]!.seq;
  const joined = (key: "id" | "time" | "type" | "hash" | "body") => {
    for (const row of rows)
      if (row[key].length === 0 || row[key].includes(recordSeparator))
        throw new Error(`event ${row.seq}: ${key} cannot be sent as written`);
    return rows.map((row) => row[key]).join(recordSeparator);
  };
  rows.forEach((row, index) => {
    if (row.seq !== first + index) throw new Error(`batch is not contiguous at seq ${row.seq}`);
  });
  return {
    name: "warden-append",
    text: insertBatchText,
    values: [
      chain,
      first,
      joined("id"),
      joined("time"),
      joined("type"),
      rows.map((row) => row.agent_id),
      rows.map((row) => row.session_id),
      rows.map((row) => row.trace_id),
      joined("hash"),
      joined("body"),
    ],
  };
}

function whereClause(
  query: Omit<EventQuery, "afterSeq">,
  chain: string | null,
  after: number,
  afterColumn: "seq" | "position",
): { sql: string; values: unknown[] } {
  const values: unknown[] = [after];
  const conditions = [`${afterColumn} > $1`];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(condition(`$${values.length}`));
  };
  if (chain !== null) add((p) => `chain = ${p}`, chain);
  if (query.agentId !== undefined) add((p) => `agent_id = ${p}`, query.agentId);
  if (query.sessionId !== undefined) add((p) => `session_id = ${p}`, query.sessionId);
  if (query.types !== undefined && query.types.length > 0)
    add((p) => `type = ANY(${p}::text[])`, query.types);
  return { sql: conditions.join(" AND "), values };
}

async function migrate(client: pg.Client): Promise<void> {
  await client.query("SELECT pg_advisory_lock($1, 0)", [lockNamespace]);
  try {
    await client.query("CREATE TABLE IF NOT EXISTS warden_schema (version INTEGER NOT NULL)");
    const current = await client.query<{ version: number }>(
      "SELECT max(version) AS version FROM warden_schema",
    );
    const version = current.rows[0]?.version ?? 0;
    if (version > postgresMigrations.length)
      throw new WardenError(
        "store-unavailable",
        `store schema version ${version} is newer than this Warden (${postgresMigrations.length})`,
      );
    for (let index = version; index < postgresMigrations.length; index++) {
      await client.query("BEGIN");
      try {
        await client.query(postgresMigrations[index]!);
        await client.query("INSERT INTO warden_schema (version) VALUES ($1)", [index + 1]);
        await client.query("COMMIT");
      } catch (error) {
        await client.query("ROLLBACK");
        throw error;
      }
    }
  } finally {
    await client.query("SELECT pg_advisory_unlock($1, 0)", [lockNamespace]);
  }
}

/** A connection string without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "(unparseable connection string)";
  }
}

/**
 * Reads events from a PostgreSQL store without becoming a writer (no migrations, no chain lock):
 * what `warden log` and `trace` use. With `chain`, that chain in seq order (`afterSeq` is a seq
 * in it); without, every chain in commit order (`afterSeq` is then a `position`).
 */
export async function readPostgresEvents(
  url: string,
  query: EventQuery & { chain?: string },
): Promise<(StoredEvent & { chain: string; position: number })[]> {
  const client = await connectReader(url);
  try {
    const column = query.chain === undefined ? "position" : "seq";
    const { sql, values } = whereClause(query, query.chain ?? null, query.afterSeq ?? 0, column);
    const result = await client.query<{ hash: string; body: string; chain: string; position: string }>(
      `SELECT hash, body, chain, position FROM warden_events WHERE ${sql} ORDER BY ${column} LIMIT $${values.length + 1}`,
      [...values, query.limit ?? 1000],
    );
    return result.rows.map((row) => ({
      ...(JSON.parse(row.body) as Omit<StoredEvent, "hash">),
      hash: row.hash,
      chain: row.chain,
      position: Number(row.position),
    }));
  } catch (error) {
    throw noStoreError(error, url);
  } finally {
    await client.end().catch(() => {});
  }
}

/** A plain connection for reading (no migrations, no chain lock). */
export async function connectReader(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new WardenError(
      "store-unavailable",
      `cannot connect to PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`,
      { cause: error },
    );
  }
  return client;
}

/** A read on a database without Warden's tables says so; other errors pass through. */
export function noStoreError(error: unknown, url: string): unknown {
  if (/relation "warden_events" does not exist/.test((error as Error).message))
    return new WardenError("usage", `no Warden store in the database at ${redactUrl(url)}`);
  return error;
}
