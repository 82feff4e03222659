import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventData, EventInput } from "../core/events.js";
import { silentLogger } from "../core/logger.js";
import { startDetectionPipeline } from "../detect/detection-pipeline.js";
import type { ClaimCheckReport } from "../detect/detector.js";
import { appendReport } from "../detect/record-reports.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { createClaimsDetector } from "./claims-detector.js";

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const identity = {
  agentId: "agent-1",
  sessionId: "session-1",
  traceId: "0".repeat(32),
  spanId: "1".repeat(16),
};

function openStore(directory: string): SqliteEventStore {
  return new SqliteEventStore({ file: path.join(directory, "events.sqlite") });
}

async function runPipeline(store: SqliteEventStore): Promise<void> {
  const pipeline = await startDetectionPipeline({
    store,
    detectors: [createClaimsDetector()],
    logger: silentLogger(),
    pollMilliseconds: 10,
  });
  await pipeline.caughtUp();
  await pipeline.stop();
}

/** A failing test run, then a reply claiming the tests pass and naming a file that was never written. */
async function recordFalseClaims(store: SqliteEventStore) {
  await store.append({
    type: "tool-call",
    ...identity,
    data: {
      callId: "c1",
      via: "mcp",
      method: "tools/call",
      server: "shell",
      tool: "run_command",
      arguments: { command: "npx vitest run" },
    },
  });
  const result = await store.append({
    type: "tool-result",
    ...identity,
    data: {
      callId: "c1",
      isError: true,
      latencyMs: 3,
      result: {
        content: [{ type: "text", text: " Tests  1 failed | 4 passed (5)" }],
        structuredContent: { exitCode: 1 },
      },
    },
  });
  const reply: EventInput<"model-response"> = {
    type: "model-response",
    ...identity,
    data: {
      provider: "openai",
      model: "m",
      status: 200,
      streamed: false,
      latencyMs: 5,
      body: {
        choices: [{ message: { role: "assistant", content: "I ran `npx vitest run`. All tests pass." } }],
      },
    },
  };
  const message = await store.append(reply);
  return { result, message };
}

function temporaryDirectory(): string {
  const directory = mkdtempSync(path.join(tmpdir(), "warden-claims-"));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

describe("claim checks in the detection pipeline", () => {
  it("records a claim-check per claim and a high finding linked to each contradicted one", async () => {
    const store = openStore(temporaryDirectory());
    cleanups.push(() => store.close());
    const { result, message } = await recordFalseClaims(store);
    await runPipeline(store);
    const checks = await store.read({ types: ["claim-check"] });
    expect(
      checks.map((event) => [
        (event.data as EventData<"claim-check">).kind,
        (event.data as EventData<"claim-check">).verdict,
      ]),
    ).toEqual([
      ["command-ran", "supported"],
      ["tests-pass", "contradicted"],
    ]);
    const contradicted = checks[1]!;
    expect(contradicted).toMatchObject({
      sessionId: "session-1",
      parentSpanId: message.spanId,
      data: {
        claim: "All tests pass.",
        message: { eventId: message.id, spanId: message.spanId },
        evidenceEventIds: [result.id],
        sourceSeq: message.seq,
      },
    });
    const findings = await store.read({ types: ["finding"] });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.data).toMatchObject({
      detector: "claims",
      severity: "high",
      claimCheckId: contradicted.id,
      evidence: [{ eventId: message.id }, { eventId: result.id }],
    });
    expect(findings[0]!.seq).toBeGreaterThan(contradicted.seq);
  });

  it("after a restart reports nothing twice, and after a crash between a claim check and its finding writes only the finding, linked to the recorded check", async () => {
    const directory = temporaryDirectory();
    let store = openStore(directory);
    await recordFalseClaims(store);
    await runPipeline(store);
    await runPipeline(store);
    expect(await store.read({ types: ["claim-check"] })).toHaveLength(2);
    expect(await store.read({ types: ["finding"] })).toHaveLength(1);
    await store.close();

    // What a crash after the claim checks and before the finding leaves: the checks alone.
    store = openStore(temporaryDirectory());
    cleanups.push(() => store.close());
    await recordFalseClaims(store);
    const detector = createClaimsDetector();
    const keys = new Map<string, string>();
    for (const event of await store.read({})) {
      const reports = detector.inspect(event, { evaluation: false }) as ClaimCheckReport[];
      for (const [ordinal, report] of reports.entries())
        await appendReport(store, {
          source: event,
          ordinal,
          report: { claimCheck: report.claimCheck },
          keys,
        });
    }
    await store.flush();
    expect(await store.read({ types: ["finding"] })).toHaveLength(0);
    await runPipeline(store);
    const checks = await store.read({ types: ["claim-check"] });
    expect(checks).toHaveLength(2);
    const findings = await store.read({ types: ["finding"] });
    expect(findings).toHaveLength(1);
    expect((findings[0]!.data as unknown as { claimCheckId: string }).claimCheckId).toBe(checks[1]!.id);
  });
});
