import { z } from "zod";

/** The wire formats the scripted model server speaks. */
export const scriptApis = ["openai-chat", "openai-responses", "anthropic-messages"] as const;
export type ScriptApi = (typeof scriptApis)[number];

const nameSchema = z
  .string()
  .min(1)
  .max(120)
  .describe("A name for people reading the script; it appears in the server's request record.");

const textMatcherObjectSchema = z
  .strictObject({
    contains: z.string().min(1).optional().describe("Matches when the text contains this substring."),
    regex: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Matches when this RE2 regular expression (linear time; no lookaround or backreferences) is found in the text.",
      ),
    ignoreCase: z.boolean().optional().describe("Compare without regard to letter case. Default false."),
  })
  .superRefine((matcher, context) => {
    const kinds = (matcher.contains === undefined ? 0 : 1) + (matcher.regex === undefined ? 0 : 1);
    if (kinds !== 1) context.addIssue({ code: "custom", message: "give exactly one of contains or regex" });
  });

export const textMatcherSchema = z
  .union([z.string().min(1), textMatcherObjectSchema])
  .describe("A plain string (matches as a substring) or {contains | regex, ignoreCase}.");
export type TextMatcher = z.infer<typeof textMatcherSchema>;

const turnSchema = z
  .union([
    z.int().min(1),
    z
      .strictObject({
        min: z.int().min(1).optional().describe("The smallest matching turn."),
        max: z.int().min(1).optional().describe("The largest matching turn."),
      })
      .refine((range) => range.min === undefined || range.max === undefined || range.min <= range.max, {
        message: "min must not be greater than max",
      }),
  ])
  .describe(
    "The model turn this request asks for: 1 + the number of assistant messages already in the conversation " +
      "(a turn that only proposed tool calls counts). A number or {min, max}.",
  );

export const whenSchema = z
  .strictObject({
    api: z
      .union([z.enum(scriptApis), z.array(z.enum(scriptApis)).min(1)])
      .optional()
      .describe("The wire format(s) the request arrived in."),
    model: textMatcherSchema.optional().describe("Matches the model name the request asks for."),
    system: textMatcherSchema
      .optional()
      .describe(
        "Matches the system prompt (system/developer messages and instructions, joined by newlines).",
      ),
    lastUser: textMatcherSchema
      .optional()
      .describe("Matches the text of the last message the user wrote (tool results are not user messages)."),
    anyMessage: textMatcherSchema
      .optional()
      .describe("Matches when the text of any one message (any role) matches."),
    lastToolResult: textMatcherSchema.optional().describe("Matches the text of the most recent tool result."),
    tool: z
      .union([z.string().min(1), z.array(z.string().min(1)).min(1)])
      .optional()
      .describe("Tool name(s) that must all be offered in the request's tools."),
    turn: turnSchema.optional(),
    afterToolResult: z
      .boolean()
      .optional()
      .describe("true: the last message is a tool result; false: it is not."),
  })
  .describe(
    "Conditions that must all hold for the rule to apply. An empty or missing `when` always applies.",
  );
export type ScriptWhen = z.infer<typeof whenSchema>;

const toolCallSchema = z
  .strictObject({
    name: z.string().min(1).describe("The tool to call."),
    arguments: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "The call's arguments, an object (sent as a JSON string or object, as the wire format requires). Default {}.",
      ),
  })
  .describe("A tool call the model proposes.");
export type ScriptToolCall = z.infer<typeof toolCallSchema>;

const delaySchema = z
  .strictObject({
    firstByteMs: z
      .int()
      .min(0)
      .max(600_000)
      .optional()
      .describe("Milliseconds to wait before sending anything."),
    betweenChunksMs: z
      .int()
      .min(0)
      .max(60_000)
      .optional()
      .describe("Milliseconds to wait between consecutive server-sent events of a streamed reply."),
  })
  .describe("Delays, to simulate a slow model. An inner reply's delays replace an outer one's.");

const errorSchema = z
  .strictObject({
    status: z.int().min(400).max(599).describe("HTTP status, 400-599."),
    message: z.string().min(1).describe("The error message, in the wire format's own error shape."),
    type: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The error type (e.g. rate_limit_error). Default: derived from the status as the real API does.",
      ),
    code: z.string().min(1).optional().describe("OpenAI's error `code` field. Default null."),
  })
  .describe("Answer with an HTTP error instead of a reply.");

