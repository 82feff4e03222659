import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import type { Constitution, ConstitutionRule } from "./constitution-schema.js";
import { createPolicyEngine, type DecisionInput } from "./policy-engine.js";

const temporaryRoot = mkdtempSync(path.join(tmpdir(), "warden-rule-index-"));
afterAll(() => rmSync(temporaryRoot, { recursive: true, force: true }));
const builtins = { dataDir: path.join(temporaryRoot, "data"), workspaceRoot: temporaryRoot };

const toolNames = ["read_file", "write_file", "send_message", "other"];
const servers = ["files", "mail", "elsewhere"];

const atom = fc.oneof(
  fc.constantFrom(...toolNames).map((name) => `tool.name == "${name}"`),
  fc.constantFrom(...toolNames).map((name) => `"${name}" == tool.name`),
  fc.subarray(toolNames, { minLength: 1 }).map((names) => `tool.name in ${JSON.stringify(names)}`),
  fc.constantFrom(...servers).map((server) => `tool.server == "${server}"`),
  fc.subarray(servers, { minLength: 1 }).map((names) => `tool.server in ${JSON.stringify(names)}`),
  // These can fail to evaluate, which is where "false && error" matters.
  fc.constant('tool.arguments.path.startsWith("/etc")'),
  fc.constant("tool.arguments.count > 2"),
  fc.constant("has(tool.arguments.path)"),
  fc.constant('"secret" in session.labels'),
  fc.constant('tool.name.matches("^(read|write)_")'),
  fc.constantFrom("true", "false"),
);

const { condition } = fc.letrec<{ condition: string }>((recurse) => ({
  condition: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    atom,
    fc.tuple(recurse("condition"), recurse("condition")).map(([left, right]) => `(${left}) && (${right})`),
    fc.tuple(recurse("condition"), recurse("condition")).map(([left, right]) => `${left} && ${right}`),
    fc.tuple(recurse("condition"), recurse("condition")).map(([left, right]) => `(${left}) || (${right})`),
    recurse("condition").map((inner) => `!(${inner})`),
  ),
}));

const rule = fc.record({
  when: condition,
  effect: fc.constantFrom("allow", "deny", "hold"),
  mode: fc.constantFrom("enforce", "enforce", "shadow"),
  labels: fc.subarray(["secret", "outbound"]),
});

const constitution: fc.Arbitrary<Constitution> = fc
  .record({
    default: fc.constantFrom("allow", "deny", "hold"),
    mode: fc.constantFrom("enforce", "shadow"),
    rules: fc.array(rule, { maxLength: 12 }),
  })
  .map(({ default: defaultEffect, mode, rules }) => ({
    version: 1 as const,
    default: defaultEffect,
    mode,
    rules: rules.map(
      (generated, order): ConstitutionRule => ({
        id: `rule-${order}`,
        when: generated.when,
        effect: generated.effect,
        mode: generated.mode,
        labels: generated.labels,
        rationale: `Reason ${order}.`,
      }),
    ),
  }));

const input: fc.Arbitrary<DecisionInput> = fc.record({
  agent: fc.constant({ id: "agent-1" }),
  tool: fc.record({
    server: fc.constantFrom(...servers),
    name: fc.constantFrom(...toolNames),
    method: fc.constant("tools/call"),
    arguments: fc.constantFrom({}, { path: "/etc/passwd" }, { path: "notes.txt", count: 3 }, { path: 7 }),
  }),
  session: fc.record({ id: fc.constant("session-1"), labels: fc.subarray(["secret"]) }),
});

describe("rule index", () => {
  it("decides exactly as evaluating every rule does", () => {
    const now = new Date("2025-01-01T00:00:00Z");
    fc.assert(
      fc.property(constitution, fc.array(input, { minLength: 1, maxLength: 6 }), (generated, inputs) => {
        const indexed = createPolicyEngine({ constitution: generated, builtins });
        const naive = createPolicyEngine({ constitution: generated, builtins, ruleSelection: "all" });
        for (const call of inputs) expect(indexed.decide(call, now)).toEqual(naive.decide(call, now));
      }),
      { numRuns: 300 },
    );
  });

  it("skips rules for other tools without evaluating them", () => {
    const engine = createPolicyEngine({
      builtins,
      constitution: {
        version: 1,
        default: "allow",
        mode: "enforce",
        rules: [
          {
            id: "writes-need-paths",
            when: 'tool.name == "write_file" && tool.arguments.path.startsWith("/")',
            effect: "deny",
            rationale: "Absolute writes are not allowed.",
            mode: "enforce",
            labels: [],
          },
        ],
      },
    });
    const call = (name: string) =>
      engine.decide({
        agent: { id: "agent-1" },
        tool: { server: "files", name, method: "tools/call", arguments: {} },
        session: { id: "session-1", labels: [] },
      });
    // For write_file the missing path is an error, which counts as a match for a deny rule.
    expect(call("write_file").matches).toEqual([
      { ruleId: "writes-need-paths", effect: "deny", mode: "enforce", error: "No such key: path" },
    ]);
    expect(call("read_file").matches).toEqual([]);
  });
});
