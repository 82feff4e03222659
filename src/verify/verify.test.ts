import { describe, expect, it } from "vitest";
import type { EventData, StoredEvent } from "../core/events.js";
import type { ClaimCheckReport } from "../detect/detector.js";
import { TestEvents } from "../detect/test-events.js";
import { checkClaim } from "./check-claims.js";
import { createClaimsDetector } from "./claims-detector.js";
import { extractClaims } from "./extract-claims.js";
import { SessionEvidence } from "./session-evidence.js";
import { parseTestOutput, recognisedTestCommand } from "./test-runner-output.js";

const outputs = {
  vitest:
    " ✓ src/a.test.ts (3 tests) 12ms\n\n Test Files  1 passed (1)\n      Tests  3 passed (3)\n   Duration  310ms",
  vitestFailed: " Test Files  1 failed | 1 passed (2)\n      Tests  2 failed | 5 passed (7)\n",
  jest: "PASS src/a.test.js\nTest Suites: 1 passed, 1 total\nTests:       4 passed, 4 total\nSnapshots:   0 total\n",
  jestFailed: "Tests:       1 failed, 3 passed, 4 total\n",
  nodeTest: "TAP version 13\nok 1 - adds\n1..2\n# tests 2\n# suites 0\n# pass 2\n# fail 0\n",
  pytest:
    "collected 5 items\n\ntests/test_a.py .....\n\n============================== 5 passed in 0.03s ===============================\n",
  pytestFailed: "========================= 1 failed, 4 passed in 0.05s ==========================\n",
  goTest: "ok  \texample.com/pkg\t0.012s\nok  \texample.com/other\t(cached)\n",
  goFailed: "--- FAIL: TestAdd (0.00s)\nFAIL\nFAIL\texample.com/pkg\t0.010s\n",
  cargo:
    "running 3 tests\ntest a ... ok\n\ntest result: ok. 3 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.00s\n",
};

describe("test runner output", () => {
  it.each([
    [outputs.vitest, "vitest", 3, 0],
    [outputs.vitestFailed, "vitest", 5, 2],
    [outputs.jest, "jest", 4, 0],
    [outputs.jestFailed, "jest", 3, 1],
    [outputs.nodeTest, "node:test", 2, 0],
    [outputs.pytest, "pytest", 5, 0],
    [outputs.pytestFailed, "pytest", 4, 1],
    [outputs.goTest, "go test", 2, 0],
    [outputs.goFailed, "go test", 0, 2],
    [outputs.cargo, "cargo test", 3, 0],
  ])("parses a summary (%#: %s)", (output, runner, passed, failed) => {
    expect(parseTestOutput(output)).toEqual({ runner, passed, failed });
  });

  it("recognises runners invoked on their own, and nothing a shell could fake", () => {
    expect(recognisedTestCommand("npx vitest run")).toBe("vitest");
    expect(recognisedTestCommand("CI=1 npm test")).toBe("script");
    expect(recognisedTestCommand("python -m pytest -q")).toBe("pytest");
    expect(recognisedTestCommand("go test ./...")).toBe("go test");
    expect(recognisedTestCommand("node --test test/")).toBe("node:test");
    expect(recognisedTestCommand('echo "10 passed"')).toBeNull();
    expect(recognisedTestCommand("npx vitest run || true")).toBeNull();
    expect(recognisedTestCommand("npx vitest run; echo ok")).toBeNull();
    expect(recognisedTestCommand("npm test > /dev/null")).toBeNull();
    expect(recognisedTestCommand("cat results.txt")).toBeNull();
  });
});

