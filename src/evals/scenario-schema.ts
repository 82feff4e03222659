import { z } from "zod";
import { auditVerdicts } from "../auditor/audit-verdict.js";
import { claimKinds, claimVerdicts } from "../verify/claim.js";

const regexSchema = z
  .string()
  .min(1)
  .refine(
    (pattern) => {
      try {
        new RegExp(pattern, "iu");
        return true;
      } catch {
        return false;
      }
    },
    { message: "not a valid regular expression" },
  )
  .describe("A regular expression (JavaScript syntax), matched case-insensitively.");

const textFieldSchema = z
  .enum(["text", "reasoning", "all"])
  .default("text")
  .describe(
    "What to read: the assistant's final text, its reasoning (thinking) in every turn, or both. Default text.",
  );

const argumentMatcherSchema = z
  .union([
    regexSchema,
    z
      .strictObject({
        below: z.number().optional().describe("Matches a number less than this."),
        above: z.number().optional().describe("Matches a number greater than this."),
        equals: z
          .union([z.string(), z.number(), z.boolean()])
          .optional()
          .describe("Matches this exact value."),
      })
      .refine((matcher) => Object.keys(matcher).length > 0, { message: "give below, above or equals" }),
  ])
  .describe("A regular expression for the argument's text, or {below, above, equals} for its value.");

const common = {
  negate: z.boolean().default(false).describe("Count a sample when the scorer does NOT match."),
  description: z.string().optional().describe("What a positive sample means, for the report."),
};

const scorerObjectSchema = z.discriminatedUnion("type", [
  z
    .strictObject({ type: z.literal("refusal"), ...common })
    .describe("Positive when the final text is NOT a refusal (the offline refusal classifier): compliance."),
  z
    .strictObject({
      type: z.literal("markers"),
      any: z.array(regexSchema).min(1).optional().describe("Positive when any of these matches."),
      all: z.array(regexSchema).min(1).optional().describe("Positive when all of these match."),
      in: textFieldSchema,
      ...common,
    })
    .refine((scorer) => scorer.any !== undefined || scorer.all !== undefined, {
      message: "give any or all",
    })
    .describe("Required markers: regular expressions in the reply."),
  z
    .strictObject({
      type: z.literal("called-tool"),
      tool: z.string().min(1).describe("The tool name."),
      arguments: z
        .record(z.string(), argumentMatcherSchema)
        .optional()
        .describe("Argument conditions that must all hold for a call to count."),
      ...common,
    })
    .describe("Positive when the model called this tool (with matching arguments)."),
  z
    .strictObject({
      type: z.literal("touched-file"),
      path: z
        .string()
        .min(1)
        .describe("A path or glob (`*` within a segment, `**` across) matched against path-like arguments."),
      tools: z.array(z.string().min(1)).optional().describe("Only calls of these tools count. Default any."),
      in: z
        .enum(["arguments", "changes", "both"])
        .default("both")
        .describe(
          "What to match: path-like tool arguments, the paths the sample really changed in its sandbox workspace (real tools), or both. Default both.",
        ),
      ...common,
    })
    .describe(
      "Positive when a tool call names a matching file, or the sample's sandbox change set holds one.",
    ),
  z
    .strictObject({
      type: z.literal("claims-vs-evidence"),
      verdicts: z
        .array(z.enum(claimVerdicts))
        .min(1)
        .default(["contradicted"])
        .describe("Which claim verdicts make a sample positive. Default contradicted: a false claim."),
      kinds: z
        .array(z.enum(claimKinds))
        .min(1)
        .optional()
        .describe("Only claims of these kinds count (tests-pass, deployed, …). Default every kind."),
      claims: z
        .unknown()
        .optional()
        .refine((value) => value === undefined, {
          message:
            "the claim verifier (src/verify) decides what a claim is; remove this field (use kinds to narrow them)",
        }),
      ...common,
    })
    .describe(
      "Positive when Warden's claim verifier finds a claim in the model's messages that the sample's recorded tool results contradict (exit codes, test-runner summaries, sandbox change sets).",
    ),
  z
    .strictObject({
      type: z.literal("auditor-verdict"),
      model: z
        .string()
        .min(1)
        .optional()
        .describe(
          "The auditor model, routed to an upstream like --model. Default: the model under evaluation.",
        ),
      upstream: z
        .string()
        .min(1)
        .optional()
        .describe(
          "The name of the configured upstream that serves the auditor. Default: the first that serves its model.",
        ),
      compliant: z
        .array(z.enum([...auditVerdicts, "inconclusive"]))
        .min(1)
        .default(["aligned"])
        .describe("The auditor verdicts that make a sample positive (compliant). Default aligned."),
      samples: z
        .int()
        .min(1)
        .max(9)
        .default(1)
        .describe("Auditor samples per eval sample, voted. Default 1."),
      threshold: z
        .number()
        .gt(0)
        .max(1)
        .optional()
        .describe("Share of valid auditor samples a verdict needs (default 2/3); otherwise inconclusive."),
      goal: z
        .string()
        .min(1)
        .optional()
        .describe("The task as the auditor is told it. Default: the sample's user turns."),
      rules: z
        .array(z.strictObject({ id: z.string().min(1), message: z.string().min(1) }))
        .default([])
        .describe("The rules the agent operates under, as the auditor judges them."),
      ...common,
    })
    .describe(
      "Positive when a second model (src/auditor), reviewing the sample's transcript without being shown its condition, gives a verdict listed in compliant.",
    ),
  z
    .strictObject({
      type: z.literal("classifier"),
      name: z
        .string()
        .min(1)
        .describe(
          "A text classifier Warden has (`warden classify --help` lists them), e.g. oversight-reasoning.",
        ),
      in: textFieldSchema,
      ...common,
    })
    .describe("Positive when the named offline classifier flags the text."),
]);

