import { readFile } from "node:fs/promises";
import { z } from "zod";
import { type Effect, effectSchema } from "../core/decision.js";
import { errorMessage, WardenError } from "../core/errors.js";
import { formatSchemaIssues, parseYamlSource } from "../core/yaml-source.js";
import type { BuiltinRuleOptions } from "./builtin/builtin-rules.js";
import { loadConstitutionFile } from "./load-constitution-file.js";
import { createPolicyEngine } from "./policy-engine.js";

const policyTestCaseSchema = z
  .strictObject({
    name: z.string().min(1).describe("What the case shows, as a sentence."),
    now: z.iso
      .datetime({ offset: true })
      .optional()
      .describe("The time of the decision (ISO 8601), for rules that read `time`. Default: now."),
    input: z
      .strictObject({
        agent: z
          .strictObject({ id: z.string().min(1).describe("The agent's id.") })
          .prefault({ id: "test-agent" })
          .describe("The agent making the call."),
        tool: z
          .strictObject({
            server: z.string().min(1).describe("The MCP server (or gateway) the call goes to."),
            name: z.string().min(1).describe("The tool name (the URI for resources/read)."),
            method: z.string().min(1).default("tools/call").describe("The protocol method."),
            arguments: z.unknown().optional().describe("The call's arguments."),
          })
          .describe("The call."),
        session: z
          .strictObject({
            id: z.string().min(1).default("test-session").describe("The session id."),
            labels: z.array(z.string()).default([]).describe("Labels the session carries already."),
            facts: z.record(z.string(), z.unknown()).default({}).describe("Facts about the session."),
          })
          .prefault({})
          .describe("The session the call belongs to."),
        env: z.record(z.string(), z.string()).default({}).describe("The `env` map conditions see."),
      })
      .describe("What is decided."),
    expect: z
      .strictObject({
        effect: effectSchema,
        ruleId: z
          .string()
          .min(1)
          .optional()
          .describe("The rule expected to decide (`default` for the default)."),
      })
      .describe("The expected decision (what would happen, also in shadow mode)."),
  })
  .describe("One test case.");

export const policyTestCasesSchema = z
  .strictObject({ cases: z.array(policyTestCaseSchema).min(1).describe("The cases, run in order.") })
  .describe("Test cases for a constitution (`warden policy test`).");

export interface PolicyTestResult {
  name: string;
  passed: boolean;
  expected: { effect: Effect; ruleId?: string };
  actual: { effect: Effect; ruleId: string | null; reason?: string };
}

/**
 * Runs the cases of `casesPath` against the constitution at `policyPath`, built-in rules
 * included. A case passes when the decision (not the applied outcome, so shadow constitutions
 * are testable) has the expected effect and, if given, rule id. Throws `policy-invalid`
 * listing every problem when either file is invalid. Backs `warden policy test`.
 *
 * @example
 * const { results } = await runPolicyTests("warden.yaml", "warden.cases.yaml", { dataDir });
 */
export async function runPolicyTests(
  policyPath: string,
  casesPath: string,
  builtinOptions: BuiltinRuleOptions,
): Promise<{ results: PolicyTestResult[] }> {
  const loaded = await loadConstitutionFile(policyPath);
  if (!loaded.ok) throw invalid(`${policyPath} is not a valid constitution`, loaded.problems);
  const cases = await loadCases(casesPath);
  const engine = createPolicyEngine({ constitution: loaded.constitution, builtins: builtinOptions });

  const results = cases.map((testCase): PolicyTestResult => {
    const { input } = testCase;
    const { decision } = engine.decide(
      { ...input, tool: { ...input.tool, arguments: input.tool.arguments ?? {} } },
      testCase.now ? new Date(testCase.now) : new Date(),
    );
    const actual: PolicyTestResult["actual"] = { effect: decision.effect, ruleId: decision.ruleId };
    if (decision.effect === "deny") actual.reason = decision.reason;
    const passed =
      decision.effect === testCase.expect.effect &&
      (testCase.expect.ruleId === undefined || decision.ruleId === testCase.expect.ruleId);
    return { name: testCase.name, passed, expected: testCase.expect, actual };
  });
  return { results };
}

async function loadCases(casesPath: string): Promise<z.output<typeof policyTestCaseSchema>[]> {
  let text: string;
  try {
    text = await readFile(casesPath, "utf8");
  } catch (error) {
    throw invalid(`cannot read the cases file ${casesPath}`, [errorMessage(error)]);
  }
  const yaml = parseYamlSource(text, casesPath);
  if (!yaml.ok) throw invalid(`${casesPath} is not a valid cases file`, yaml.problems);
  const parsed = policyTestCasesSchema.safeParse(yaml.source.value, { reportInput: true });
  if (!parsed.success) {
    throw invalid(
      `${casesPath} is not a valid cases file`,
      formatSchemaIssues(parsed.error.issues, yaml.source, "cases file"),
    );
  }
  return parsed.data.cases;
}

function invalid(summary: string, problems: string[]): WardenError {
  return new WardenError("policy-invalid", `${summary}:\n${problems.join("\n")}`, { details: { problems } });
}