describe("claim extraction", () => {
  it("finds what an agent says it did", () => {
    const claims = extractClaims(
      "I updated `src/parser.ts` and created test/parser.test.ts. All tests pass and the build succeeded. I did not change package.json. I ran `npm run lint`. Deployed to staging. The task is complete.",
    );
    expect(claims.map((claim) => [claim.kind, claim.subject ?? null])).toEqual([
      ["file-changed", "src/parser.ts"],
      ["file-created", "test/parser.test.ts"],
      ["tests-pass", null],
      ["build-succeeded", null],
      ["file-unchanged", "package.json"],
      ["command-ran", "npm run lint"],
      ["deployed", null],
      ["task-complete", null],
    ]);
  });

  it("finds a test claim spread over a sentence", () => {
    expect(extractClaims("I ran the tests and they all pass.").map((claim) => claim.kind)).toEqual([
      "tests-pass",
    ]);
    expect(extractClaims("Ran the unit tests: all pass.").map((claim) => claim.kind)).toEqual(["tests-pass"]);
  });

  it("does not take negated or hoped-for success, or questions, as claims", () => {
    expect(
      extractClaims("The tests do not pass yet. Once the build succeeds I will deploy. Do all tests pass?"),
    ).toEqual([]);
    expect(extractClaims("I couldn't get the tests to pass.")).toEqual([]);
  });
});

/** A session's record: a command tool call and its result, as the MCP proxy records them. */
function commandRun(
  events: TestEvents,
  command: string,
  output: string,
  exitCode: number | null,
): StoredEvent[] {
  const call = events.toolCall("run_command", { command });
  const callId = (call.data as EventData<"tool-call">).callId;
  const structuredContent = exitCode === null ? { stdout: output } : { stdout: output, exitCode };
  return [
    call,
    events.event("tool-result", {
      callId,
      isError: exitCode !== null && exitCode !== 0,
      latencyMs: 5,
      result: { content: [{ type: "text", text: output }], structuredContent },
    }),
  ];
}
function fileWrite(events: TestEvents, path: string, tool = "write_file"): StoredEvent[] {
  const call = events.toolCall(tool, { path, content: "x" });
  return [
    call,
    events.event("tool-result", {
      callId: (call.data as EventData<"tool-call">).callId,
      isError: false,
      latencyMs: 1,
      result: { content: [{ type: "text", text: "ok" }] },
    }),
  ];
}
function judge(claimText: string, record: StoredEvent[]) {
  const evidence = new SessionEvidence();
  for (const event of record) evidence.add(event);
  return extractClaims(claimText).map((claim) => checkClaim(claim, evidence));
}

describe("claim checking", () => {
  it("supports 'tests pass' from a recognised runner with exit code 0 after the last change", () => {
    const events = new TestEvents();
    const [check] = judge("All tests pass.", [
      ...fileWrite(events, "src/a.ts"),
      ...commandRun(events, "npx vitest run", outputs.vitest, 0),
    ]);
    expect(check).toMatchObject({ verdict: "supported" });
    expect(check!.reason).toMatch(/vitest: 3 passed/);
  });

  it("contradicts 'tests pass' when the last run failed", () => {
    const events = new TestEvents();
    const [check] = judge(
      "All tests pass now.",
      commandRun(events, "npx vitest run", outputs.vitestFailed, 1),
    );
    expect(check!.verdict).toBe("contradicted");
    expect(check!.reason).toMatch(/2 failed/);
  });

  it("never takes printed output or a runner hidden behind a shell operator as evidence", () => {
    const events = new TestEvents();
    const printed = judge(
      "All tests pass.",
      commandRun(events, 'echo "Tests  10 passed (10)"', "Tests  10 passed (10)", 0),
    );
    expect(printed[0]!.verdict).toBe("unverifiable");
    const masked = judge(
      "All tests pass.",
      commandRun(events, "npx vitest run || true", outputs.vitestFailed, 0),
    );
    expect(masked[0]!.verdict).toBe("unverifiable");
  });

  it("does not let a run vouch for changes made after it", () => {
    const events = new TestEvents();
    const [check] = judge("All tests pass.", [
      ...commandRun(events, "npm test", outputs.jest, 0),
      ...fileWrite(events, "src/late.ts"),
    ]);
    expect(check!.verdict).toBe("unverifiable");
    expect(check!.reason).toMatch(/before the last change \(src\/late\.ts\)/);
  });

  it("wants a recorded exit code for support", () => {
    const events = new TestEvents();
    expect(judge("The tests pass.", commandRun(events, "pytest", outputs.pytest, null))[0]!.verdict).toBe(
      "unverifiable",
    );
  });

  it("checks file claims against the recorded changes", () => {
    const events = new TestEvents();
    const record = [...fileWrite(events, "/work/src/a.ts"), ...fileWrite(events, "src/b.ts", "delete_file")];
    const checks = judge(
      "I created src/a.ts. I updated src/c.ts. I did not change src/b.ts. I deleted src/b.ts.",
      record,
    );
    expect(checks.map((check) => [check.claim.kind, check.verdict])).toEqual([
      ["file-created", "supported"],
      ["file-changed", "contradicted"],
      ["file-unchanged", "contradicted"],
      ["file-deleted", "supported"],
    ]);
  });

  it("contradicts a completed task whose last build failed", () => {
    const events = new TestEvents();
    const checks = judge(
      "The build succeeded and the task is complete.",
      commandRun(events, "npm run build", "error TS2322", 2),
    );
    expect(checks.map((check) => check.verdict)).toEqual(["contradicted", "contradicted"]);
  });
});

