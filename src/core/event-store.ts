import type { EventInput, EventType, StoredEvent } from "./events.js";

export interface EventQuery {
  afterSeq?: number;
  limit?: number;
  agentId?: string;
  sessionId?: string;
  types?: EventType[];
}

export interface AppendOptions {
  /**
   * `durable` (default) resolves once the event is on disk (fsync); `buffered` resolves once
   * it is ordered and hashed, and is flushed with the next group commit. Model traffic is
   * buffered; tool calls, decisions and results are durable.
   */
  durability?: "durable" | "buffered";
}

/**
 * The append-only, hash-chained log. Small on purpose: every implementation (SQLite,
 * PostgreSQL) passes the same conformance suite.
 */
export interface EventStore {
  append<T extends EventType>(input: EventInput<T>, options?: AppendOptions): Promise<StoredEvent<T>>;
  read(query?: EventQuery): Promise<StoredEvent[]>;
  head(): Promise<{ seq: number; hash: string } | null>;
  /**
   * Retention: the newest checkpoint written before `before` (an ISO time), and how many events
   * precede it, or null when there is nothing to remove. Stores without retention omit it.
   */
  retentionCut?(before: string): Promise<{ checkpointSeq: number; removable: number } | null>;
  /** Removes every event before the checkpoint at `checkpointSeq` (after a `retention-prune` event). */
  pruneBefore?(checkpointSeq: number): Promise<number>;
  /** Waits until every event appended so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