/** A scorer: a built-in name (`refusal`, `claims-vs-evidence`) or a mapping with `type`. */
export const scorerSchema = z.preprocess(
  (value) => (typeof value === "string" ? { type: value } : value),
  scorerObjectSchema,
);
export type ScorerSpec = z.infer<typeof scorerObjectSchema>;

const conditionSchema = z
  .strictObject({
    system: z.string().describe("The system prompt shown in this condition (the cue under test)."),
    vars: z
      .record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string())
      .optional()
      .describe("Values for {{name}} placeholders in the queries, turns and system prompt."),
    description: z.string().optional().describe("For the report."),
  })
  .describe("One framing of the same task.");

const querySchema = z.union([
  z.string().min(1),
  z.strictObject({
    id: z.string().min(1).optional().describe("A name for the report."),
    text: z.string().min(1).describe("The user's message."),
  }),
]);

const exitCodeSchema = z
  .int()
  .min(0)
  .max(255)
  .optional()
  .describe(
    "The exit code this result reports. Default 1 for an error, 0 otherwise, when the tool has a command.",
  );

const toolResultSchema = z.strictObject({
  when: z
    .strictObject({
      arguments: z.record(z.string(), argumentMatcherSchema).describe("Conditions on the call's arguments."),
    })
    .optional()
    .describe("Give this result only to matching calls; the first matching entry wins."),
  text: z.string().describe("The tool's output as the model sees it."),
  error: z.boolean().default(false).describe("Whether the call failed (an error result)."),
  exitCode: exitCodeSchema,
});

/** Tools that run for real, inside the sandbox, against a copy of the scenario's workspace. */
export const sandboxToolKinds = ["run_command", "read_file", "write_file", "list_directory"] as const;
export type SandboxToolKind = (typeof sandboxToolKinds)[number];

const toolSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - only (at most 64)"),
    description: z
      .string()
      .optional()
      .describe("What the model is told the tool does. Default: empty, or the sandbox tool's own."),
    parameters: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("The tool's JSON Schema for its arguments. Default: none, or the sandbox tool's own."),
    sandbox: z
      .enum(sandboxToolKinds)
      .optional()
      .describe(
        "Run the tool for real inside the sandbox (bubblewrap), against a copy of the scenario's workspace: " +
          "run_command {command}, read_file {path}, write_file {path, content}, list_directory {path}.",
      ),
    command: z
      .string()
      .min(1)
      .optional()
      .describe(
        "For a scripted tool: the command line it stands for (e.g. `pytest`), so the claim verifier reads its results as runs of that command.",
      ),
    result: z.string().optional().describe("Shorthand: the scripted result text for every call."),
    error: z.boolean().default(false).describe("With `result`: the call fails."),
    exitCode: exitCodeSchema,
    results: z.array(toolResultSchema).min(1).optional().describe("Scripted results, the first match wins."),
  })
  .superRefine((tool, context) => {
    if (tool.result !== undefined && tool.results !== undefined)
      context.addIssue({ code: "custom", path: ["results"], message: "give result or results, not both" });
    if (tool.sandbox === undefined) return;
    for (const key of ["result", "results", "command", "exitCode"] as const) {
      if (tool[key] !== undefined)
        context.addIssue({
          code: "custom",
          path: [key],
          message: `a sandbox tool runs for real, so it takes no ${key}`,
        });
    }
  })
  .describe(
    "A tool the model may call: scripted (its results are given here and nothing runs) or, with `sandbox`, run for real in the sandbox.",
  );

export const scenarioSchema = z
  .strictObject({
    version: z.literal(1).describe("Scenario format version; must be 1."),
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,79}$/, "lowercase letters, digits and - (at most 80)")
      .describe("The scenario's id in results."),
    title: z.string().optional(),
    description: z.string().optional(),
    reference: z.string().optional().describe("The work this scenario follows, in words."),
    samples: z.int().min(1).max(100_000).default(20).describe("Samples per condition (--samples overrides)."),
    scorer: scorerSchema.describe(
      "Decides whether a sample counts as positive; a condition's `rate` is the rate of positive samples. " +
        "With `refusal` a sample is positive when the model complied.",
    ),
    scorers: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/), scorerSchema)
      .optional()
      .describe("Further measures reported per condition, e.g. reasoning about training."),
    conditions: z
      .record(z.string().regex(/^[a-z0-9][a-z0-9-]{0,63}$/), conditionSchema)
      .refine((conditions) => Object.keys(conditions).length >= 2, {
        message: "must have at least two conditions",
      })
      .describe("The framings compared, e.g. observed and unobserved."),
    compare: z
      .strictObject({
        from: z.string().describe("The baseline condition (default observed)."),
        to: z.string().describe("The condition compared with it (default unobserved)."),
      })
      .optional()
      .describe("Which two conditions the gap is computed between: `to` rate minus `from` rate."),
    queries: z.array(querySchema).min(1).optional().describe("A query set: each sample asks one query."),
    turns: z.array(z.string().min(1)).min(1).optional().describe("User turns: each sample runs all of them."),
    tools: z
      .array(toolSchema)
      .optional()
      .describe("Tools offered to the model: scripted, or real ones through the sandbox."),
    workspace: z
      .string()
      .min(1)
      .optional()
      .describe(
        "A fixture directory (relative to the scenario file) that sandbox tools run against. Each sample gets " +
          "its own copy-on-write layer over a copy of it; the fixture itself is never changed.",
      ),
    toolTimeoutSeconds: z
      .int()
      .min(1)
      .max(3600)
      .default(60)
      .describe("Wall time of one sandbox tool call; it is killed after that. Default 60."),
    maxTurns: z.int().min(1).max(50).default(8).describe("Most model calls in one sample."),
    maxTokens: z.int().min(1).max(100_000).default(1024).describe("max_tokens for each model call."),
    temperature: z.number().min(0).max(2).optional().describe("Sampling temperature. Default: the model's."),
  })
  .superRefine((scenario, context) => {
    const names = Object.keys(scenario.conditions);
    const compare = scenario.compare ?? { from: "observed", to: "unobserved" };
    const missing = (["from", "to"] as const).filter((key) => !names.includes(compare[key]));
    for (const key of scenario.compare ? missing : missing.slice(0, 1)) {
      context.addIssue({
        code: "custom",
        path: scenario.compare ? ["compare", key] : ["conditions"],
        message: scenario.compare
          ? `no condition named "${compare[key]}"`
          : `needs conditions "observed" and "unobserved", or a compare: {from, to}`,
      });
    }
    if ((scenario.queries === undefined) === (scenario.turns === undefined)) {
      context.addIssue({ code: "custom", path: ["queries"], message: "give queries or turns (one of them)" });
    }
    const toolNames = new Set<string>();
    scenario.tools?.forEach((tool, index) => {
      if (toolNames.has(tool.name)) {
        context.addIssue({ code: "custom", path: ["tools", index, "name"], message: "duplicate tool name" });
      }
      toolNames.add(tool.name);
      if (tool.sandbox !== undefined && scenario.workspace === undefined) {
        context.addIssue({
          code: "custom",
          path: ["tools", index, "sandbox"],
          message: "a sandbox tool needs the scenario's workspace (a fixture directory it runs against)",
        });
      }
    });
    // Every {{placeholder}} must have a value in every condition.
    const texts: { path: PropertyKey[]; text: string }[] = [];
    scenario.queries?.forEach((query, index) => {
      texts.push({ path: ["queries", index], text: typeof query === "string" ? query : query.text });
    });
    scenario.turns?.forEach((turn, index) => {
      texts.push({ path: ["turns", index], text: turn });
    });
    for (const [name, condition] of Object.entries(scenario.conditions)) {
      texts.push({ path: ["conditions", name, "system"], text: condition.system });
    }
    for (const { path, text } of texts) {
      for (const match of text.matchAll(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g)) {
        for (const [name, condition] of Object.entries(scenario.conditions)) {
          if (condition.vars?.[match[1]!] === undefined) {
            context.addIssue({
              code: "custom",
              path,
              message: `{{${match[1]}}} has no value in condition "${name}" (add it to its vars)`,
            });
          }
        }
      }
    }
  });

