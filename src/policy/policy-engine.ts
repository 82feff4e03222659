import type {
  Approvers,
  AuditRequest,
  AuditVerdictKind,
  Decision,
  DecisionMode,
  PolicyDecision,
  RuleMatch,
} from "../core/decision.js";
import { errorMessage, WardenError } from "../core/errors.js";
import { type BuiltinRuleOptions, createBuiltinRules } from "./builtin/builtin-rules.js";
import type { CompiledRule } from "./compile-rules.js";
import { compileRules, defaultApprovers } from "./compile-rules.js";
import {
  AgentContext,
  type ConditionContext,
  createConditionEnvironment,
  FindingsContext,
  ResultContext,
  SessionContext,
  TimeContext,
  ToolContext,
  UsageContext,
} from "./condition-environment.js";
import type { Constitution } from "./constitution-schema.js";
import { defaultHoldTimeout } from "./constitution-schema.js";
import { parseDuration } from "./duration.js";
import { computePolicyVersion } from "./policy-version.js";
import { RuleIndex } from "./rule-index.js";

/** One call to decide. JSON numbers in `arguments` and `facts` are CEL doubles. */
export interface DecisionInput {
  /** `usage`: the agent's recent model traffic through the gateway; absent counts as zero. */
  agent: {
    id: string;
    usage?: { requestsLastMinute: number; tokensLastMinute: number; tokensLastDay: number } | undefined;
  };
  tool: {
    server: string;
    name: string;
    method: string;
    arguments: unknown;
    workingDirectory?: string | undefined;
  };
  session: {
    id: string;
    labels: readonly string[];
    facts?: Readonly<Record<string, unknown>>;
    findings?: { count: number; critical: number; high: number; detectors: readonly string[] } | undefined;
    /** The auditor's verdict on this call, once a rule gating on it has asked (`auditRequest`). */
    audit?: { verdict: AuditVerdictKind } | undefined;
  };
  env?: Readonly<Record<string, string>>;
}

/** A decision, or (with `auditRequest`) what the decision waits for: decide again with the verdict. */
export type EngineDecision = PolicyDecision & { auditRequest?: AuditRequest };

export interface PolicyEngineOptions {
  /** `null` when no constitution is loaded: every call is denied (`no-constitution`). */
  constitution: Constitution | null;
  builtins: BuiltinRuleOptions;
  /**
   * `indexed` (default) evaluates only the rules whose tool-name/server requirement admits the
   * call; `all` evaluates every rule. They decide identically; `all` exists to show that.
   */
  ruleSelection?: "indexed" | "all";
}

export interface PolicyEngine {
  /** `sha256:...` of the constitution and the built-in rules. */
  readonly version: string;
  /** Some rule reads `session.findings`: decisions wait (a bounded time) for the detectors. */
  readonly readsFindings: boolean;
  /** The constitution's rules as the auditor is shown them. */
  readonly ruleMessages: readonly { id: string; message: string }[];
  /**
   * Never throws: an internal failure is a deny with rule id `policy-error`. When a matching
   * rule gates on the auditor and `input.session.audit` is absent, the result carries an
   * `auditRequest` (and no deny matched): decide again with the verdict.
   */
  decide(input: DecisionInput, now?: Date): EngineDecision;
  /**
   * The labels that rules reading `result` add once a call's result has arrived. Enforce-mode
   * rules only; a condition that fails to evaluate adds nothing. Never throws.
   */
  labelsForResult(input: DecisionInput, result: { text: string; isError: boolean }, now?: Date): string[];
}

export const noConstitutionRuleId = "no-constitution";
export const policyErrorRuleId = "policy-error";
export const defaultRuleId = "default";

const noConstitutionReason =
  "No constitution is loaded, so Warden denies every call until an operator loads one. This is not about your request.";
const defaultDenyReason =
  "No rule of the constitution allows this call, and its default is to deny. Ask the operator if you need it.";

/**
 * Builds the engine that decides every tool call: Warden's built-in rules first (always
 * enforced), then the constitution's rules. Precedence is deny > hold > allow; among rules of
 * the same effect the first one listed decides; with no match the constitution's stated
 * default applies. Every matching rule is recorded, shadow rules included.
 *
 * Throws `policy-invalid` if a rule's condition does not compile (parseConstitution has
 * already reported that for constitutions read from files).
 */