export interface ScriptReply {
  text?: string | undefined;
  reasoning?: string | undefined;
  toolCalls?: ScriptToolCall[] | undefined;
  delay?: z.infer<typeof delaySchema> | undefined;
  error?: z.infer<typeof errorSchema> | undefined;
  choice?: ScriptAlternative[] | undefined;
}

export interface ScriptAlternative {
  name?: string | undefined;
  probability?: number | undefined;
  reply: ScriptReply;
}

const probabilityTolerance = 1e-9;

const alternativeSchema: z.ZodType<ScriptAlternative, ScriptAlternative> = z
  .strictObject({
    name: nameSchema.optional(),
    probability: z
      .number()
      .min(0)
      .max(1)
      .optional()
      .describe("Chance of this alternative, 0-1. One alternative may leave it out and take what remains."),
    get reply() {
      return replySchema;
    },
  })
  .describe("One possible reply of a choice.");

export const replySchema: z.ZodType<ScriptReply, ScriptReply> = z
  .strictObject({
    text: z.string().optional().describe("The assistant's text."),
    reasoning: z
      .string()
      .optional()
      .describe(
        "Reasoning text: Anthropic `thinking` block, Responses `reasoning` item (summary), " +
          "Chat Completions `reasoning_content` (the vLLM/DeepSeek extension).",
      ),
    toolCalls: z.array(toolCallSchema).min(1).optional().describe("Tool calls the model proposes, in order."),
    delay: delaySchema.optional(),
    error: errorSchema.optional(),
    choice: z
      .array(alternativeSchema)
      .min(2)
      .optional()
      .describe("Pick one alternative at random (seeded: reproducible for a given seed and request order)."),
  })
  .superRefine((reply, context) => {
    const content = ["text", "reasoning", "toolCalls"].filter(
      (key) => reply[key as keyof ScriptReply] !== undefined,
    );
    if (reply.choice !== undefined) {
      for (const key of [...content, ...(reply.error === undefined ? [] : ["error"])]) {
        context.addIssue({
          code: "custom",
          path: [key],
          message: "a reply with a choice holds only choice and delay",
        });
      }
      checkProbabilities(reply.choice, context);
      return;
    }
    if (reply.error !== undefined) {
      for (const key of content) {
        context.addIssue({ code: "custom", path: [key], message: "an error reply has no content" });
      }
      return;
    }
    if (content.length === 0) {
      context.addIssue({ code: "custom", message: "give text, reasoning, toolCalls, error or choice" });
    }
  })
  .describe("What the model answers.");

function checkProbabilities(alternatives: ScriptAlternative[], context: z.RefinementCtx): void {
  const missing = alternatives.filter((alternative) => alternative.probability === undefined).length;
  const total = alternatives.reduce((sum, alternative) => sum + (alternative.probability ?? 0), 0);
  if (missing > 1) {
    context.addIssue({
      code: "custom",
      path: ["choice"],
      message: "at most one alternative may leave out its probability",
    });
  } else if (missing === 1 && total > 1 + probabilityTolerance) {
    context.addIssue({
      code: "custom",
      path: ["choice"],
      message: `probabilities add up to ${total}, more than 1`,
    });
  } else if (missing === 0 && Math.abs(total - 1) > probabilityTolerance) {
    context.addIssue({
      code: "custom",
      path: ["choice"],
      message: `probabilities add up to ${total}; they must add up to 1 (or leave one out to take the rest)`,
    });
  }
}

export const ruleSchema = z
  .strictObject({
    name: nameSchema.optional(),
    when: whenSchema.optional(),
    reply: replySchema,
  })
  .describe("Rules are tried in order; the first whose conditions all hold gives the reply.");
export type ScriptRule = z.infer<typeof ruleSchema>;

export const scriptSchema = z
  .strictObject({
    name: nameSchema.optional(),
    description: z.string().optional().describe("What this script simulates."),
    seed: z
      .int()
      .min(0)
      .max(2 ** 32 - 1)
      .optional()
      .describe("Seed for choices (0 to 2^32-1). The server's seed option overrides it. Default 0."),
    models: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe(
        "Model ids GET /v1/models lists (each shown with the `scripted:` prefix). Any model name is accepted.",
      ),
    rules: z.array(ruleSchema).optional().describe("The rules, tried in order."),
    default: replySchema
      .optional()
      .describe("The reply when no rule applies. Default: a short text saying so."),
  })
  .describe(
    "A scripted model: a Warden test instrument whose replies come from these rules, not from a model.",
  );

export type Script = z.infer<typeof scriptSchema>;
