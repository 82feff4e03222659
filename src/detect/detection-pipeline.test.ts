import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventInput, StoredEvent } from "../core/events.js";
import { silentLogger } from "../core/logger.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { type DetectionPipeline, startDetectionPipeline } from "./detection-pipeline.js";
import type { Detector, DetectorContext } from "./detector.js";
import { createRefusalDetector } from "./refusal/refusal-detector.js";
import { createUnexpectedToolDetector } from "./unexpected-tool/unexpected-tool-detector.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function openStore(directory?: string): { store: SqliteEventStore; directory: string } {
  const root = directory ?? mkdtempSync(path.join(tmpdir(), "warden-detect-"));
  if (!directory) cleanups.push(() => rmSync(root, { recursive: true, force: true }));
  const store = new SqliteEventStore({ file: path.join(root, "events.sqlite") });
  return { store, directory: root };
}

async function start(store: SqliteEventStore, detectors: Detector[]): Promise<DetectionPipeline> {
  const pipeline = await startDetectionPipeline({
    store,
    detectors,
    logger: silentLogger(),
    pollMilliseconds: 10,
  });
  cleanups.unshift(() => pipeline.stop());
  return pipeline;
}

function reply(text: string, agentId = "agent-1"): EventInput<"model-response"> {
  return {
    type: "model-response",
    agentId,
    sessionId: "session-1",
    traceId: "0".repeat(32),
    spanId: "1".repeat(16),
    data: {
      provider: "openai",
      model: "gpt-test",
      status: 200,
      streamed: false,
      latencyMs: 5,
      body: { choices: [{ message: { role: "assistant", content: text } }] },
    },
  };
}

const toolCall: EventInput<"tool-call"> = {
  type: "tool-call",
  agentId: "agent-1",
  sessionId: "session-1",
  traceId: "0".repeat(32),
  spanId: "2".repeat(16),
  data: { callId: "c1", via: "mcp", method: "tools/call", server: "files", tool: "read", arguments: {} },
};

const findingsIn = async (store: SqliteEventStore) => store.read({ types: ["finding"] });

/** A detector that reports every model-response it sees, twice, and remembers the contexts. */
function countingDetector(name = "counting"): Detector & { seen: [number, DetectorContext][] } {
  const seen: [number, DetectorContext][] = [];
  return {
    name,
    eventTypes: ["model-response"],
    seen,
    inspect(event: StoredEvent, context: DetectorContext) {
      seen.push([event.seq, context]);
      return [0, 1].map((part) => ({
        detector: name,
        severity: "low" as const,
        explanation: `part ${part}`,
        evidence: [{ eventId: event.id }],
      }));
    },
  };
}