export function createPolicyEngine(options: PolicyEngineOptions): PolicyEngine {
  const { constitution } = options;
  const builtins = createBuiltinRules(options.builtins);
  const version = computePolicyVersion(constitution, builtins.fingerprint);
  const mode: DecisionMode = constitution?.mode ?? "enforce";

  let rules: CompiledRule[] = [];
  if (constitution) {
    const compiled = compileRules(createConditionEnvironment(), constitution);
    if (!compiled.ok) {
      const problems = compiled.failures.map((failure) => `rules[${failure.order}].when: ${failure.problem}`);
      throw new WardenError("policy-invalid", `the constitution does not compile: ${problems.join("; ")}`, {
        details: { problems },
      });
    }
    rules = compiled.rules;
  }
  const index = new RuleIndex(rules);
  const selectRules =
    options.ruleSelection === "all"
      ? () => rules
      : (server: string, name: string) => index.select(server, name);
  const defaultHoldMilliseconds = parseDuration(defaultHoldTimeout) ?? 300_000;

  function decideOrThrow(input: DecisionInput, now: Date): EngineDecision {
    const matches: RuleMatch[] = [];
    const labels = new Set<string>();
    let deny: Decision | undefined;
    let hold: Decision | undefined;
    let allow: Decision | undefined;
    const audits: CompiledRule[] = [];

    const { method, name, arguments: callArguments, workingDirectory } = input.tool;
    for (const violation of builtins.check({ method, name, arguments: callArguments, workingDirectory })) {
      matches.push({ ruleId: violation.ruleId, effect: "deny", mode: "enforce" });
      deny ??= { effect: "deny", ruleId: violation.ruleId, reason: violation.reason };
    }
    const builtinDeny = deny;

    if (constitution) {
      const selected = selectRules(input.tool.server, input.tool.name);
      const context = selected.length > 0 ? conditionContext(input, now) : undefined;
      for (const rule of selected) {
        if (rule.condition.readsResult) continue;
        const outcome = rule.condition.evaluate(context as ConditionContext);
        // Fail closed: a condition that cannot be evaluated counts for deny and hold rules and
        // against allow rules. The error is recorded either way, so a broken allow rule shows.
        const matched = outcome.error === undefined ? outcome.holds : rule.effect !== "allow";
        if (!matched && outcome.error === undefined) continue;
        const match: RuleMatch = { ruleId: rule.id, effect: rule.effect, mode: rule.mode };
        if (outcome.error !== undefined) match.error = outcome.error;
        matches.push(match);
        if (!matched || rule.mode === "shadow") continue;
        for (const label of rule.labels) labels.add(label);
        if (rule.effect === "deny") deny ??= { effect: "deny", ruleId: rule.id, reason: rule.agentMessage };
        else if (rule.effect === "hold")
          hold ??= holdDecision(rule.id, rule.approvers, now, rule.holdMilliseconds);
        else if (rule.audit !== undefined) audits.push(rule);
        else allow ??= { effect: "allow", ruleId: rule.id };
      }
    }

    const verdict = input.session.audit?.verdict;
    let auditRequest: AuditRequest | undefined;
    if (audits.length > 0 && verdict === undefined && deny === undefined) {
      auditRequest = auditRequestOf(audits);
      // Until the verdict is in, an audit rule is an allow that waits (it never decides alone).
      allow = { effect: "allow", ruleId: audits[0]!.id };
    } else if (audits.length > 0 && verdict === "aligned") {
      allow = { effect: "allow", ruleId: audits[0]!.id };
    } else if (audits.length > 0) {
      const [rule] = audits as [CompiledRule];
      const reason = `${rule.agentMessage} (The auditor's review of this session did not clear the call: ${verdict ?? "not reviewed"}.)`;
      if (rule.audit?.otherwise === "hold")
        hold ??= holdDecision(rule.id, rule.approvers, now, rule.holdMilliseconds);
      else deny ??= { effect: "deny", ruleId: rule.id, reason };
    }

    const decision = deny ?? hold ?? allow ?? fallbackDecision(constitution, now, defaultHoldMilliseconds);
    // Shadow mode records what would have happened and lets the call through, except that the
    // built-in rules are never shadowed.
    const applied: Decision =
      mode === "shadow" ? (builtinDeny ?? { effect: "allow", ruleId: null }) : decision;
    const decided = { decision, applied, mode, matches, policyVersion: version, labels: [...labels] };
    return auditRequest === undefined ? decided : { ...decided, auditRequest };
  }

  const resultRules = rules.filter((rule) => rule.condition.readsResult && rule.mode === "enforce");

  return {
    version,
    ruleMessages: (constitution?.rules ?? []).map((rule) => ({
      id: rule.id,
      message: rule.message ?? rule.rationale ?? "",
    })),
    readsFindings: (constitution?.rules ?? []).some((rule) =>
      /\bsession\s*\.\s*findings\b/.test(rule.when ?? ""),
    ),
    labelsForResult(input, result, now = new Date()) {
      const labels = new Set<string>();
      if (resultRules.length === 0) return [];
      try {
        const context = {
          ...conditionContext(input, now),
          result: new ResultContext(result.text, result.isError),
        };
        for (const rule of resultRules) {
          if (rule.condition.evaluate(context).holds) for (const label of rule.labels) labels.add(label);
        }
      } catch {
        return [];
      }
      return [...labels];
    },
    decide(input, now = new Date()) {
      try {
        return decideOrThrow(input, now);
      } catch (error) {
        return policyErrorDecision(version, mode, error);
      }
    },
  };
}

