import { createHash } from "node:crypto";
import type { ApprovalOutcome, ApprovalQueue } from "../approvals/approval-queue.js";
import { canonicalJson } from "../core/canonical-json.js";
import type { AuditRequest, AuditVerdictKind, Decision, PolicyDecision } from "../core/decision.js";
import { errorMessage, WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import type { StoredEvent } from "../core/events.js";
import { createIdFactory, newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import {
  type CallIdentity,
  type CallVerdict,
  type Oversight,
  PENDING_APPROVAL_RULE,
  type ToolCallRequest,
  type ToolDefinitionsCheck,
} from "../core/oversight.js";
import type { AgentUsageFacts } from "../gateway/index.js";
import { defaultApprovers } from "../policy/compile-rules.js";

/** What the daemon needs from the policy engine (policy/ implements it). */
export interface SessionFindings {
  count: number;
  critical: number;
  high: number;
  detectors: string[];
}

export interface PolicyDecider {
  readonly version: string;
  /** Some rule reads `session.findings` (optional for test doubles). */
  readonly readsFindings?: boolean;
  /** With `auditRequest`: a rule gates on the auditor; decide again with `session.audit`. */
  decide(input: DecisionInputShape, now?: Date): PolicyDecision & { auditRequest?: AuditRequest };
  /** The constitution's rules as the auditor is shown them (optional for test doubles). */
  readonly ruleMessages?: readonly { id: string; message: string }[];
  /** Labels from rules that read the call's result (optional for test doubles). */
  labelsForResult?(
    input: DecisionInputShape,
    result: { text: string; isError: boolean },
    now?: Date,
  ): string[];
}

interface DecisionInputShape {
  agent: { id: string; usage?: AgentUsageFacts | undefined };
  tool: {
    server: string;
    name: string;
    method: string;
    arguments: unknown;
    workingDirectory?: string | undefined;
  };
  session: { id: string; labels: string[]; audit?: { verdict: AuditVerdictKind } | undefined };
  env?: Record<string, string>;
}

/** The auditor's verdict for a call a rule gates on, and the `audit-verdict` event recording it. */
export interface AuditGateOutcome {
  verdict: AuditVerdictKind;
  eventId?: string;
  problem?: string;
}

/** Reviews the session so far, with the pending call, and records the verdict. Never throws. */
export type AuditGate = (request: ToolCallRequest, auditRequest: AuditRequest) => Promise<AuditGateOutcome>;

interface ToolPin {
  definitionHash: string;
  /** The newest definition seen, when it differs from the pin. */
  changedTo: string | null;
}

/**
 * The daemon's side of the oversight seam: decides with the current constitution, records
 * call and decision durably before answering, holds for people, records results, and pins
 * tool definitions.
 */
export class OversightService implements Oversight {
  readonly #store: EventStore;
  readonly #logger: Logger;
  readonly #getPolicy: () => PolicyDecider;
  readonly #findingsOf: ((sessionId: string) => Promise<SessionFindings>) | undefined;
  readonly #awaitDetectors: (() => Promise<void>) | undefined;
  readonly #findingsWaitMs: number;
  readonly #auditGate: AuditGate | undefined;
  readonly #approvals: ApprovalQueue;
  readonly #now: () => Date;
  readonly #agentUsage: ((agentId: string) => AgentUsageFacts) | undefined;
  readonly #nextId = createIdFactory();
  readonly #sessionLabels = new Map<string, Set<string>>();
  readonly #pins = new Map<string, ToolPin>();
  /** Allowed calls whose result has not arrived yet (bounded: the oldest are forgotten). */
  readonly #callsAwaitingResult = new Map<string, ToolCallRequest>();
  /** Halts by the kill switch, each with its reason: everything, agents by id, sessions by id. */
  readonly #haltListeners = new Set<
    (halt: { covers(identity: { agentId: string; sessionId: string }): boolean; reason: string }) => void
  >();
  readonly #halts = {
    all: null as string | null,
    agents: new Map<string, string>(),
    sessions: new Map<string, string>(),
  };

  constructor(options: {
    store: EventStore;
    logger: Logger;
    getPolicy: () => PolicyDecider;
    /** The session's findings so far, for rules reading `session.findings`. */
    findingsOf?: (sessionId: string) => Promise<SessionFindings>;
    /** Resolves once the detectors have inspected every event appended before the call. */
    awaitDetectors?: () => Promise<void>;
    /** The longest a decision waits for the detectors (default 500 ms); then it decides on what they have. */
    findingsWaitMs?: number;
    /** The auditor, for rules that gate on one; absent, such rules deny (or hold): fail closed. */
    auditGate?: AuditGate;
    approvals: ApprovalQueue;
    now?: () => Date;
    /** The agent's recent model traffic, for rules reading `agent.usage` (the gateway counts it). */
    agentUsage?: (agentId: string) => AgentUsageFacts;
  }) {
    this.#agentUsage = options.agentUsage;
    this.#store = options.store;
    this.#logger = options.logger;
    this.#getPolicy = options.getPolicy;
    this.#findingsOf = options.findingsOf;
    this.#awaitDetectors = options.awaitDetectors;
    this.#findingsWaitMs = options.findingsWaitMs ?? 500;
    this.#auditGate = options.auditGate;
    this.#approvals = options.approvals;
    this.#now = options.now ?? (() => new Date());
  }

  /** Rebuilds pins, session labels and the kill switch from the record after a restart. */
  async restore(): Promise<void> {
    let afterSeq = 0;
    for (;;) {
      const events = await this.#store.read({
        afterSeq,
        limit: 5000,
        types: [
          "tool-pin",
          "policy-decision",
          "tool-result",
          "kill-switch",
          "grant-created",
          "grant-revoked",
        ],
      });
      if (events.length === 0) break;
      for (const event of events) {
        if (event.type === "tool-pin") {
          const data = event.data as { server: string; tool: string; definitionHash: string; status: string };
          const key = pinKey(data.server, data.tool);
          if (data.status === "changed") {
            const pin = this.#pins.get(key);
            if (pin) pin.changedTo = data.definitionHash;
          } else {
            this.#pins.set(key, { definitionHash: data.definitionHash, changedTo: null });
          }
        } else if (event.type === "kill-switch") {
          // The switch survives a restart: the last recorded state holds.
          const data = event.data as {
            engaged: boolean;
            reason?: string;
            scope?: KillSwitchScope;
            target?: string;
          };
          this.#setHalt(data.scope ?? "all", data.target, data.engaged, data.reason ?? "");
        } else if (event.type === "grant-created" || event.type === "grant-revoked") {
          this.#approvals.grants.restore(event);
        } else {
          const data = event.data as { labels?: string[] };
          if (data.labels && data.labels.length > 0) this.#labelsOf(event.sessionId, data.labels);
        }
      }
      afterSeq = events[events.length - 1]!.seq;
    }
  }

  get approvals(): ApprovalQueue {
    return this.#approvals;
  }

  setKillSwitch(engaged: boolean, reason: string): void {
    this.#setHalt("all", undefined, engaged, reason);
  }

  /**
   * The kill switch: halts (or resumes) everything, one agent or one session. A halt takes
   * effect before it is recorded (later calls are denied at once), then calls held in its scope
   * are denied. Each use is a `kill-switch` event.
   */
  async applyKillSwitch(change: {
    engaged: boolean;
    scope: KillSwitchScope;
    target?: string | undefined;
    reason: string;
    by: string;
  }): Promise<{ engaged: boolean; deniedHeldCalls: number }> {
    const { engaged, scope, target, reason, by } = change;
    if (scope !== "all" && !target)
      throw new WardenError("input-invalid", `a ${scope} halt needs a target id`);
    this.#setHalt(scope, target, engaged, reason);
    await this.#store.append({
      type: "kill-switch",
      agentId: scope === "agent" && target ? target : "warden",
      sessionId: scope === "session" && target ? target : "warden",
      traceId: newTraceId(),
      spanId: newSpanId(),
      data: { engaged, by, reason, scope, ...(target ? { target } : {}) },
    });
    if (!engaged) return { engaged, deniedHeldCalls: 0 };
    const covers = (identity: { agentId: string; sessionId: string }) =>
      scope === "all" ||
      (scope === "agent" && identity.agentId === target) ||
      (scope === "session" && identity.sessionId === target);
    for (const listener of this.#haltListeners) {
      try {
        listener({ covers, reason });
      } catch (error) {
        this.#logger.error({ error: (error as Error).message }, "kill-switch listener failed");
      }
    }
    const deniedHeldCalls = await this.#approvals.denyWhere(
      (call) => covers(call.identity),
      by,
      `stopped by the kill switch${reason ? `: ${reason}` : ""}`,
    );
    return { engaged, deniedHeldCalls };
  }

  /**
   * An oversight event another replica recorded (PostgreSQL replicas share the database): a
   * kill-switch use or a grant. It takes effect here as it did there, without being recorded
   * again; a halt also denies the calls held here in its scope.
   */
  async applyReplicated(event: StoredEvent): Promise<void> {
    if (event.type === "grant-created" || event.type === "grant-revoked") {
      this.#approvals.grants.restore(event);
      return;
    }
    if (event.type !== "kill-switch") return;
    const data = event.data as {
      engaged: boolean;
      by: string;
      reason?: string;
      scope?: KillSwitchScope;
      target?: string;
    };
    const scope = data.scope ?? "all";
    const reason = data.reason ?? "";
    this.#setHalt(scope, data.target, data.engaged, reason);
    if (!data.engaged) return;
    const covers = (identity: { agentId: string; sessionId: string }) =>
      scope === "all" ||
      (scope === "agent" && identity.agentId === data.target) ||
      (scope === "session" && identity.sessionId === data.target);
    // Open streams here end too, as on the replica where the switch was pressed.
    for (const listener of this.#haltListeners) {
      try {
        listener({ covers, reason });
      } catch (error) {
        this.#logger.error({ error: (error as Error).message }, "kill-switch listener failed");
      }
    }
    await this.#approvals.denyWhere(
      (call) => covers(call.identity),
      data.by,
      `stopped by the kill switch${reason ? `: ${reason}` : ""}`,
    );
  }

  /** Tells `listener` of each halt as it is engaged (the gateway ends the open streams it covers). */
  onHalt(
    listener: (halt: {
      covers(identity: { agentId: string; sessionId: string }): boolean;
      reason: string;
    }) => void,
  ): () => void {
    this.#haltListeners.add(listener);
    return () => this.#haltListeners.delete(listener);
  }

  killSwitchState(): {
    all: { reason: string } | null;
    agents: { agentId: string; reason: string }[];
    sessions: { sessionId: string; reason: string }[];
  } {
    return {
      all: this.#halts.all === null ? null : { reason: this.#halts.all },
      agents: [...this.#halts.agents].map(([agentId, reason]) => ({ agentId, reason })),
      sessions: [...this.#halts.sessions].map(([sessionId, reason]) => ({ sessionId, reason })),
    };
  }

  #setHalt(scope: KillSwitchScope, target: string | undefined, engaged: boolean, reason: string): void {
    if (scope === "all") this.#halts.all = engaged ? reason : null;
    else if (target) {
      const map = scope === "agent" ? this.#halts.agents : this.#halts.sessions;
      if (engaged) map.set(target, reason);
      else map.delete(target);
    }
  }

  #haltOf(request: ToolCallRequest): { what: string; reason: string } | null {
    if (this.#halts.all !== null) return { what: "All agent actions are", reason: this.#halts.all };
    const agent = this.#halts.agents.get(request.agentId);
    if (agent !== undefined) return { what: `The actions of agent ${request.agentId} are`, reason: agent };
    const session = this.#halts.sessions.get(request.sessionId);
    if (session !== undefined) return { what: "The actions of this session are", reason: session };
    return null;
  }

  /**
   * The session's findings, when a rule reads them: first waits (bounded) for the detectors to
   * reach the events before this call, so a finding about the previous step is not missed.
   */
  async #findingsFor(request: ToolCallRequest): Promise<SessionFindings | undefined> {
    if (this.#getPolicy().readsFindings !== true || this.#findingsOf === undefined) return undefined;
    if (this.#awaitDetectors !== undefined) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        this.#awaitDetectors().catch(() => {}),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.#findingsWaitMs);
        }),
      ]);
      clearTimeout(timer);
    }
    return this.#findingsOf(request.sessionId);
  }

  async decideToolCall(request: ToolCallRequest): Promise<CallVerdict> {
    const callId = this.#nextId();
    const policyDecision = await this.#decideAudited(request, await this.#findingsFor(request));
    await this.#recordDecision(callId, request, policyDecision);
    const applied = policyDecision.applied;
    if (applied.effect === "deny") {
      return { effect: "deny", callId, ruleId: applied.ruleId, message: applied.reason };
    }
    const verdict: CallVerdict =
      applied.effect === "allow" ? { effect: "allow", callId } : await this.#hold(callId, request, applied);
    if (verdict.effect === "allow") this.#awaitResult(callId, request);
    return verdict;
  }

  /**
   * Decides and records like `decideToolCall`, but nobody waits for a person: a hold goes to
   * the approval queue (durable before this resolves) and `outcome` settles when reviewers
   * decide or the hold expires. For staged actions such as sandbox change sets. `hold` turns
   * any decision but a denial into a hold by that rule (Warden's own "needs a person" rules,
   * or a caller that asked for review), so the constitution cannot wave those through.
   */
  async decideStaged(
    request: ToolCallRequest,
    options: { hold?: { ruleId: string; holdMs: number } } = {},
  ): Promise<{ callId: string; applied: Decision; outcome?: Promise<ApprovalOutcome> }> {
    const callId = this.#nextId();
    let policyDecision = await this.#decideAudited(request, await this.#findingsFor(request));
    const forced = options.hold;
    if (forced && policyDecision.applied.effect !== "deny") {
      const hold: Decision = {
        effect: "hold",
        ruleId: forced.ruleId,
        approvers: { roles: [...defaultApprovers.roles], count: defaultApprovers.count },
        expiresAt: new Date(this.#now().getTime() + forced.holdMs).toISOString(),
      };
      policyDecision = {
        ...policyDecision,
        applied: hold,
        matches: [...policyDecision.matches, { ruleId: forced.ruleId, effect: "hold", mode: "enforce" }],
      };
    }
    await this.#recordDecision(callId, request, policyDecision);
    const applied = policyDecision.applied;
    if (applied.effect !== "hold") return { callId, applied };
    const call = {
      approvalId: callId,
      callId,
      identity: request,
      ruleId: applied.ruleId,
      approvers: applied.approvers,
      expiresAt: applied.expiresAt,
      server: request.server,
      tool: request.tool,
      arguments: request.arguments,
      // A call key of its own lets a second, zero-wait hold join this one: it resolves once the
      // approval request is durable, while the first keeps waiting for the outcome.
      callKey: `staged:${callId}`,
    };
    const outcome = this.#approvals.hold(call);
    await this.#approvals.hold(call, { waitMs: 0 });
    return { callId, applied, outcome };
  }

  async #recordDecision(callId: string, request: ToolCallRequest, policyDecision: PolicyDecision) {
    const identity: CallIdentity = request;
    // The call is ordered first and on its own: if the store cannot encode it (a non-finite
    // number, nesting deeper than it can walk), nothing is recorded, not a decision alone.
    // The decision then joins the same group commit; once it is durable, so is the call.
    await this.#store.append(
      {
        type: "tool-call",
        agentId: identity.agentId,
        sessionId: identity.sessionId,
        traceId: identity.traceId,
        spanId: identity.spanId,
        ...(identity.parentSpanId === undefined ? {} : { parentSpanId: identity.parentSpanId }),
        data: {
          callId,
          via: request.via,
          method: request.method,
          server: request.server,
          tool: request.tool,
          arguments: request.arguments,
          ...(request.workingDirectory ? { workingDirectory: request.workingDirectory } : {}),
        },
      },
      { durability: "buffered" },
    );
    // Nothing is answered before both records are durable.
    await this.#store.append({
      type: "policy-decision",
      ...eventIdentity(identity),
      data: { callId, ...policyDecision },
    });
    if (policyDecision.labels.length > 0) this.#labelsOf(request.sessionId, policyDecision.labels);
  }

  async recordToolResult(
    identity: CallIdentity,
    result: { callId: string; isError: boolean; latencyMs: number; result: unknown },
  ): Promise<void> {
    // Rules that read `result` label the session by what the call returned.
    const call = this.#callsAwaitingResult.get(result.callId);
    this.#callsAwaitingResult.delete(result.callId);
    const labels =
      call && call.sessionId === identity.sessionId
        ? (this.#getPolicy().labelsForResult?.(
            this.#decisionInput(call),
            { text: resultText(result.result), isError: result.isError },
            this.#now(),
          ) ?? [])
        : [];
    await this.#store.append({
      type: "tool-result",
      ...eventIdentity(identity),
      data: labels.length > 0 ? { ...result, labels } : result,
    });
    if (labels.length > 0) this.#labelsOf(identity.sessionId, labels);
  }

  async checkToolDefinitions(
    identity: CallIdentity,
    server: string,
    tools: { name: string; definition: unknown }[],
  ): Promise<ToolDefinitionsCheck> {
    const visible: string[] = [];
    const writes: Promise<unknown>[] = [];
    for (const tool of tools) {
      const key = pinKey(server, tool.name);
      const definitionHash = `sha256:${createHash("sha256").update(canonicalJson(tool.definition)).digest("hex")}`;
      const pin = this.#pins.get(key);
      if (!pin) {
        this.#pins.set(key, { definitionHash, changedTo: null });
        writes.push(
          this.#store.append({
            type: "tool-pin",
            ...eventIdentity(identity),
            data: { server, tool: tool.name, definitionHash, status: "pinned" },
          }),
        );
        visible.push(tool.name);
      } else if (pin.definitionHash === definitionHash) {
        visible.push(tool.name);
      } else if (pin.changedTo !== definitionHash) {
        pin.changedTo = definitionHash;
        writes.push(
          this.#store.append({
            type: "tool-pin",
            ...eventIdentity(identity),
            data: { server, tool: tool.name, definitionHash, status: "changed" },
          }),
          this.#store.append({
            type: "finding",
            ...eventIdentity(identity),
            data: {
              detector: "tool-pinning",
              severity: "high",
              explanation: `The definition of ${server}/${tool.name} changed since it was pinned; the tool is hidden until someone runs "warden tools approve ${server}/${tool.name}".`,
              evidence: [],
              server,
              tool: tool.name,
              pinnedHash: pin.definitionHash,
              newHash: definitionHash,
            },
          }),
        );
      }
    }
    await Promise.all(writes);
    return { visible };
  }

  /** Re-approves a changed tool: its newest definition becomes the pin. */
  async approveTool(server: string, tool: string, reviewer: string): Promise<string> {
    const pin = this.#pins.get(pinKey(server, tool));
    if (!pin) throw new WardenError("not-found", `no pinned tool ${server}/${tool}`);
    if (pin.changedTo === null)
      throw new WardenError("not-found", `${server}/${tool} has not changed since it was pinned`);
    const definitionHash = pin.changedTo;
    await this.#store.append({
      type: "tool-pin",
      agentId: "warden",
      sessionId: "warden",
      traceId: newTraceId(),
      spanId: newSpanId(),
      data: { server, tool, definitionHash, status: "approved", approvedBy: reviewer },
    });
    this.#pins.set(pinKey(server, tool), { definitionHash, changedTo: null });
    return definitionHash;
  }

  /**
   * Decides; when a rule gates on the auditor, waits for its verdict over the session so far
   * (the gate records it and is bounded by its own timeout) and decides again with it. An error
   * is an inconclusive verdict, which the rule denies or holds.
   */
  async #decideAudited(request: ToolCallRequest, findings?: SessionFindings): Promise<PolicyDecision> {
    const first = this.#decide(request, findings);
    const auditRequest = first.auditRequest;
    if (auditRequest === undefined) return withoutAuditRequest(first);
    let outcome: AuditGateOutcome;
    if (this.#auditGate === undefined) {
      outcome = { verdict: "inconclusive", problem: "no auditor is configured (auditor: in the config)" };
    } else {
      outcome = await this.#auditGate(request, auditRequest).catch(
        (error: unknown): AuditGateOutcome => ({ verdict: "inconclusive", problem: errorMessage(error) }),
      );
    }
    const second = withoutAuditRequest(this.#decide(request, findings, outcome.verdict));
    return {
      ...second,
      audit: {
        ruleIds: auditRequest.ruleIds,
        verdict: outcome.verdict,
        ...(outcome.eventId === undefined ? {} : { eventId: outcome.eventId }),
        ...(outcome.problem === undefined ? {} : { problem: outcome.problem }),
      },
    };
  }

  #decide(
    request: ToolCallRequest,
    findings?: SessionFindings,
    auditVerdict?: AuditVerdictKind,
  ): PolicyDecision & { auditRequest?: AuditRequest } {
    const pin =
      request.method === "tools/call" ? this.#pins.get(pinKey(request.server, request.tool)) : undefined;
    const pre = this.#preDecision(request, pin);
    if (pre) return pre;
    const policy = this.#getPolicy();
    const decision = policy.decide(this.#decisionInput(request, findings, auditVerdict), this.#now());
    if (decision.auditRequest !== undefined) return decision;
    const applied = decision.applied;
    if (applied.effect !== "hold") return decision;
    if (this.#approvals.grants.find({ ...request, ruleId: applied.ruleId })) {
      return { ...decision, applied: { effect: "allow", ruleId: `grant:${applied.ruleId}` } };
    }
    // A reviewer decided this exact call after the gateway stopped waiting: that decision applies.
    const late =
      request.holdCapMs === undefined
        ? undefined
        : this.#approvals.takeLateDecision(exactCallKey(request, applied.ruleId));
    if (late?.outcome === "approved") {
      return { ...decision, applied: { effect: "allow", ruleId: `grant:${applied.ruleId}` } };
    }
    if (late?.outcome === "denied") {
      return {
        ...decision,
        applied: {
          effect: "deny",
          ruleId: applied.ruleId,
          reason: `A reviewer denied this call: ${late.reason}`,
        },
      };
    }
    const admission = this.#approvals.admitHold(request.agentId);
    if (!admission.admitted) {
      return {
        ...decision,
        applied: {
          effect: "deny",
          ruleId: holdRateLimitRule,
          reason: `Not held for a reviewer: ${admission.reason}`,
        },
      };
    }
    return decision;
  }

  /** Decisions taken before the constitution: the kill switch and changed tool definitions. */
  #preDecision(request: ToolCallRequest, pin: ToolPin | undefined): PolicyDecision | null {
    let decision: Decision | null = null;
    const halt = this.#haltOf(request);
    if (halt) {
      decision = {
        effect: "deny",
        ruleId: "kill-switch",
        reason: `${halt.what} stopped by the kill switch${halt.reason ? `: ${halt.reason}` : "."}`,
      };
    } else if (pin?.changedTo) {
      decision = {
        effect: "deny",
        ruleId: "tool-definition-changed",
        reason: `The definition of ${request.server}/${request.tool} changed since it was approved; a person must re-approve it before it can be used.`,
      };
    }
    if (!decision) return null;
    return {
      decision,
      applied: decision,
      mode: "enforce",
      matches: [{ ruleId: decision.ruleId ?? "", effect: "deny", mode: "enforce" }],
      policyVersion: this.#getPolicy().version,
      labels: [],
    };
  }

  async #hold(
    callId: string,
    request: ToolCallRequest,
    hold: Extract<Decision, { effect: "hold" }>,
  ): Promise<CallVerdict> {
    const capped = request.holdCapMs !== undefined;
    const outcome = await this.#approvals.hold(
      {
        approvalId: callId,
        callId,
        identity: request,
        ruleId: hold.ruleId,
        approvers: hold.approvers,
        expiresAt: hold.expiresAt,
        server: request.server,
        tool: request.tool,
        arguments: request.arguments,
        ...(capped ? { callKey: exactCallKey(request, hold.ruleId) } : {}),
      },
      capped ? { waitMs: request.holdCapMs } : {},
    );
    if (outcome.outcome === "approved") return { effect: "allow", callId };
    if (outcome.outcome === "pending") {
      this.#logger.info(
        { callId, approvalId: outcome.approvalId, ruleId: hold.ruleId },
        "held call still pending at the proxy's cap",
      );
      return {
        effect: "deny",
        callId,
        ruleId: PENDING_APPROVAL_RULE,
        message: `The call is waiting for a reviewer's approval (rule "${hold.ruleId}") and was not performed. If it is approved, proposing the same call again in this session will go through.`,
      };
    }
    if (outcome.outcome === "denied") {
      return {
        effect: "deny",
        callId,
        ruleId: hold.ruleId,
        message: `A reviewer denied this call: ${outcome.reason}`,
      };
    }
    this.#logger.info({ callId, ruleId: hold.ruleId }, "held call expired without a decision");
    return {
      effect: "deny",
      callId,
      ruleId: hold.ruleId,
      message:
        "This call needed a person's approval and none arrived in time (pending approval); it was not performed.",
    };
  }

  #awaitResult(callId: string, request: ToolCallRequest): void {
    if (this.#callsAwaitingResult.size >= 10_000) {
      const oldest = this.#callsAwaitingResult.keys().next().value;
      if (oldest !== undefined) this.#callsAwaitingResult.delete(oldest);
    }
    this.#callsAwaitingResult.set(callId, request);
  }

  #decisionInput(request: ToolCallRequest, findings?: SessionFindings, auditVerdict?: AuditVerdictKind) {
    return {
      agent: { id: request.agentId, usage: this.#agentUsage?.(request.agentId) },
      tool: {
        server: request.server,
        name: request.tool,
        method: request.method,
        arguments: request.arguments,
        workingDirectory: request.workingDirectory,
      },
      session: {
        id: request.sessionId,
        labels: [...(this.#sessionLabels.get(request.sessionId) ?? [])],
        ...(findings === undefined ? {} : { findings }),
        ...(auditVerdict === undefined ? {} : { audit: { verdict: auditVerdict } }),
      },
    };
  }

  #labelsOf(sessionId: string, labels: string[]): void {
    let set = this.#sessionLabels.get(sessionId);
    if (!set) {
      set = new Set();
      this.#sessionLabels.set(sessionId, set);
    }
    for (const label of labels) set.add(label);
  }
}

