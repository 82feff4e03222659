import { describe, expect, it } from "vitest";
import { type CompiledCondition, compileCondition } from "./compile-condition.js";
import {
  AgentContext,
  type ConditionContext,
  createConditionEnvironment,
  ResultContext,
  SessionContext,
  TimeContext,
  ToolContext,
} from "./condition-environment.js";

function compiled(expression: string): CompiledCondition {
  const result = compileCondition(createConditionEnvironment(), expression);
  if (!result.ok) throw new Error(result.problem);
  return result.condition;
}

function context(toolArguments: unknown, overrides: Partial<ConditionContext> = {}): ConditionContext {
  return {
    agent: new AgentContext("agent-1"),
    tool: new ToolContext("files", "read_file", "tools/call", toolArguments),
    session: new SessionContext("session-1", ["secret"], { attempts: 3 }),
    env: { stage: "production" },
    time: TimeContext.at(new Date("2025-03-04T22:15:00Z")),
    result: ResultContext.none,
    ...overrides,
  };
}

const pathological = `${"a".repeat(30)}b`;

describe("compileCondition", () => {
  it("evaluates a condition over every variable", () => {
    const condition = compiled(
      'agent.id == "agent-1" && tool.server == "files" && tool.method == "tools/call" && "secret" in session.labels ' +
        '&& env.stage == "production" && time.hour == 22 && time.minute == 15 && time.weekday == 2 ' +
        '&& time.date == "2025-03-04" && time.iso.startsWith("2025-03-04T22:15")',
    );
    expect(condition.evaluate(context({}))).toEqual({ holds: true });
  });

  it("treats JSON numbers as doubles that compare with int literals", () => {
    expect(compiled("tool.arguments.n > 3").evaluate(context({ n: 5 }))).toEqual({ holds: true });
    expect(compiled("tool.arguments.n == 5").evaluate(context({ n: 5 }))).toEqual({ holds: true });
    expect(compiled("tool.arguments.n in [1, 5]").evaluate(context({ n: 5 }))).toEqual({ holds: true });
    expect(compiled("tool.arguments.n + 1.0 > 5").evaluate(context({ n: 5 }))).toEqual({ holds: true });
    expect(compiled("int(tool.arguments.n) + 1 == 6").evaluate(context({ n: 5 }))).toEqual({ holds: true });
    expect(compiled("session.facts.attempts >= 3").evaluate(context({}))).toEqual({ holds: true });
  });

  it("reports a missing key as an error rather than as false", () => {
    const outcome = compiled('tool.arguments.path.startsWith("/etc")').evaluate(context({}));
    expect(outcome).toEqual({ holds: false, error: "No such key: path" });
  });

  it("reports a condition that yields no boolean at run time as an error", () => {
    const outcome = compiled("tool.arguments.flag").evaluate(context({ flag: "yes" }));
    expect(outcome).toEqual({ holds: false, error: "the condition evaluated to a string, not a boolean" });
  });

  it("matches with RE2 semantics: partial matches, and no lookaround", () => {
    expect(compiled('tool.name.matches("ead_")').evaluate(context({}))).toEqual({ holds: true });
    expect(compiled('tool.name.matches("^ead_")').evaluate(context({}))).toEqual({ holds: false });
    // JavaScript's RegExp accepts lookahead; RE2 does not, which shows which engine ran.
    const outcome = compiled('tool.name.matches("(?=read)read")').evaluate(context({}));
    expect(outcome.error).toMatch(/invalid RE2 regular expression/);
  });

  it("answers a catastrophic-backtracking pattern correctly, both as a method and as a function", () => {
    const started = performance.now();
    const method = compiled('tool.arguments.text.matches("^(a+)+$")');
    const global = compiled('matches(tool.arguments.text, "^(a+)+$")');
    expect(method.evaluate(context({ text: pathological }))).toEqual({ holds: false });
    expect(global.evaluate(context({ text: pathological }))).toEqual({ holds: false });
    expect(method.evaluate(context({ text: "aaaa" }))).toEqual({ holds: true });
    // A sanity bound only: JavaScript's RegExp needs tens of seconds here.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it("routes matches inside macros and with patterns from the agent's arguments to RE2", () => {
    const inMacro = compiled('tool.arguments.items.exists(item, item.matches("^(a+)+$"))');
    expect(inMacro.evaluate(context({ items: [pathological, "b"] }))).toEqual({ holds: false });
    expect(inMacro.evaluate(context({ items: [pathological, "aa"] }))).toEqual({ holds: true });
    const agentPattern = compiled("tool.arguments.text.matches(tool.arguments.pattern)");
    expect(agentPattern.evaluate(context({ text: pathological, pattern: "^(a+)+$" }))).toEqual({
      holds: false,
    });
    expect(agentPattern.evaluate(context({ text: "x", pattern: "(?=x)" })).error).toMatch(/invalid RE2/);
  });

  it("leaves the word matches alone where it is not a call", () => {
    const condition = compiled('tool.arguments.matches == "matches(x)" && tool.name.matches("read")');
    expect(condition.evaluate(context({ matches: "matches(x)" }))).toEqual({ holds: true });
  });

  it("keeps the meaning of an expression whose precedence cel-js's serializer would lose", () => {
    const condition = compiled(
      'tool.name.matches("read") && 10.0 - (tool.arguments.a - tool.arguments.b) == 9.0',
    );
    expect(condition.evaluate(context({ a: 3, b: 2 }))).toEqual({ holds: true });
  });

  it("refuses an expression that does not compile, saying why", () => {
    const result = compileCondition(createConditionEnvironment(), "tool.name.matches(1)");
    expect(result).toEqual({
      ok: false,
      problem: "found no matching overload for 'string.matches(int)' (at character 1 of the condition)",
    });
  });
});
