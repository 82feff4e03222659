import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../core/events.js";
import { inspectAll, TestEvents } from "../test-events.js";
import { createLatencyShiftDetector } from "./latency-shift-detector.js";

/** Replies whose latency is 200 ms + 2 ms per token (+ `extra`), with a little deterministic noise. */
function replies(
  events: TestEvents,
  count: number,
  extra: number,
  agentId = "agent-1",
  tokens = (index: number) => 50 + ((index * 37) % 400),
): StoredEvent[] {
  return Array.from({ length: count }, (_, index) => {
    const length = tokens(index);
    const noise = ((index * 7919) % 41) - 20;
    return events.reply("ok", { agentId, tokens: length, latencyMs: 200 + 2 * length + noise + extra });
  });
}

describe("the latency-shift detector", () => {
  it("reports a window slower than the baseline for the same output length", () => {
    const events = new TestEvents();
    const detector = createLatencyShiftDetector();
    expect(inspectAll(detector, replies(events, 100, 0))).toEqual([]);
    const findings = inspectAll(detector, replies(events, 20, 150));
    expect(findings).toHaveLength(1);
    expect(findings[0]!.meanExcessMs as number).toBeGreaterThan(120);
  });

  it("does not report longer answers that take longer in proportion", () => {
    const events = new TestEvents();
    const detector = createLatencyShiftDetector();
    inspectAll(detector, replies(events, 100, 0));
    expect(
      inspectAll(
        detector,
        replies(events, 20, 0, "agent-1", (index) => 900 + index),
      ),
    ).toEqual([]);
  });

  it("never lets evaluation traffic feed the production baseline", () => {
    const events = new TestEvents();
    const detector = createLatencyShiftDetector();
    inspectAll(detector, replies(events, 100, 0, "eval:agent-1"));
    expect(inspectAll(detector, replies(events, 20, 500, "eval:agent-1"))).toEqual([]);
  });
});
