import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { WardenError } from "../core/errors.js";
import { checkPolicyFile } from "./check-policy-file.js";
import { runPolicyTests } from "./run-policy-tests.js";

const repositoryRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
const examplePolicy = path.join(repositoryRoot, "policies", "example.yaml");
const exampleCases = path.join(repositoryRoot, "policies", "example.cases.yaml");

const temporaryRoot = mkdtempSync(path.join(tmpdir(), "warden-policy-tests-"));
afterAll(() => rmSync(temporaryRoot, { recursive: true, force: true }));
const builtins = { dataDir: path.join(temporaryRoot, "data"), workspaceRoot: temporaryRoot };

function writeTemporary(name: string, text: string): string {
  const file = path.join(temporaryRoot, name);
  writeFileSync(file, text);
  return file;
}

const policy = writeTemporary(
  "policy.yaml",
  `version: 1
default: deny
rules:
  - id: no-writes
    when: 'tool.name == "write_file"'
    effect: deny
    rationale: Writes need a reviewed change set.
  - id: reads
    when: 'tool.name == "read_file"'
    effect: allow
`,
);

describe("runPolicyTests", () => {
  it("passes the example constitution's own cases", async () => {
    expect(await checkPolicyFile(examplePolicy)).toEqual([]);
    const { results } = await runPolicyTests(examplePolicy, exampleCases, {
      dataDir: path.join(temporaryRoot, "data"),
      protectedFiles: [examplePolicy],
      workspaceRoot: repositoryRoot,
    });
    expect(results.length).toBeGreaterThan(10);
    expect(results.filter((result) => !result.passed)).toEqual([]);
  });

  it("reports each case with what was expected and what happened", async () => {
    const cases = writeTemporary(
      "cases.yaml",
      `cases:
  - name: writes are denied
    input: { tool: { server: files, name: write_file, arguments: { path: a.txt } } }
    expect: { effect: deny, ruleId: no-writes }
  - name: reads are denied (wrongly expected)
    input: { tool: { server: files, name: read_file } }
    expect: { effect: deny }
`,
    );
    const { results } = await runPolicyTests(policy, cases, builtins);
    expect(results).toEqual([
      {
        name: "writes are denied",
        passed: true,
        expected: { effect: "deny", ruleId: "no-writes" },
        actual: { effect: "deny", ruleId: "no-writes", reason: "Writes need a reviewed change set." },
      },
      {
        name: "reads are denied (wrongly expected)",
        passed: false,
        expected: { effect: "deny" },
        actual: { effect: "allow", ruleId: "reads" },
      },
    ]);
  });

  it("fails a case whose rule id differs even when the effect agrees", async () => {
    const cases = writeTemporary(
      "rule-id.yaml",
      "cases:\n  - name: other writes\n    input: { tool: { server: files, name: delete_file } }\n    expect: { effect: deny, ruleId: no-writes }\n",
    );
    const { results } = await runPolicyTests(policy, cases, builtins);
    expect(results[0]).toMatchObject({ passed: false, actual: { effect: "deny", ruleId: "default" } });
  });

  it("rejects a malformed cases file with one line per problem", async () => {
    const cases = writeTemporary(
      "bad-cases.yaml",
      "cases:\n  - name: missing tool\n    input: {}\n    expect: { effect: maybe }\n    extra: 1\n",
    );
    const failure = await runPolicyTests(policy, cases, builtins).catch((error: unknown) => error);
    expect(WardenError.isInstance(failure) && failure.code).toBe("policy-invalid");
    expect((failure as WardenError).details?.problems).toEqual([
      `cases[0].input.tool: required (${cases}:3:12)`,
      `cases[0].expect.effect: expected one of allow|deny|hold (${cases}:4:23)`,
      `cases[0].extra: unknown key (${cases}:5:5)`,
    ]);
  });

  it("rejects an invalid constitution before running any case", async () => {
    const broken = writeTemporary("broken.yaml", "version: 1\nrules: []\n");
    const failure = await runPolicyTests(broken, exampleCases, builtins).catch((error: unknown) => error);
    expect((failure as WardenError).code).toBe("policy-invalid");
    expect((failure as WardenError).details?.problems).toEqual([`default: required (${broken}:1:1)`]);
  });
});

describe("checkPolicyFile", () => {
  it("reports a file that cannot be read as a problem", async () => {
    const missing = path.join(temporaryRoot, "missing.yaml");
    expect(await checkPolicyFile(missing)).toEqual([
      expect.stringMatching(new RegExp(`^${missing}: cannot read the file: ENOENT`)),
    ]);
  });
});
