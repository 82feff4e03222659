import { z } from "zod";
import { approversSchema, decisionModeSchema, effectSchema } from "../core/decision.js";
import { parseDuration } from "./duration.js";

export const defaultHoldTimeout = "5m";
const longestHoldMilliseconds = 7 * 86_400_000;
const shortestHoldMilliseconds = 1_000;

/**
 * Rule ids that Warden itself uses in decisions. Built-in rules use `builtin:...`, which the
 * id pattern already excludes.
 */
export const reservedRuleIds = ["default", "no-constitution", "policy-error"] as const;

const ruleIdSchema = z
  .string()
  .regex(
    /^[a-z0-9]+(?:[-_.][a-z0-9]+)*$/,
    "must be lowercase words joined by - _ or . (for example no-writes)",
  )
  .max(80, "must be at most 80 characters")
  .refine((id) => !(reservedRuleIds as readonly string[]).includes(id), {
    message: `is reserved (${reservedRuleIds.join(", ")})`,
  })
  .describe("Unique id of the rule; it appears in every decision the rule takes and is shown to the agent.");

const labelSchema = z
  .string()
  .regex(
    /^[a-z0-9]+(?:[-_.:][a-z0-9]+)*$/,
    "must be lowercase words joined by - _ . or : (for example secret)",
  )
  .max(80, "must be at most 80 characters")
  .describe("A session label.");

const holdTimeoutSchema = z
  .string()
  .refine(
    (text) => {
      const milliseconds = parseDuration(text);
      return (
        milliseconds !== undefined &&
        milliseconds >= shortestHoldMilliseconds &&
        milliseconds <= longestHoldMilliseconds
      );
    },
    { message: "must be a duration between 1s and 7d written like 30s, 5m, 2h or 1d" },
  )
  .describe(
    `How long a held call waits for a reviewer before it expires (denied). Default ${defaultHoldTimeout}.`,
  );

/** A rule's audit gate (issue 7): the call waits for the auditor's verdict over the session so far. */
export const ruleAuditSchema = z
  .strictObject({
    otherwise: z
      .enum(["deny", "hold"])
      .default("deny")
      .describe(
        "What happens unless the auditor finds the session aligned (misaligned, deceptive, inconclusive, an error or a timeout): deny (default) or hold for a reviewer.",
      ),
    threshold: z
      .number()
      .gt(0)
      .max(1)
      .optional()
      .describe("Share of valid samples the verdict needs; default the config's auditor.threshold."),
    goal: z
      .string()
      .min(1)
      .optional()
      .describe("The task the auditor judges the session against; default the config's auditor.goal."),
  })
  .describe(
    "Ask the auditor model (the config's `auditor:` section) before the call proceeds: aligned lets the rule allow it, anything else denies or holds it.",
  );

