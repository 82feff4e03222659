import type { z } from "zod";
import { parseYamlSource } from "../core/yaml-source.js";
import { compileScript } from "./compile-script.js";
import { type Script, scriptSchema } from "./script-schema.js";

export type ScriptResult = { ok: true; script: Script } | { ok: false; problems: string[] };

/**
 * Reads a model script from YAML text. Every problem is reported, one line each:
 * `path: message (source:line:column)`: YAML syntax, schema violations, probabilities that do
 * not add up, and regular expressions RE2 rejects.
 *
 * @example
 * const result = parseScript(await readFile("persona.yaml", "utf8"), "persona.yaml");
 * if (!result.ok) for (const problem of result.problems) process.stderr.write(`${problem}\n`);
 */
export function parseScript(text: string, source: string): ScriptResult {
  const yaml = parseYamlSource(text, source);
  if (!yaml.ok) return yaml;
  return checkScript(
    yaml.source.value,
    (path, options) => ` (${yaml.source.locate(path, options?.key ?? false)})`,
  );
}

/** Validates a script given as a value (not YAML text); problems are `path: message`. */
export function validateScript(value: unknown): ScriptResult {
  return checkScript(value, () => "");
}

type Locate = (path: readonly PropertyKey[], options?: { key?: boolean }) => string;

function checkScript(value: unknown, locate: Locate): ScriptResult {
  const parsed = scriptSchema.safeParse(value, { reportInput: true });
  if (!parsed.success) {
    const problems = parsed.error.issues
      .flatMap((issue) => flattenIssue(issue, []))
      .map(
        (problem) =>
          `${formatPath(problem.path)}: ${problem.message}${locate(problem.path, { key: problem.atKey })}`,
      );
    return { ok: false, problems };
  }
  const compiled = compileScript(parsed.data);
  if (!compiled.ok) {
    return {
      ok: false,
      problems: compiled.problems.map(
        (problem) => `${formatPath(problem.path)}: ${problem.message}${locate(problem.path)}`,
      ),
    };
  }
  return { ok: true, script: parsed.data };
}

interface Problem {
  path: PropertyKey[];
  message: string;
  atKey?: boolean;
}

function flattenIssue(issue: z.core.$ZodIssue, prefix: readonly PropertyKey[]): Problem[] {
  const path = [...prefix, ...issue.path];
  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => ({ path: [...path, key], message: "unknown key", atKey: true }));
    case "invalid_union": {
      // zod reports a failed union as one issue; the branch whose shape fits says what is wrong.
      for (const branch of issue.errors) {
        const fits = branch.every((inner) => !(inner.code === "invalid_type" && inner.path.length === 0));
        if (fits && branch.length > 0) return branch.flatMap((inner) => flattenIssue(inner, path));
      }
      const expected = issue.errors.map((branch) =>
        branch[0]?.code === "invalid_type" ? branch[0].expected : undefined,
      );
      const input = (issue as { input?: unknown }).input;
      if (input === undefined) return [{ path, message: "required" }];
      return [
        { path, message: `expected ${expected.filter(Boolean).join(" or ")}, got ${describeType(input)}` },
      ];
    }
    default:
      return [{ path, message: describeIssue(issue) }];
  }
}

/** `rules[2].reply.choice` */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path) {
    if (typeof key === "number") text += `[${key}]`;
    else text += text === "" ? String(key) : `.${String(key)}`;
  }
  return text === "" ? "script" : text;
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const input = (issue as { input?: unknown }).input;
  if (input === undefined && (issue.code === "invalid_type" || issue.code === "invalid_value"))
    return "required";
  switch (issue.code) {
    case "invalid_type":
      return `expected ${issue.expected}, got ${describeType(input)}`;
    case "invalid_value":
      return issue.values.length === 1
        ? `expected ${String(issue.values[0])}`
        : `expected one of ${issue.values.map(String).join("|")}`;
    case "too_small":
      if (issue.origin === "string" && Number(issue.minimum) === 1) return "must not be empty";
      if (issue.origin === "array")
        return `must list at least ${issue.minimum} item${Number(issue.minimum) === 1 ? "" : "s"}`;
      return issue.message;
    default:
      return issue.message;
  }
}

function describeType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  return typeof value;
}
