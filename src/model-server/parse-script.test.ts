import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { WardenError } from "../core/errors.js";
import { parseScript, validateScript } from "./parse-script.js";
import { scriptJsonSchema } from "./script-json-schema.js";
import { startScriptedModelServer } from "./scripted-model-server.js";

const examples = join(import.meta.dirname, "examples");

function problemsOf(text: string): string[] {
  const result = parseScript(text, "s.yaml");
  if (result.ok) throw new Error("expected the script to be rejected");
  return result.problems;
}

describe("parseScript", () => {
  it("accepts every example script", async () => {
    const files = (await readdir(examples)).filter((file) => file.endsWith(".yaml"));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const file of files) {
      const result = parseScript(await readFile(join(examples, file), "utf8"), file);
      expect(result, file).toMatchObject({ ok: true });
    }
  });

  it("reports a YAML syntax error with its line and column", () => {
    const problems = problemsOf("rules:\n  - reply: { text: [unclosed\n");
    expect(problems.length).toBeGreaterThan(0);
    for (const problem of problems) expect(problem).toMatch(/^yaml: .* \(s\.yaml:3:1\)$/);
  });

  it("reports an unknown key as path: message with its location", () => {
    expect(problemsOf("rules:\n  - when:\n      sytem: training\n    reply: { text: hi }\n")).toEqual([
      "rules[0].when.sytem: unknown key (s.yaml:3:7)",
    ]);
  });

  it("reports every problem, one line each", () => {
    const problems = problemsOf(
      [
        "seed: lots",
        "rules:",
        "  - when: { system: 5 }",
        "    reply: { text: hi, error: { status: 500, message: boom } }",
        "  - reply: {}",
      ].join("\n"),
    );
    expect(problems).toEqual([
      "seed: expected number, got string (s.yaml:1:7)",
      "rules[0].when.system: expected string or object, got number (s.yaml:3:21)",
      "rules[0].reply.text: an error reply has no content (s.yaml:4:20)",
      "rules[1].reply: give text, reasoning, toolCalls, error or choice (s.yaml:5:12)",
    ]);
  });

  it("rejects probabilities that do not add up to 1", () => {
    const problems = problemsOf(
      [
        "rules:",
        "  - reply:",
        "      choice:",
        "        - { probability: 0.7, reply: { text: a } }",
        "        - { probability: 0.5, reply: { text: b } }",
      ].join("\n"),
    );
    expect(problems).toEqual([
      "rules[0].reply.choice: probabilities add up to 1.2; they must add up to 1 (or leave one out to take the rest) (s.yaml:4:9)",
    ]);
  });

  it("rejects a regular expression RE2 cannot run in linear time", () => {
    const problems = problemsOf(
      "rules:\n  - when: { lastUser: { regex: '(?=lookahead)x' } }\n    reply: { text: hi }\n",
    );
    expect(problems).toEqual([
      expect.stringMatching(
        /^rules\[0\]\.when\.lastUser\.regex: not an RE2 regular expression: .* \(s\.yaml:2:32\)$/,
      ),
    ]);
  });

  it("rejects a text matcher that gives both contains and regex", () => {
    expect(
      problemsOf("rules:\n  - when: { model: { contains: a, regex: b } }\n    reply: { text: hi }\n"),
    ).toEqual(["rules[0].when.model: give exactly one of contains or regex (s.yaml:2:20)"]);
  });

  it("validates a script given as a value, without locations", () => {
    expect(validateScript({ rules: [{ reply: { toolCalls: [] } }] })).toEqual({
      ok: false,
      problems: ["rules[0].reply.toolCalls: must list at least 1 item"],
    });
  });
});

describe("scriptJsonSchema", () => {
  it("describes every field of a script, for editors", () => {
    type Node = { description?: string; $ref?: string; properties?: Record<string, Node> };
    const schema = scriptJsonSchema();
    const definitions = (schema.$defs ?? {}) as Record<string, Node>;
    const described = (node: Node) =>
      Boolean(node.description ?? (node.$ref && definitions[node.$ref.replace("#/$defs/", "")]?.description));
    const undescribed: string[] = [];
    const visit = (node: unknown, path: string) => {
      if (typeof node !== "object" || node === null) return;
      for (const [key, property] of Object.entries((node as Node).properties ?? {})) {
        if (!described(property)) undescribed.push(`${path}.${key}`);
      }
      for (const [key, value] of Object.entries(node)) visit(value, `${path}.${key}`);
    };
    visit(schema, "$");
    expect(undescribed).toEqual([]);
    expect(JSON.stringify(schema)).toContain("probability");
  });
});

describe("startScriptedModelServer", () => {
  it("refuses to start with an invalid script and lists its problems", async () => {
    const failure = await startScriptedModelServer({ script: { rules: [{ reply: {} }] } }).catch(
      (error: unknown) => error,
    );
    expect(WardenError.isInstance(failure) && failure.code).toBe("config-invalid");
    expect((failure as Error).message).toContain(
      "rules[0].reply: give text, reasoning, toolCalls, error or choice",
    );
  });

  it("refuses a seed outside 0 to 2^32-1", async () => {
    const failure = await startScriptedModelServer({ script: {}, seed: -1 }).catch((error: unknown) => error);
    expect(WardenError.isInstance(failure) && failure.code).toBe("config-invalid");
  });
});