export type KillSwitchScope = "all" | "agent" | "session";

/** The rule id of a hold refused because the agent opened too many. */
export const holdRateLimitRule = "approvals-rate-limit";

/** The text a rule sees as `result.text`: MCP text parts joined, else the result as JSON. */
function resultText(result: unknown): string {
  const content = (result as { content?: unknown } | null)?.content;
  if (Array.isArray(content)) {
    const texts = content
      .map((part) => (part as { text?: unknown } | null)?.text)
      .filter((text): text is string => typeof text === "string");
    if (texts.length > 0) return texts.join("\n");
  }
  return JSON.stringify(result) ?? "";
}

/** The exact call, for joining identical holds and for the grant a late approval leaves. */
function exactCallKey(request: ToolCallRequest, ruleId: string): string {
  const argumentsHash = createHash("sha256")
    .update(canonicalJson(request.arguments ?? null))
    .digest("hex");
  return JSON.stringify([
    request.agentId,
    request.sessionId,
    request.server,
    request.tool,
    ruleId,
    argumentsHash,
  ]);
}

function withoutAuditRequest(decision: PolicyDecision & { auditRequest?: AuditRequest }): PolicyDecision {
  const { auditRequest: _request, ...rest } = decision;
  return rest;
}

function pinKey(server: string, tool: string): string {
  return `${server}\u0000${tool}`;
}

function eventIdentity(identity: CallIdentity) {
  return {
    agentId: identity.agentId,
    sessionId: identity.sessionId,
    traceId: identity.traceId,
    spanId: newSpanId(),
    parentSpanId: identity.spanId,
  };
}