/** One audit serves every matching audit rule: the strictest threshold, the first goal given. */
function auditRequestOf(rules: readonly CompiledRule[]): AuditRequest {
  const thresholds = rules.flatMap((rule) =>
    rule.audit?.threshold === undefined ? [] : [rule.audit.threshold],
  );
  const goal = rules.find((rule) => rule.audit?.goal !== undefined)?.audit?.goal;
  return {
    ruleIds: rules.map((rule) => rule.id),
    ...(thresholds.length === 0 ? {} : { threshold: Math.max(...thresholds) }),
    ...(goal === undefined ? {} : { goal }),
  };
}

/** The decision when no engine could be built at all (for example the constitution failed to load). */
export function noConstitutionDecision(policyVersion: string): PolicyDecision {
  const decision: Decision = { effect: "deny", ruleId: noConstitutionRuleId, reason: noConstitutionReason };
  return { decision, applied: decision, mode: "enforce", matches: [], policyVersion, labels: [] };
}

function fallbackDecision(constitution: Constitution | null, now: Date, holdMilliseconds: number): Decision {
  if (!constitution) return { effect: "deny", ruleId: noConstitutionRuleId, reason: noConstitutionReason };
  switch (constitution.default) {
    case "allow":
      return { effect: "allow", ruleId: defaultRuleId };
    case "hold":
      return holdDecision(defaultRuleId, defaultApprovers, now, holdMilliseconds);
    case "deny":
      return { effect: "deny", ruleId: defaultRuleId, reason: defaultDenyReason };
  }
}

function holdDecision(ruleId: string, approvers: Approvers, now: Date, holdMilliseconds: number): Decision {
  return {
    effect: "hold",
    ruleId,
    // A copy: decisions travel on to the store and approvals and must not share the rule's object.
    approvers: { roles: [...approvers.roles], count: approvers.count },
    expiresAt: new Date(now.getTime() + holdMilliseconds).toISOString(),
  };
}

function policyErrorDecision(policyVersion: string, mode: DecisionMode, error: unknown): PolicyDecision {
  // Fail closed, in shadow mode too: a policy that cannot be evaluated lets nothing through.
  const decision: Decision = {
    effect: "deny",
    ruleId: policyErrorRuleId,
    reason: `Warden could not evaluate its policy for this call (${errorMessage(error)}), so the call was denied.`,
  };
  return { decision, applied: decision, mode, matches: [], policyVersion, labels: [] };
}

function conditionContext(input: DecisionInput, now: Date): ConditionContext {
  return {
    agent: new AgentContext(input.agent.id, UsageContext.of(input.agent.usage)),
    // MCP makes arguments optional; an absent object is an empty one.
    tool: new ToolContext(input.tool.server, input.tool.name, input.tool.method, input.tool.arguments ?? {}),
    session: new SessionContext(
      input.session.id,
      input.session.labels,
      input.session.facts ?? {},
      FindingsContext.of(input.session.findings),
    ),
    env: input.env ?? {},
    time: TimeContext.at(now),
    result: ResultContext.none,
  };
}
