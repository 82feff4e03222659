import { describe, expect, it } from "vitest";
import type { EventData, StoredEvent } from "../core/events.js";
import { describeEvent } from "./format-event.js";

function stored(type: string, data: unknown): StoredEvent {
  return {
    id: "01EVENT",
    seq: 7,
    time: "2026-12-03T10:00:00.000Z",
    traceId: "0".repeat(32),
    spanId: "1".repeat(16),
    agentId: "agent-1",
    sessionId: "session-1",
    type,
    data,
    prevHash: "",
    hash: "",
  } as StoredEvent;
}

describe("describeEvent", () => {
  it("shows a claim check's verdict, kind, claim and reason", () => {
    const data: EventData<"claim-check"> = {
      claim: "All tests pass.",
      kind: "tests-pass",
      verdict: "contradicted",
      reason: "the last test run (`npx vitest run`) failed: 2 failed, exit code 1",
      message: { eventId: "01REPLY", spanId: "2".repeat(16), span: [0, 15] },
      evidenceEventIds: ["01RESULT"],
      detector: "claims",
    };
    expect(describeEvent(stored("claim-check", data))).toBe(
      'CONTRADICTED tests-pass: "All tests pass." (the last test run (`npx vitest run`) failed: 2 failed, exit code 1)',
    );
  });

  it("shows an audit verdict with its trigger, the votes cast and any problem", () => {
    const data: EventData<"audit-verdict"> = {
      verdict: "inconclusive",
      trigger: "gate",
      votes: { aligned: 1, misaligned: 1, deceptive: 0, invalid: 1 },
      agreement: 0.5,
      disagreement: true,
      quotes: [],
      concerns: [],
      goal: "g",
      promptVersion: "warden-auditor/2",
      models: ["m"],
      throughSeq: 6,
      problem: "the audit timed out after 2000 ms",
    };
    expect(describeEvent(stored("audit-verdict", data))).toBe(
      "INCONCLUSIVE by the auditor (gate; aligned 1, misaligned 1, invalid 1; samples disagreed): the audit timed out after 2000 ms",
    );
  });
});
