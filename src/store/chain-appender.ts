import { WardenError } from "../core/errors.js";
import type { AppendOptions } from "../core/event-store.js";
import type { EventInput, EventType, StoredEvent } from "../core/events.js";
import { canonicalEventBody, hashEventBody } from "../core/hash-chain.js";
import { createIdFactory } from "../core/ids.js";

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

export interface ChainAppenderOptions {
  /** The chain's head as stored (seq 0 and the genesis hash when empty). */
  head: { seq: number; hash: string };
  /** Writes one batch durably, all or nothing; the next batch waits for it. */
  commit: (rows: EventRow[]) => Promise<void>;
  /** Applied to event data before hashing (secret fingerprints). */
  redact?: (data: unknown) => unknown;
  now?: () => Date;
}

/**
 * What every store does the same way: appends are hashed and ordered synchronously, then
 * committed in one batch per event-loop turn (appends arriving during a commit form the next
 * batch). A durable append resolves after its batch's commit; a buffered one at once. A failed
 * commit poisons the chain: its in-memory head already counts those events, so it can no longer
 * be extended safely, and every later append is refused (fail closed).
 */
export class ChainAppender {
  readonly #commit: (rows: EventRow[]) => Promise<void>;
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

  constructor(options: ChainAppenderOptions) {
    this.#commit = options.commit;
    this.#redact = options.redact ?? ((data) => data);
    this.#now = options.now ?? (() => new Date());
    this.#headSeq = options.head.seq;
    this.#headHash = options.head.hash;
  }

  get closed(): boolean {
    return this.#closed;
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
      // The caller does not wait for the disk; a failed commit poisons the chain instead.
      durable.catch(() => {});
      return Promise.resolve(event);
    }
    return durable.then(() => event);
  }

  head(): { seq: number; hash: string } | null {
    return this.#headSeq === 0 ? null : { seq: this.#headSeq, hash: this.#headHash };
  }

  /** Waits until every event appended so far is committed. */
  flush(): Promise<void> {
    if (!this.#flushScheduled && !this.#committing && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /** Flushes, then refuses further appends. */
  async close(): Promise<void> {
    await this.flush();
    this.#closed = true;
  }

  /** Refuses every later append with `error` (e.g. the store's connection was lost). */
  poison(error: Error): void {
    this.#failure ??= error;
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
    this.#commit(batch.map((pending) => pending.row))
      .then(
        () => {
          for (const pending of batch) pending.resolve();
        },
        (error: Error) => {
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
