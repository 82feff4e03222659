import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../core/events.js";
import { inspectAll, TestEvents } from "../test-events.js";
import { createRefusalSpikeDetector } from "./refusal-spike-detector.js";

const answer = "Here is the summary you asked for: the report covers revenue, costs and the forecast.";
const refusal = "I'm sorry, but I can't help with that.";

/** `count` replies of which every `every`-th is a refusal. */
function replies(events: TestEvents, count: number, every: number, agentId = "agent-1"): StoredEvent[] {
  return Array.from({ length: count }, (_, index) =>
    events.reply((index + 1) % every === 0 ? refusal : answer, { agentId }),
  );
}

describe("the refusal-spike detector", () => {
  it("reports a window whose refusals are improbable under the agent's baseline", () => {
    const events = new TestEvents();
    const detector = createRefusalSpikeDetector();
    expect(inspectAll(detector, replies(events, 200, 20))).toEqual([]);
    const findings = inspectAll(detector, replies(events, 20, 2));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      detector: "refusal-spike",
      refused: 10,
      window: 20,
      taskKind: "default",
    });
    expect(findings[0]!.pValue as number).toBeLessThan(1e-6);
  });

  it("does not report ordinary variation: a second refusal in a window", () => {
    const events = new TestEvents();
    const detector = createRefusalSpikeDetector();
    const findings = inspectAll(detector, [...replies(events, 200, 20), ...replies(events, 20, 10)]);
    expect(findings).toEqual([]);
  });

  it("keeps baselines per task kind", () => {
    const events = new TestEvents();
    const detector = createRefusalSpikeDetector();
    const kindOf = (kind: string, text: string) => {
      const span = `${kind}-${Math.random()}`;
      return [
        events.event(
          "model-request",
          {
            provider: "openai",
            model: "m",
            path: "/v1/chat/completions",
            body: { metadata: { task_kind: kind } },
          },
          "agent-1",
          "session-1",
          span,
        ),
        events.reply(text, { spanId: span }),
      ];
    };
    // The "moderation" kind refuses half the time, always: that is its baseline, not a spike.
    const history = Array.from({ length: 100 }, (_, index) =>
      kindOf("moderation", index % 2 === 0 ? refusal : answer),
    ).flat();
    expect(inspectAll(detector, history)).toEqual([]);
    expect(
      inspectAll(
        detector,
        Array.from({ length: 20 }, (_, index) =>
          kindOf("moderation", index % 2 === 0 ? refusal : answer),
        ).flat(),
      ),
    ).toEqual([]);
  });

  it("never lets evaluation traffic feed the production baseline, nor tests it", () => {
    const events = new TestEvents();
    const detector = createRefusalSpikeDetector();
    // A long evaluation run that refuses everything builds no baseline for the agent.
    expect(inspectAll(detector, replies(events, 200, 1, "eval:agent-1"))).toEqual([]);
    inspectAll(detector, replies(events, 200, 20));
    expect(inspectAll(detector, replies(events, 20, 2))).toHaveLength(1);
  });
});