describe("the detection pipeline", () => {
  it("appends a refusal finding for a refusing reply, linked to it, and none for an answer", async () => {
    const { store } = openStore();
    cleanups.unshift(() => store.close());
    const refused = await store.append(reply("I'm sorry, but I can't help with that request."));
    await store.append(reply("The capital of France is Paris."));
    await store.append(toolCall);
    const pipeline = await start(store, [createRefusalDetector()]);
    await pipeline.caughtUp();
    const findings = await findingsIn(store);
    expect(findings).toHaveLength(1);
    const [finding] = findings;
    expect(finding).toMatchObject({
      agentId: "agent-1",
      sessionId: "session-1",
      traceId: refused.traceId,
      parentSpanId: refused.spanId,
      data: { detector: "refusal", severity: "info", sourceSeq: refused.seq, sourceEventId: refused.id },
    });
    const evidence = (
      finding!.data as unknown as { evidence: { eventId: string; field: string; label: string }[] }
    ).evidence;
    expect(evidence.map((item) => item.label)).toContain("inability");
    expect(evidence.every((item) => item.eventId === refused.id)).toBe(true);
    expect(evidence[0]!.field).toBe("body.choices[0].message.content");
  });

  it("keeps reading new events after catching up", async () => {
    const { store } = openStore();
    cleanups.unshift(() => store.close());
    const pipeline = await start(store, [createRefusalDetector()]);
    await pipeline.caughtUp();
    expect(await findingsIn(store)).toHaveLength(0);
    await store.append(reply("I cannot assist with that."));
    await pipeline.caughtUp();
    expect(await findingsIn(store)).toHaveLength(1);
    // Its own findings are not inspected again, and nothing is reported twice.
    await pipeline.caughtUp();
    expect(await findingsIn(store)).toHaveLength(1);
  });

  it("survives a detector that throws or rejects, and still runs the others on that event", async () => {
    const { store } = openStore();
    cleanups.unshift(() => store.close());
    const throwing: Detector = {
      name: "throwing",
      eventTypes: ["model-response"],
      inspect: () => {
        throw new Error("boom");
      },
    };
    const rejecting: Detector = {
      name: "rejecting",
      eventTypes: ["model-response"],
      inspect: async () => Promise.reject(new Error("async boom")),
    };
    const counting = countingDetector();
    await store.append(reply("one"));
    await store.append(reply("two"));
    const pipeline = await start(store, [throwing, rejecting, counting]);
    await pipeline.caughtUp();
    expect(counting.seen.map(([seq]) => seq)).toEqual([1, 2]);
    expect(await findingsIn(store)).toHaveLength(4);
  });

  it("drops a malformed finding instead of writing it", async () => {
    const { store } = openStore();
    cleanups.unshift(() => store.close());
    const malformed: Detector = {
      name: "malformed",
      eventTypes: ["model-response"],
      inspect: () => [
        { detector: "malformed", severity: "apocalyptic", explanation: "x", evidence: [] } as never,
      ],
    };
    await store.append(reply("one"));
    const pipeline = await start(store, [malformed, countingDetector()]);
    await pipeline.caughtUp();
    const findings = await findingsIn(store);
    expect(findings.map((event) => (event.data as { detector: string }).detector)).toEqual([
      "counting",
      "counting",
    ]);
  });

  it("marks evaluation traffic (agent ids starting eval:) so it never feeds baselines", async () => {
    const { store } = openStore();
    cleanups.unshift(() => store.close());
    const counting = countingDetector();
    await store.append(reply("one", "agent-1"));
    await store.append(reply("two", "eval:scheming-pack"));
    const pipeline = await start(store, [counting]);
    await pipeline.caughtUp();
    expect(counting.seen.map(([, context]) => context.evaluation)).toEqual([false, true]);
  });

  it("resumes after a restart without repeating or losing findings", async () => {
    const { store, directory } = openStore();
    await store.append(reply("one"));
    await store.append(reply("two"));
    const first = countingDetector();
    let pipeline = await start(store, [first]);
    await pipeline.caughtUp();
    await pipeline.stop();
    const third = await store.append(reply("three"));
    expect(third.seq).toBe(7); // after two replies and their four findings
    await store.close();

    const reopened = openStore(directory).store;
    cleanups.unshift(() => reopened.close());
    const second = countingDetector();
    pipeline = await start(reopened, [second]);
    await pipeline.caughtUp();
    // Event 2 (the last one reported) is looked at again; its findings are not written again.
    expect(second.seen.map(([seq]) => seq)).toEqual([2, 7]);
    const findings = await findingsIn(reopened);
    const reported = findings.map((event) => (event.data as unknown as { sourceSeq: number }).sourceSeq);
    expect(reported).toEqual([1, 1, 2, 2, 7, 7]);
  });

  it("after a crash between two findings of one event, writes only the missing one", async () => {
    const { store, directory } = openStore();
    const source = await store.append(reply("one"));
    // What a crash after the first of the event's two findings leaves in the log.
    await store.append({
      type: "finding",
      agentId: "agent-1",
      sessionId: "session-1",
      traceId: source.traceId,
      spanId: "3".repeat(16),
      data: {
        detector: "counting",
        severity: "low",
        explanation: "part 0",
        evidence: [{ eventId: source.id }],
        ordinal: 0,
        sourceSeq: source.seq,
        sourceEventId: source.id,
      },
    });
    await store.close();
    const reopened = openStore(directory).store;
    cleanups.unshift(() => reopened.close());
    const pipeline = await start(reopened, [countingDetector()]);
    await pipeline.caughtUp();
    const findings = await findingsIn(reopened);
    expect(findings.map((event) => (event.data as { explanation: string }).explanation)).toEqual([
      "part 0",
      "part 1",
    ]);
  });

  it("reads in bounded batches and still sees every event", async () => {
    const { store } = openStore();
    cleanups.unshift(() => store.close());
    for (let index = 0; index < 25; index++) void store.append(reply(`reply ${index}`));
    await store.flush();
    const counting = countingDetector();
    const pipeline = await startDetectionPipeline({
      store,
      detectors: [counting],
      logger: silentLogger(),
      pollMilliseconds: 10,
      batchSize: 4,
    });
    cleanups.unshift(() => pipeline.stop());
    await pipeline.caughtUp();
    expect(counting.seen.map(([seq]) => seq)).toEqual(Array.from({ length: 25 }, (_, index) => index + 1));
    expect(pipeline.cursor).toBe(25);
  });
});

describe("the detection pipeline with stateful detectors", () => {
  const call = (tool: string, index: number): EventInput<"tool-call"> => ({
    ...toolCall,
    data: { ...toolCall.data, callId: `c-${tool}-${index}`, tool },
  });

  it("rebuilds baselines after a restart and reports nothing twice", async () => {
    const { store, directory } = openStore();
    for (let index = 0; index < 30; index++)
      await store.append(call(index % 2 === 0 ? "read" : "edit", index));
    await store.append(call("copy_weights", 99));
    let pipeline = await start(store, [createUnexpectedToolDetector({ minimumHistory: 20 })]);
    await pipeline.caughtUp();
    expect(
      (await findingsIn(store)).map((event) => (event.data as unknown as { kind: string }).kind),
    ).toEqual(["never-seen"]);
    await pipeline.stop();
    await store.append(call("exfiltrate", 100));
    await store.close();

    const reopened = openStore(directory).store;
    cleanups.unshift(() => reopened.close());
    // A fresh detector: without the replay it would have no history and report nothing.
    pipeline = await start(reopened, [createUnexpectedToolDetector({ minimumHistory: 20 })]);
    await pipeline.caughtUp();
    const tools = (await findingsIn(reopened)).map(
      (event) => (event.data as unknown as { tool: string }).tool,
    );
    expect(tools).toEqual(["files/copy_weights", "files/exfiltrate"]);
  });
});
