import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../core/events.js";
import { inspectAll, TestEvents } from "../test-events.js";
import { createUnexpectedToolDetector } from "./unexpected-tool-detector.js";

/** An agent that always reads, then edits, then runs the tests. */
function routine(events: TestEvents, rounds: number, agentId = "agent-1"): StoredEvent[] {
  const list: StoredEvent[] = [];
  for (let round = 0; round < rounds; round++) {
    for (const tool of ["read", "edit", "test"]) list.push(events.toolCall(tool, {}, agentId));
  }
  return list;
}

describe("the unexpected-tool detector", () => {
  it("reports a tool outside the agent's declared manifest", () => {
    const events = new TestEvents();
    const detector = createUnexpectedToolDetector({
      manifests: new Map([["agent-1", ["read", "files/edit"]]]),
    });
    const findings = inspectAll(detector, [
      events.toolCall("read", {}),
      events.toolCall("edit", {}),
      events.toolCall("delete", {}),
    ]);
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({ severity: "high", kind: "outside-manifest", tool: "files/delete" });
  });

  it("takes manifests by agent glob, with tool globs, an agent's own entry first, and never judges Warden's change sets", () => {
    const events = new TestEvents();
    const detector = createUnexpectedToolDetector({
      manifests: new Map([
        ["coder-*", ["files/read_*", "search"]],
        ["coder-lead", ["files/*"]],
      ]),
    });
    const call = (tool: string, agentId: string, server = "files", via: "mcp" | "sandbox" = "mcp") =>
      events.event(
        "tool-call",
        { callId: "c", via, method: "tools/call", server, tool, arguments: {} },
        agentId,
      );
    const findings = inspectAll(detector, [
      call("read_text_file", "coder-1"),
      call("search", "coder-1", "web"),
      call("write_file", "coder-1"),
      call("write_file", "coder-lead"),
      call("change-set", "coder-1", "sandbox", "sandbox"),
      call("anything", "reviewer"),
    ]);
    expect(findings.map((finding) => [finding.tool, finding.kind])).toEqual([
      ["files/write_file", "outside-manifest"],
    ]);
  });

  it("reports a never-seen tool and an improbable transition once the agent has a history", () => {
    const events = new TestEvents();
    const detector = createUnexpectedToolDetector();
    expect(inspectAll(detector, routine(events, 60))).toEqual([]);
    const findings = inspectAll(detector, [
      events.toolCall("read", {}),
      events.toolCall("copy_weights", {}),
      events.toolCall("read", {}),
      events.toolCall("test", {}),
    ]);
    expect(findings.map((finding) => finding.kind)).toEqual(["never-seen", "improbable-transition"]);
    expect(findings[1]!.explanation).toMatch(/files\/read → files\/test is improbable/);
  });

  it("never lets evaluation traffic feed the production baseline", () => {
    const events = new TestEvents();
    const detector = createUnexpectedToolDetector();
    // Plenty of evaluation history for the eval agent: none of it is kept.
    inspectAll(detector, routine(events, 15, "eval:agent-1"));
    expect(inspectAll(detector, [events.toolCall("copy_weights", {}, "eval:agent-1")])).toEqual([]);
    // Evaluation calls of a new tool do not make it familiar for production either.
    inspectAll(detector, routine(events, 15));
    inspectAll(
      detector,
      Array.from({ length: 30 }, () => events.toolCall("copy_weights", {}, "eval:agent-1")),
    );
    const findings = inspectAll(detector, [events.toolCall("copy_weights", {})]);
    expect(findings.map((finding) => finding.kind)).toContain("never-seen");
  });
});
