import { describe, expect, it } from "vitest";
import { parseConstitution } from "./parse-constitution.js";

const minimal = `version: 1
default: deny            # allow | deny | hold — must be stated
rules:
  - id: no-writes
    when: 'tool.name == "write_file"'
    effect: deny         # allow | deny | hold
    rationale: Writes need a reviewed change set.
`;

function problemsOf(text: string): string[] {
  const result = parseConstitution(text, "policy.yaml");
  if (result.ok) throw new Error("expected problems, got a valid constitution");
  return result.problems;
}

describe("parseConstitution", () => {
  it("accepts the minimal file and fills in defaults", () => {
    const result = parseConstitution(minimal, "policy.yaml");
    expect(result).toEqual({
      ok: true,
      constitution: {
        version: 1,
        default: "deny",
        mode: "enforce",
        rules: [
          {
            id: "no-writes",
            when: 'tool.name == "write_file"',
            effect: "deny",
            rationale: "Writes need a reviewed change set.",
            mode: "enforce",
            labels: [],
          },
        ],
      },
    });
  });

  it("reports a bad effect as one line with its path, the allowed values and its location", () => {
    const text = minimal.replace("effect: deny ", "effect: block");
    expect(problemsOf(text)).toEqual(["rules[0].effect: expected one of allow|deny|hold (policy.yaml:6:13)"]);
  });

  it("requires the default to be stated", () => {
    expect(problemsOf("version: 1\nrules: []\n")).toEqual(["default: required (policy.yaml:1:1)"]);
  });

  it("rejects unknown keys at the top level and in rules, pointing at the key", () => {
    const text = `${minimal}    severity: high\nowner: me\n`;
    expect(problemsOf(text)).toEqual([
      "rules[0].severity: unknown key (policy.yaml:8:5)",
      "owner: unknown key (policy.yaml:9:1)",
    ]);
  });

  it("rejects a version other than 1", () => {
    expect(problemsOf(minimal.replace("version: 1", "version: 2"))).toEqual([
      "version: expected 1 (policy.yaml:1:10)",
    ]);
  });

  it("reports YAML syntax errors with their line and column", () => {
    const problems = problemsOf("version: 1\ndefault: deny\nrules:\n  - id: a\n    when: [unclosed\n");
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(/^yaml: .+ \(policy\.yaml:\d+:\d+\)$/);
  });

  it("reports a repeated key as a YAML problem", () => {
    expect(problemsOf("version: 1\nversion: 1\ndefault: deny\n")).toEqual([
      "yaml: Map keys must be unique (policy.yaml:2:1)",
    ]);
  });

  it("reports duplicate rule ids and names the first use", () => {
    const text = `${minimal}  - id: no-writes\n    when: 'true'\n    effect: allow\n`;
    expect(problemsOf(text)).toEqual([
      'rules[1].id: duplicate rule id "no-writes" (first used by rules[0]) (policy.yaml:8:9)',
    ]);
  });

  it("reports a condition that does not parse at rules[i].when", () => {
    const text = minimal.replace(`'tool.name == "write_file"'`, `'tool.name == '`);
    const problems = problemsOf(text);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^rules\[0\]\.when: Unexpected token: EOF \(at character \d+ of the condition\) \(policy\.yaml:5:11\)$/,
    );
  });

  it("reports misspelt fields and type errors in conditions when the file is loaded", () => {
    const text = `version: 1
default: deny
rules:
  - id: misspelt-field
    when: 'tool.nmae == "x"'
    effect: allow
  - id: unknown-variable
    when: 'request.name == "x"'
    effect: allow
  - id: type-error
    when: 'tool.name + 1 == 2'
    effect: allow
  - id: not-boolean
    when: 'tool.name'
    effect: allow
`;
    const problems = problemsOf(text);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^rules\[0\]\.when: No such key: nmae/);
    expect(problems[1]).toMatch(/^rules\[1\]\.when: Unknown variable: request/);
    expect(problems[2]).toMatch(/^rules\[2\]\.when: no such overload: string \+ int/);
    expect(problems[3]).toMatch(/^rules\[3\]\.when: the condition must be a boolean, but it is string/);
  });

  it("reports condition problems alongside schema problems in one run", () => {
    const text =
      "version: 1\ndefault: deny\nrules:\n  - id: x\n    when: 'tool.nmae == 1'\n    effect: block\n";
    expect(problemsOf(text)).toEqual([
      "rules[0].effect: expected one of allow|deny|hold (policy.yaml:6:13)",
      "rules[0].when: No such key: nmae (at character 6 of the condition) (policy.yaml:5:11)",
    ]);
  });

  it("requires deny and hold rules to say why", () => {
    const text = minimal.replace("    rationale: Writes need a reviewed change set.\n", "");
    expect(problemsOf(text)).toEqual([
      "rules[0].rationale: required for deny rules (the agent is told why) (policy.yaml:4:5)",
    ]);
  });

  it("refuses approvers and hold timeouts on rules that do not hold", () => {
    const text = `${minimal}    holdTimeout: 5m\n    approvers: { roles: [security] }\n`;
    expect(problemsOf(text)).toEqual([
      "rules[0].approvers: only applies to hold rules (and audit rules with otherwise: hold) (policy.yaml:9:16)",
      "rules[0].holdTimeout: only applies to hold rules (and audit rules with otherwise: hold) (policy.yaml:8:18)",
    ]);
  });

  it("accepts hold rules with approvers and a timeout, and rejects a malformed timeout", () => {
    const hold = `version: 1
default: allow
rules:
  - id: hold-deletes
    when: 'tool.name == "delete_file"'
    effect: hold
    rationale: Deleting is irreversible.
    approvers: { roles: [security], count: 2 }
    holdTimeout: 30s
`;
    const result = parseConstitution(hold, "policy.yaml");
    expect(result.ok && result.constitution.rules[0]?.approvers).toEqual({ roles: ["security"], count: 2 });
    expect(problemsOf(hold.replace("30s", "forever"))).toEqual([
      "rules[0].holdTimeout: must be a duration between 1s and 7d written like 30s, 5m, 2h or 1d (policy.yaml:9:18)",
    ]);
  });

  it("keeps rule ids kebab-ish and away from the ids Warden reserves", () => {
    const problems = problemsOf(
      `${minimal}  - id: Bad Id\n    when: 'true'\n    effect: allow\n  - id: default\n    when: 'true'\n    effect: allow\n`,
    );
    expect(problems).toEqual([
      "rules[1].id: must be lowercase words joined by - _ or . (for example no-writes) (policy.yaml:8:9)",
      "rules[2].id: is reserved (default, no-constitution, policy-error) (policy.yaml:11:9)",
    ]);
  });

  it("says what it got when a value has the wrong type", () => {
    expect(problemsOf("version: 1\ndefault: deny\nrules: true\n")).toEqual([
      "rules: expected array, got boolean (policy.yaml:3:8)",
    ]);
    expect(problemsOf("just a string\n")).toEqual([
      "constitution: expected object, got string (policy.yaml:1:1)",
    ]);
  });
});
