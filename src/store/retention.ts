import type { EventStore } from "../core/event-store.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";

export interface RetentionOutcome {
  removedThroughSeq: number;
  removedEvents: number;
}

/**
 * Removes events older than `days`, up to the newest checkpoint written before that boundary.
 * The removal is recorded first (a durable `retention-prune` event naming the range), so a crash
 * between record and removal leaves a whole log; afterwards the log starts at that checkpoint,
 * whose signed head the next event chains to, and `verify` accepts the shortened log only
 * because the retention-prune event accounts for exactly the missing range.
 */
export async function applyRetention(options: {
  store: EventStore;
  days: number;
  logger: Logger;
  now?: Date;
}): Promise<RetentionOutcome | null> {
  const { store } = options;
  if (store.retentionCut === undefined || store.pruneBefore === undefined) return null;
  const now = options.now ?? new Date();
  const olderThan = new Date(now.getTime() - options.days * 86_400_000).toISOString();
  const cut = await store.retentionCut(olderThan);
  if (cut === null) return null;
  await store.append({
    type: "retention-prune",
    agentId: "warden",
    sessionId: "retention",
    traceId: newTraceId(),
    spanId: newSpanId(),
    data: {
      removedThroughSeq: cut.checkpointSeq - 1,
      removedEvents: cut.removable,
      olderThan,
      retentionDays: options.days,
    },
  });
  const removed = await store.pruneBefore(cut.checkpointSeq);
  options.logger.info(
    { removedThroughSeq: cut.checkpointSeq - 1, removedEvents: removed, olderThan },
    "retention removed old events",
  );
  return { removedThroughSeq: cut.checkpointSeq - 1, removedEvents: removed };
}