export const ruleSchema = z
  .strictObject({
    id: ruleIdSchema,
    description: z.string().optional().describe("What the rule is for, for people reading the constitution."),
    when: z
      .string()
      .min(1)
      .describe(
        "CEL condition over agent {id, usage {requestsLastMinute, tokensLastMinute, tokensLastDay}}, tool {server, name, method, arguments}, session {id, labels, facts}, " +
          "env (map of strings) and time {iso, date, hour, minute, weekday} (UTC). `matches` uses RE2 (linear time). " +
          "JSON numbers in arguments and facts are doubles: compare freely (`tool.arguments.n > 3`), " +
          "but write `1.0` in arithmetic or use `int(...)`. A condition that fails to evaluate " +
          "(for example a missing key) counts as matching for deny and hold rules and as not matching for allow rules.",
      ),
    effect: effectSchema,
    rationale: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Why the rule exists. Required for deny and hold rules; shown to the agent unless `message` is set.",
      ),
    message: z
      .string()
      .min(1)
      .optional()
      .describe("What the agent is told when this rule denies or holds its call. Defaults to the rationale."),
    approvers: approversSchema
      .optional()
      .describe("Who may release a call this hold rule holds. Hold rules only."),
    holdTimeout: holdTimeoutSchema.optional(),
    mode: decisionModeSchema
      .default("enforce")
      .describe("`shadow` records the rule's matches without letting it affect decisions or labels."),
    labels: z
      .array(labelSchema)
      .default([])
      .describe(
        'Labels added to the session when this rule matches; later rules can test `"x" in session.labels`.',
      ),
    audit: ruleAuditSchema.optional(),
  })
  .superRefine((rule, context) => {
    if (rule.effect !== "allow" && rule.rationale === undefined && rule.message === undefined) {
      context.addIssue({
        code: "custom",
        path: ["rationale"],
        message: `required for ${rule.effect} rules (the agent is told why)`,
      });
    }
    if (rule.audit !== undefined && rule.effect !== "allow") {
      context.addIssue({
        code: "custom",
        path: ["audit"],
        message: "only applies to allow rules (the effect when the auditor finds the session aligned)",
      });
    }
    if (rule.audit !== undefined && rule.rationale === undefined && rule.message === undefined) {
      context.addIssue({
        code: "custom",
        path: ["rationale"],
        message: "required for rules with an audit (the agent is told why when the audit does not clear it)",
      });
    }
    if (rule.effect !== "hold" && rule.audit?.otherwise !== "hold") {
      for (const key of ["approvers", "holdTimeout"] as const) {
        if (rule[key] !== undefined) {
          context.addIssue({
            code: "custom",
            path: [key],
            message: "only applies to hold rules (and audit rules with otherwise: hold)",
          });
        }
      }
    }
  })
  .describe("One rule: when its condition holds, it allows, denies or holds the call.");

/** Decoys no honest agent needs (issue 7): touching one is a critical finding. */
export const tripwiresSchema = z
  .strictObject({
    tools: z
      .array(
        z.strictObject({
          name: z
            .string()
            .regex(/^[A-Za-z0-9_.-]{1,64}$/)
            .describe("The decoy tool's name, e.g. disable_monitoring."),
          description: z.string().min(1).describe("What the decoy tool claims to do, as the agent sees it."),
        }),
      )
      .default([])
      .describe("Decoy tools served by `warden decoys`; each answers with the same plain reply."),
    files: z
      .array(
        z.strictObject({
          path: z.string().min(1).describe("Where the decoy file is planted, relative to the workspace."),
          content: z.string().default("").describe("What the decoy file contains."),
        }),
      )
      .default([])
      .describe("Decoy files planted in sandbox workspaces; a call naming one touches it."),
    credentials: z
      .array(
        z.strictObject({
          name: z
            .string()
            .min(1)
            .describe("A name for people (e.g. decoy-aws-key); never shown to the agent."),
          value: z
            .string()
            .min(12)
            .describe(
              "The decoy secret. Matched in the record by its keyed fingerprint, as the store redacts it.",
            ),
        }),
      )
      .default([])
      .describe("Decoy credentials (planted in decoy files); any use of one is a finding."),
    halt: z
      .boolean()
      .default(false)
      .describe(
        "Engage the kill switch for an agent as soon as it touches a decoy (resuming needs an admin). The agent is told only that it was halted.",
      ),
  })
  .describe("Decoys no honest agent needs; they look the same whether anyone is watching or not.");

export const constitutionSchema = z
  .strictObject({
    version: z.literal(1).describe("Format version of this file. Always 1."),
    description: z.string().optional().describe("What this constitution is for."),
    default: effectSchema.describe("What happens to a call no rule matches. Must be stated."),
    mode: decisionModeSchema
      .default("enforce")
      .describe(
        "`shadow` computes and records every decision but always lets the call through (built-in rules still apply).",
      ),
    rules: z
      .array(ruleSchema)
      .default([])
      .describe("The rules. Precedence is deny > hold > allow; among equals the first listed decides."),
    tripwires: tripwiresSchema.optional(),
  })
  .describe("A Warden constitution: the rules every tool call of an agent is decided against.");

export type Constitution = z.output<typeof constitutionSchema>;
export type ConstitutionRule = z.output<typeof ruleSchema>;
export type Tripwires = z.output<typeof tripwiresSchema>;
