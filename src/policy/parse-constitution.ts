import { formatSchemaIssues, parseYamlSource, type YamlSource } from "../core/yaml-source.js";
import { compileCondition } from "./compile-condition.js";
import { createConditionEnvironment } from "./condition-environment.js";
import { type Constitution, constitutionSchema } from "./constitution-schema.js";

export type ConstitutionResult = { ok: true; constitution: Constitution } | { ok: false; problems: string[] };

/**
 * Reads a constitution from YAML text. Every problem found is reported, one line each,
 * `path: message (source:line:column)`: YAML syntax, schema violations, duplicate rule ids,
 * and conditions that do not parse or type-check.
 *
 * @example
 * const result = parseConstitution(await readFile("warden.yaml", "utf8"), "warden.yaml");
 * if (!result.ok) for (const problem of result.problems) process.stderr.write(`${problem}\n`);
 */
export function parseConstitution(text: string, source: string): ConstitutionResult {
  const yaml = parseYamlSource(text, source);
  if (!yaml.ok) return yaml;
  const parsed = constitutionSchema.safeParse(yaml.source.value, { reportInput: true });
  const problems = parsed.success ? [] : formatSchemaIssues(parsed.error.issues, yaml.source, "constitution");
  // Rules are checked even when the schema fails elsewhere, so one run shows every problem.
  problems.push(...ruleProblems(yaml.source));
  if (!parsed.success || problems.length > 0) return { ok: false, problems };
  return { ok: true, constitution: parsed.data };
}

/** Duplicate ids and conditions that do not compile, read from the rules as written. */
function ruleProblems(source: YamlSource): string[] {
  const rules = (source.value as { rules?: unknown } | null)?.rules;
  if (!Array.isArray(rules)) return [];
  const problems: string[] = [];
  const environment = createConditionEnvironment();
  const firstUse = new Map<string, number>();
  rules.forEach((rule: unknown, order) => {
    if (typeof rule !== "object" || rule === null) return;
    const { id, when, effect } = rule as { id?: unknown; when?: unknown; effect?: unknown };
    if (typeof id === "string") {
      const first = firstUse.get(id);
      if (first === undefined) firstUse.set(id, order);
      else {
        const location = source.locate(["rules", order, "id"]);
        problems.push(
          `rules[${order}].id: duplicate rule id "${id}" (first used by rules[${first}]) (${location})`,
        );
      }
    }
    if (typeof when === "string" && when.length > 0) {
      const compiled = compileCondition(environment, when);
      if (!compiled.ok) {
        problems.push(
          `rules[${order}].when: ${compiled.problem} (${source.locate(["rules", order, "when"])})`,
        );
      } else if (compiled.condition.readsResult && effect !== "allow") {
        // The call has already happened when its result arrives: such a rule can label, not decide.
        problems.push(
          `rules[${order}].when: a rule that reads \`result\` runs after the call and can only add labels; use effect: allow (${source.locate(["rules", order, "when"])})`,
        );
      }
    }
  });
  return problems;
}