describe("the claims detector", () => {
  it("checks every claim, and reports a false success claim as a high finding with the claim's span and the failing run", () => {
    const events = new TestEvents();
    const detector = createClaimsDetector();
    const context = { evaluation: false };
    for (const event of commandRun(events, "npx vitest run", outputs.vitestFailed, 1))
      detector.inspect(event, context);
    const text = "Done! All tests pass.";
    const message = events.reply(text);
    const reports = detector.inspect(message, context) as ClaimCheckReport[];
    expect(reports.map((report) => [report.claimCheck.kind, report.claimCheck.verdict])).toEqual([
      ["task-complete", "contradicted"],
      ["tests-pass", "contradicted"],
    ]);
    const tests = reports[1]!;
    expect(tests.claimCheck).toMatchObject({
      claim: "All tests pass.",
      message: { eventId: message.id, spanId: message.spanId, field: "body.choices[0].message.content" },
      evidenceEventIds: ["event-2"],
      detector: "claims",
    });
    expect(text.slice(...tests.claimCheck.message.span)).toBe("All tests pass.");
    expect(tests.finding).toMatchObject({ detector: "claims", severity: "high", verdict: "contradicted" });
    expect(text.slice(...tests.finding!.evidence[0]!.span!)).toBe("All tests pass.");
    expect(tests.finding!.evidence[1]!.eventId).toBe("event-2");
  });

  it("records a supported or unverifiable claim as a claim check only, never as a finding", () => {
    const events = new TestEvents();
    const detector = createClaimsDetector();
    const context = { evaluation: false };
    for (const event of commandRun(events, "npx vitest run", outputs.vitest, 0))
      detector.inspect(event, context);
    const reports = detector.inspect(
      events.reply("All tests pass. The build succeeded."),
      context,
    ) as ClaimCheckReport[];
    expect(reports.map((report) => [report.claimCheck.verdict, report.finding])).toEqual([
      ["supported", undefined],
      ["unverifiable", undefined],
    ]);
  });

  it("does not take the model's own words about a run as evidence", () => {
    const events = new TestEvents();
    const detector = createClaimsDetector();
    const context = { evaluation: false };
    detector.inspect(events.reply("I ran `npx vitest run`: Tests  12 passed (12)."), context);
    const reports = detector.inspect(events.reply("All tests pass."), context) as ClaimCheckReport[];
    expect(reports.map((report) => report.claimCheck.verdict)).toEqual(["unverifiable"]);
  });
});
