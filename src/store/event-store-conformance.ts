import { describe, expect, it } from "vitest";
import type { EventStore } from "../core/event-store.js";
import type { EventInput } from "../core/events.js";
import { genesisHash } from "../core/hash-chain.js";

export interface ConformanceTarget {
  name: string;
  /** A fresh, empty store; `reopen` closes it and opens the same database again. */
  create(): Promise<{ store: EventStore; reopen(): Promise<EventStore>; cleanup(): Promise<void> }>;
}

export function sampleToolCall(
  index: number,
  sessionId = "session-1",
  agentId = "agent-1",
): EventInput<"tool-call"> {
  return {
    type: "tool-call",
    agentId,
    sessionId,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: `b7ad6b71692033${String(index % 100).padStart(2, "0")}`,
    data: {
      callId: `call-${index}`,
      via: "mcp",
      method: "tools/call",
      server: "fs",
      tool: "read_file",
      arguments: { path: `/tmp/${index}` },
    },
  };
}

/** The suite every EventStore implementation passes (SQLite now, PostgreSQL later). */
export function runEventStoreConformance(target: ConformanceTarget): void {
  describe(`EventStore conformance: ${target.name}`, () => {
    it("assigns gap-free seq numbers starting at 1 and chains each event to the previous hash", async () => {
      const { store, cleanup } = await target.create();
      const first = await store.append(sampleToolCall(1));
      const second = await store.append(sampleToolCall(2));
      expect(first.seq).toBe(1);
      expect(first.prevHash).toBe(genesisHash);
      expect(second.seq).toBe(2);
      expect(second.prevHash).toBe(first.hash);
      expect(await store.head()).toEqual({ seq: 2, hash: second.hash });
      await store.close();
      await cleanup();
    });

    it("keeps seq gap-free and ordered under many concurrent appends", async () => {
      const { store, cleanup } = await target.create();
      const results = await Promise.all(
        Array.from({ length: 500 }, (_, index) => store.append(sampleToolCall(index))),
      );
      const seqs = results.map((event) => event.seq).sort((a, b) => a - b);
      expect(seqs).toEqual(Array.from({ length: 500 }, (_, index) => index + 1));
      const stored = await store.read({ limit: 1000 });
      expect(stored.map((event) => event.seq)).toEqual(seqs);
      for (let index = 1; index < stored.length; index++)
        expect(stored[index]!.prevHash).toBe(stored[index - 1]!.hash);
      await store.close();
      await cleanup();
    });

    it("returns exactly what was appended when read back", async () => {
      const { store, cleanup } = await target.create();
      const appended = await store.append(sampleToolCall(7));
      const [read] = await store.read();
      expect(read).toEqual(appended);
      expect(read!.data).toEqual(sampleToolCall(7).data);
      await store.close();
      await cleanup();
    });

    it("filters reads by agent, session, type and position", async () => {
      const { store, cleanup } = await target.create();
      await store.append(sampleToolCall(1, "s-a", "agent-x"));
      await store.append(sampleToolCall(2, "s-b", "agent-y"));
      await store.append({
        ...sampleToolCall(3, "s-a", "agent-x"),
        type: "tool-result",
        data: { callId: "call-3", isError: false, latencyMs: 1, result: {} },
      });
      expect((await store.read({ sessionId: "s-a" })).map((event) => event.seq)).toEqual([1, 3]);
      expect((await store.read({ agentId: "agent-y" })).map((event) => event.seq)).toEqual([2]);
      expect((await store.read({ types: ["tool-result"] })).map((event) => event.seq)).toEqual([3]);
      expect((await store.read({ afterSeq: 1, limit: 1 })).map((event) => event.seq)).toEqual([2]);
      await store.close();
      await cleanup();
    });

    it("continues the same chain after being reopened", async () => {
      const { store, reopen, cleanup } = await target.create();
      const before = await store.append(sampleToolCall(1));
      const reopened = await reopen();
      const after = await reopened.append(sampleToolCall(2));
      expect(after.seq).toBe(2);
      expect(after.prevHash).toBe(before.hash);
      await reopened.close();
      await cleanup();
    });

    it("makes buffered appends durable by the next flush", async () => {
      const { store, reopen, cleanup } = await target.create();
      await store.append(sampleToolCall(1), { durability: "buffered" });
      await store.flush();
      const reopened = await reopen();
      expect(await reopened.read()).toHaveLength(1);
      await reopened.close();
      await cleanup();
    });

    it("rejects events that cannot be encoded as JSON and keeps the chain intact", async () => {
      const { store, cleanup } = await target.create();
      const bad = { ...sampleToolCall(1), data: { ...sampleToolCall(1).data, arguments: { value: 10n } } };
      await expect(store.append(bad as never)).rejects.toThrow(/cannot be encoded/);
      const good = await store.append(sampleToolCall(2));
      expect(good.seq).toBe(1);
      await store.close();
      await cleanup();
    });

    it("refuses appends after close", async () => {
      const { store, cleanup } = await target.create();
      await store.close();
      await expect(store.append(sampleToolCall(1))).rejects.toThrow(/closed/);
      await cleanup();
    });
  });
}
