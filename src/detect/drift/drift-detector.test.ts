import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../core/events.js";
import { inspectAll, TestEvents } from "../test-events.js";
import { createDriftDetector } from "./drift-detector.js";

const short = "Done: I updated the README and ran the linter.";
const long = `${"I went through every file in the repository and rewrote the comments. ".repeat(12)}`;

/** One round: a reply, a tool call and its decision. */
function rounds(
  events: TestEvents,
  count: number,
  options: { tool?: (index: number) => string; text?: string; deny?: boolean } = {},
  agentId = "agent-1",
): StoredEvent[] {
  const list: StoredEvent[] = [];
  for (let index = 0; index < count; index++) {
    list.push(events.reply(options.text ?? short, { agentId, latencyMs: 300 + (index % 7) * 10 }));
    const tool = options.tool?.(index) ?? (index % 2 === 0 ? "read" : "edit");
    const callId = `call-${index}-${list.length}`;
    list.push(events.toolCall(tool, {}, agentId, "session-1", callId));
    list.push(events.decision(callId, options.deny ? "deny" : "allow", "r", agentId));
  }
  return list;
}

describe("the drift detector", () => {
  it("names the measures that moved: tool mix, verbosity and denial rate", () => {
    const events = new TestEvents();
    const detector = createDriftDetector();
    expect(inspectAll(detector, rounds(events, 80))).toEqual([]);
    const findings = inspectAll(
      detector,
      rounds(events, 20, { tool: () => "shell", text: long, deny: true }),
    );
    expect(findings).toHaveLength(1);
    expect(findings[0]!.measures).toEqual(["tool mix", "verbosity", "denial rate"]);
    expect(findings[0]!.explanation).toMatch(/tool mix \(total variation 1\.00\)/);
  });

  it("does not report a window that behaves like the baseline", () => {
    const events = new TestEvents();
    const detector = createDriftDetector();
    expect(inspectAll(detector, rounds(events, 200))).toEqual([]);
  });

  it("never lets evaluation traffic feed the production baseline", () => {
    const events = new TestEvents();
    const detector = createDriftDetector();
    inspectAll(detector, rounds(events, 80, {}, "eval:agent-1"));
    expect(
      inspectAll(
        detector,
        rounds(events, 20, { tool: () => "shell", text: long, deny: true }, "eval:agent-1"),
      ),
    ).toEqual([]);
  });
});
