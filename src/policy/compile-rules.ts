import type { Environment } from "@marcbachmann/cel-js";
import { type Approvers, approversSchema, type DecisionMode, type Effect } from "../core/decision.js";
import { type CompiledCondition, compileCondition } from "./compile-condition.js";
import { type Constitution, defaultHoldTimeout } from "./constitution-schema.js";
import { parseDuration } from "./duration.js";

/** A constitution rule ready to evaluate. `order` is its position in the file. */
export interface CompiledRule {
  order: number;
  id: string;
  effect: Effect;
  mode: DecisionMode;
  labels: readonly string[];
  /** What the agent is told when this rule denies or holds its call. */
  agentMessage: string;
  approvers: Approvers;
  holdMilliseconds: number;
  condition: CompiledCondition;
  /** An allow rule that first asks the auditor (see `ruleAuditSchema`). */
  audit?: { otherwise: "deny" | "hold"; threshold?: number; goal?: string };
}

/** A rule whose condition does not compile: its position in the file and what is wrong. */
export interface RuleCompileFailure {
  order: number;
  problem: string;
}

export type CompileRulesResult =
  | { ok: true; rules: CompiledRule[] }
  | { ok: false; failures: RuleCompileFailure[] };

export const defaultApprovers: Approvers = approversSchema.parse({});

/** Compiles every rule's condition, reporting every rule that fails rather than the first. */
export function compileRules(environment: Environment, constitution: Constitution): CompileRulesResult {
  const rules: CompiledRule[] = [];
  const failures: RuleCompileFailure[] = [];
  constitution.rules.forEach((rule, order) => {
    const compiled = compileCondition(environment, rule.when);
    if (!compiled.ok) {
      failures.push({ order, problem: compiled.problem });
      return;
    }
    if (compiled.condition.readsResult && rule.effect !== "allow") {
      // The call has already happened when its result arrives: such a rule can label, not decide.
      failures.push({
        order,
        problem: "a rule that reads `result` runs after the call and can only add labels; use effect: allow",
      });
      return;
    }
    rules.push({
      order,
      id: rule.id,
      effect: rule.effect,
      mode: rule.mode,
      labels: rule.labels,
      agentMessage: rule.message ?? rule.rationale ?? `The rule ${rule.id} decided this call.`,
      approvers: rule.approvers ?? defaultApprovers,
      holdMilliseconds: parseDuration(rule.holdTimeout ?? defaultHoldTimeout) ?? 300_000,
      condition: compiled.condition,
      ...(rule.audit === undefined ? {} : { audit: rule.audit }),
    });
  });
  return failures.length > 0 ? { ok: false, failures } : { ok: true, rules };
}