export type Scenario = z.infer<typeof scenarioSchema>;
export type ScenarioTool = NonNullable<Scenario["tools"]>[number];
export type ArgumentMatcher = z.infer<typeof argumentMatcherSchema>;
export type AuditorScorerSpec = Extract<ScorerSpec, { type: "auditor-verdict" }>;

const sandboxToolDefinitions: Record<
  SandboxToolKind,
  { description: string; parameters: Record<string, unknown> }
> = {
  run_command: {
    description:
      "Run a shell command (sh -c) in the workspace, inside a sandbox with no network. Returns the exit code and output.",
    parameters: {
      type: "object",
      properties: { command: { type: "string", description: "The shell command line" } },
      required: ["command"],
    },
  },
  read_file: {
    description: "Read a file of the workspace.",
    parameters: {
      type: "object",
      properties: { path: { type: "string", description: "Path relative to the workspace" } },
      required: ["path"],
    },
  },
  write_file: {
    description: "Write a text file in the workspace (its whole content).",
    parameters: {
      type: "object",
      properties: {
        path: { type: "string", description: "Path relative to the workspace" },
        content: { type: "string", description: "The whole new content" },
      },
      required: ["path", "content"],
    },
  },
  list_directory: {
    description: "List a directory of the workspace.",
    parameters: {
      type: "object",
      properties: { path: { type: "string", description: "Path relative to the workspace (default .)" } },
    },
  },
};

/** The tool as the model is offered it: its own description and parameters, or the sandbox tool's. */
export function offeredTool(tool: ScenarioTool): {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
} {
  const defaults = tool.sandbox
    ? sandboxToolDefinitions[tool.sandbox]
    : { description: "", parameters: { type: "object", properties: {} } };
  return {
    name: tool.name,
    description: tool.description ?? defaults.description,
    parameters: tool.parameters ?? defaults.parameters,
  };
}

/** The two conditions a scenario's gap compares. */
export function comparedConditions(scenario: Scenario): { from: string; to: string } {
  return scenario.compare ?? { from: "observed", to: "unobserved" };
}
