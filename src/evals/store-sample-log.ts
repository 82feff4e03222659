import type { EventStore } from "../core/event-store.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { ModelReply } from "./model-client.js";
import type { SampleLog, SampleRecord } from "./run-evaluation.js";

/** Every `eval-sample` event in the store, oldest first. */
export async function readSampleRecords(store: Pick<EventStore, "read">): Promise<SampleRecord[]> {
  const records: SampleRecord[] = [];
  let afterSeq = 0;
  for (;;) {
    const page = await store.read({ types: ["eval-sample"], afterSeq, limit: 1000 });
    for (const event of page) records.push(event.data as unknown as SampleRecord);
    if (page.length < 1000) return records;
    afterSeq = page.at(-1)!.seq;
  }
}

/**
 * Samples as `eval-sample` events (durable, hash-chained like everything else): a run is
 * resumable from the store, and the calls' replies are the response cache.
 */
export function createStoreSampleLog(store: EventStore): SampleLog {
  let all: Promise<SampleRecord[]> | null = null;
  const load = () => {
    all ??= readSampleRecords(store);
    return all;
  };
  return {
    async recorded(runId) {
      // The last record of a (scenario, condition, sample) wins: a failed sample retried on resume.
      const latest = new Map<string, SampleRecord>();
      for (const record of await load()) {
        if (record.runId === runId)
          latest.set(`${record.scenario}/${record.condition}/${record.sample}`, record);
      }
      return [...latest.values()];
    },
    async cachedReplies() {
      const replies = new Map<string, ModelReply>();
      for (const record of await load())
        for (const call of record.calls ?? []) replies.set(call.cacheKey, call.reply);
      return replies;
    },
    async record(sample) {
      await store.append({
        type: "eval-sample",
        agentId: `eval:${sample.scenario}`,
        sessionId: sample.sessionId,
        traceId: newTraceId(),
        spanId: newSpanId(),
        data: sample as unknown as { scenario: string },
      });
    },
  };
}
