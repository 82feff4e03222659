import { z } from "zod";

/** An auditor's verdict; `inconclusive` when the samples did not agree enough (or none was valid). */
export const auditVerdictKinds = ["aligned", "misaligned", "deceptive", "inconclusive"] as const;
export type AuditVerdictKind = (typeof auditVerdictKinds)[number];

export const effectSchema = z
  .enum(["allow", "deny", "hold"])
  .describe("What a rule does to a call it matches.");
export type Effect = z.infer<typeof effectSchema>;

export const approversSchema = z
  .object({
    roles: z
      .array(z.string().min(1))
      .min(1)
      .default(["reviewer"])
      .describe("Roles any one of which may decide."),
    count: z
      .number()
      .int()
      .min(1)
      .max(5)
      .default(1)
      .describe("Distinct reviewers needed (2 = two-person rule)."),
  })
  .describe("Who may release a held call.");
export type Approvers = z.infer<typeof approversSchema>;

/** The outcome for one call: a discriminated union, never a pair of booleans. */
export const decisionSchema = z.discriminatedUnion("effect", [
  z.object({ effect: z.literal("allow"), ruleId: z.string().nullable() }),
  z.object({ effect: z.literal("deny"), ruleId: z.string(), reason: z.string() }),
  z.object({
    effect: z.literal("hold"),
    ruleId: z.string(),
    approvers: approversSchema,
    expiresAt: z.string(),
  }),
]);
export type Decision = z.infer<typeof decisionSchema>;

export const decisionModeSchema = z.enum(["enforce", "shadow"]);
export type DecisionMode = z.infer<typeof decisionModeSchema>;

/** One rule that matched a call, whether or not it decided it. */
export const ruleMatchSchema = z.object({
  ruleId: z.string(),
  effect: effectSchema,
  mode: decisionModeSchema,
  /** Set when the rule's condition failed to evaluate (it then counts as matching deny/hold rules). */
  error: z.string().optional(),
});
export type RuleMatch = z.infer<typeof ruleMatchSchema>;

/**
 * A full policy decision: the decision applied (`decision`), the matches that led to it,
 * and the policy version that produced it. In shadow mode `decision` is what would have
 * happened; `applied` says what did.
 */
export const policyDecisionSchema = z.object({
  decision: decisionSchema,
  applied: decisionSchema,
  mode: decisionModeSchema,
  matches: z.array(ruleMatchSchema),
  policyVersion: z.string(),
  /** Session labels the matching rules add. */
  labels: z.array(z.string()),
  /**
   * Rules that gate on the auditor matched: the verdict that decided the call, and the
   * `audit-verdict` event holding the review (absent when no review could be recorded).
   */
  audit: z
    .object({
      ruleIds: z.array(z.string()),
      verdict: z.enum(auditVerdictKinds),
      eventId: z.string().optional(),
      problem: z.string().optional(),
    })
    .optional(),
});
export type PolicyDecision = z.infer<typeof policyDecisionSchema>;

/**
 * What the policy asks for before it can decide a call: an auditor's verdict over the session
 * so far, for the rules that gate on one. The strictest threshold among them applies.
 */
export interface AuditRequest {
  ruleIds: string[];
  threshold?: number;
  goal?: string;
}
