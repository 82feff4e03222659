import type { Approvers } from "../core/decision.js";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import { newSpanId } from "../core/ids.js";
import type { CallIdentity } from "../core/oversight.js";
import { Grants } from "./grants.js";

export type ApprovalScope = "once" | "session" | "always";

/** How many holds one agent may open: the excess is denied, so an agent cannot flood reviewers. */
export interface HoldLimits {
  /** Holds an agent may open in any 60-second window. */
  perMinute: number;
  /** Holds of one agent waiting at the same time. */
  open: number;
}

export const defaultHoldLimits: HoldLimits = { perMinute: 30, open: 100 };

export interface HeldCall {
  approvalId: string;
  callId: string;
  identity: CallIdentity;
  ruleId: string;
  approvers: Approvers;
  expiresAt: string;
  server: string;
  tool: string;
  arguments: unknown;
  /**
   * Identifies the exact call (agent, session, server, tool, rule, arguments) when its proposer
   * may stop waiting (the model gateway, capped below client timeouts). Identical calls then
   * share one hold, and a decision that arrives after every waiter has left applies, once, to
   * the identical call when it is proposed again (`takeLateDecision`). Absent (MCP): one hold
   * per call, as before.
   */
  callKey?: string;
  /** When the call was held (set by the queue). */
  heldAt?: string;
}

export type ApprovalOutcome =
  | { outcome: "approved"; reviewers: string[]; scope: ApprovalScope }
  | { outcome: "denied"; reviewer: string; reason: string }
  | { outcome: "expired" }
  /** The caller's `waitMs` passed; the call stays held until decided or expired. */
  | { outcome: "pending"; approvalId: string };

interface Waiting {
  call: HeldCall;
  approvals: Set<string>;
  /** Callers still waiting for the outcome; a caller whose `waitMs` passes leaves. */
  waiters: Set<(outcome: ApprovalOutcome) => void>;
  timer: NodeJS.Timeout;
}

/** A reviewer's decision on a held call that nobody was waiting for any more. */
export type LateDecision = { outcome: "approved" } | { outcome: "denied"; reviewer: string; reason: string };

const maximumLateDecisions = 10_000;

/**
 * Calls held for a person. A held call waits in memory (in the daemon that owns the record)
 * until enough reviewers approve, one denies, or it expires; each decision is durable before
 * the waiting call is released. Session grants let later identical calls through.
 */
export class ApprovalQueue {
  readonly #store: EventStore;
  readonly #now: () => Date;
  readonly #waiting = new Map<string, Waiting>();
  readonly grants: Grants;
  readonly #holdLimits: HoldLimits;
  /** Per agent: when its recent holds were opened (last 60 s) and how many wait now. */
  readonly #holdsByAgent = new Map<string, { recent: number[]; open: number }>();
  /** Held calls by `callKey`, set before the request is durable so that a concurrent twin joins it. */
  readonly #byCallKey = new Map<string, Promise<Waiting>>();
  /** Decisions on exact calls that arrived after their proposer stopped waiting; used once. */
  readonly #lateDecisions = new Map<string, LateDecision>();

  constructor(options: { store: EventStore; now?: () => Date; holdLimits?: HoldLimits }) {
    this.#store = options.store;
    this.#now = options.now ?? (() => new Date());
    this.grants = new Grants(options.store);
    this.#holdLimits = options.holdLimits ?? defaultHoldLimits;
  }

  /**
   * Whether the agent may open one more hold now; if so, the hold is counted. Checked before
   * the decision is recorded, so that a refused hold is recorded as the denial it becomes.
   */
  admitHold(agentId: string): { admitted: true } | { admitted: false; reason: string } {
    const now = this.#now().getTime();
    let counts = this.#holdsByAgent.get(agentId);
    if (!counts) {
      counts = { recent: [], open: 0 };
      this.#holdsByAgent.set(agentId, counts);
    }
    while (counts.recent.length > 0 && counts.recent[0]! <= now - 60_000) counts.recent.shift();
    if (counts.open >= this.#holdLimits.open) {
      return {
        admitted: false,
        reason: `${counts.open} calls of this agent are already waiting for a reviewer (limit ${this.#holdLimits.open}); this call was denied without asking anyone. Wait for the pending decisions.`,
      };
    }
    if (counts.recent.length >= this.#holdLimits.perMinute) {
      return {
        admitted: false,
        reason: `this agent asked for ${counts.recent.length} approvals in the last minute (limit ${this.#holdLimits.perMinute}); this call was denied without asking anyone.`,
      };
    }
    counts.recent.push(now);
    return { admitted: true };
  }

  #countOpen(agentId: string, change: 1 | -1): void {
    const counts = this.#holdsByAgent.get(agentId);
    if (counts) counts.open = Math.max(0, counts.open + change);
    else if (change === 1) this.#holdsByAgent.set(agentId, { recent: [], open: 1 });
  }

  get(approvalId: string): { call: HeldCall; approvedBy: string[] } | undefined {
    const waiting = this.#waiting.get(approvalId);
    return waiting ? { call: waiting.call, approvedBy: [...waiting.approvals] } : undefined;
  }

  /** Takes the decision a reviewer made on the exact call `callKey` after its proposer left, if any. */
  takeLateDecision(callKey: string): LateDecision | undefined {
    const decision = this.#lateDecisions.get(callKey);
    this.#lateDecisions.delete(callKey);
    return decision;
  }

  /**
   * Records the request durably, then waits for a decision or the expiry. With `waitMs`, stops
   * waiting after it (outcome `pending`). A call whose `callKey` is already held joins that hold
   * instead of opening another one: one inbox entry, one decision.
   */
  async hold(call: HeldCall, options: { waitMs?: number } = {}): Promise<ApprovalOutcome> {
    if (call.callKey === undefined) return this.#wait(await this.#open(call), options.waitMs);
    let opening = this.#byCallKey.get(call.callKey);
    if (opening === undefined) {
      const key = call.callKey;
      opening = this.#open(call);
      this.#byCallKey.set(key, opening);
      opening.catch(() => this.#byCallKey.delete(key));
    }
    return this.#wait(await opening, options.waitMs);
  }

  async #open(call: HeldCall): Promise<Waiting> {
    await this.#store.append({
      type: "approval-request",
      ...this.#eventIdentity(call.identity),
      data: {
        approvalId: call.approvalId,
        callId: call.callId,
        ruleId: call.ruleId,
        approvers: call.approvers,
        expiresAt: call.expiresAt,
        server: call.server,
        tool: call.tool,
        arguments: call.arguments,
      },
    });
    const delay = Math.max(0, Date.parse(call.expiresAt) - this.#now().getTime());
    const timer = setTimeout(() => void this.#expire(call.approvalId), delay);
    const waiting: Waiting = {
      call: { ...call, heldAt: this.#now().toISOString() },
      approvals: new Set(),
      waiters: new Set(),
      timer,
    };
    this.#waiting.set(call.approvalId, waiting);
    this.#countOpen(call.identity.agentId, 1);
    return waiting;
  }

  #wait(waiting: Waiting, waitMs: number | undefined): Promise<ApprovalOutcome> {
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const waiter = (outcome: ApprovalOutcome) => {
        clearTimeout(timer);
        resolve(outcome);
      };
      waiting.waiters.add(waiter);
      if (waitMs === undefined) return;
      timer = setTimeout(() => {
        waiting.waiters.delete(waiter);
        resolve({ outcome: "pending", approvalId: waiting.call.approvalId });
      }, waitMs);
    });
  }

  /** Takes the call out of the queue; it can no longer be decided. */
  #remove(waiting: Waiting): void {
    if (this.#waiting.delete(waiting.call.approvalId)) this.#countOpen(waiting.call.identity.agentId, -1);
    clearTimeout(waiting.timer);
    if (waiting.call.callKey !== undefined) this.#byCallKey.delete(waiting.call.callKey);
  }

  #release(waiting: Waiting, outcome: ApprovalOutcome): void {
    const waiters = [...waiting.waiters];
    waiting.waiters.clear();
    for (const waiter of waiters) waiter(outcome);
  }

  list(): HeldCall[] {
    return [...this.#waiting.values()].map((waiting) => waiting.call);
  }

  /**
   * A reviewer's decision. Approval releases the call once `approvers.count` distinct
   * reviewers have approved; one denial releases it as denied.
   */
  async decide(
    approvalId: string,
    decision:
      | { outcome: "approved"; reviewer: string; scope: ApprovalScope }
      | { outcome: "denied"; reviewer: string; reason: string },
  ): Promise<{ released: boolean; approvalsNeeded: number }> {
    const waiting = this.#waiting.get(approvalId);
    if (!waiting)
      throw new WardenError(
        "not-found",
        `no held call with id ${approvalId} (decided, expired or never held)`,
      );
    const { call } = waiting;
    if (decision.outcome === "approved") {
      if (waiting.approvals.has(decision.reviewer)) {
        throw new WardenError(
          "forbidden",
          `${decision.reviewer} has already approved ${approvalId}; another reviewer must approve`,
        );
      }
      const needed = call.approvers.count - waiting.approvals.size - 1;
      const released = needed <= 0;
      if (released) this.#remove(waiting);
      await this.#store.append({
        type: "approval-decision",
        ...this.#eventIdentity(call.identity),
        data: {
          approvalId,
          callId: call.callId,
          outcome: "approved",
          reviewer: decision.reviewer,
          scope: decision.scope,
        },
      });
      waiting.approvals.add(decision.reviewer);
      if (!released) return { released: false, approvalsNeeded: needed };
      if (decision.scope !== "once") {
        await this.grants.create({
          scope: decision.scope,
          agentId: call.identity.agentId,
          ...(decision.scope === "session" ? { sessionId: call.identity.sessionId } : {}),
          server: call.server,
          tool: call.tool,
          ruleId: call.ruleId,
          by: [...waiting.approvals].join(", "),
          approvalId,
        });
      } else if (call.callKey !== undefined && waiting.waiters.size === 0) {
        // Nobody waits any more (the gateway answered "pending approval"): the approval is kept
        // for when the model proposes the identical call again.
        this.#keepLateDecision(call.callKey, { outcome: "approved" });
      }
      this.#release(waiting, {
        outcome: "approved",
        reviewers: [...waiting.approvals],
        scope: decision.scope,
      });
      return { released: true, approvalsNeeded: 0 };
    }
    this.#remove(waiting);
    await this.#store.append({
      type: "approval-decision",
      ...this.#eventIdentity(call.identity),
      data: {
        approvalId,
        callId: call.callId,
        outcome: "denied",
        reviewer: decision.reviewer,
        reason: decision.reason,
        scope: "once",
      },
    });
    if (call.callKey !== undefined && waiting.waiters.size === 0) {
      // The reason reaches the agent when the model proposes the identical call again.
      this.#keepLateDecision(call.callKey, {
        outcome: "denied",
        reviewer: decision.reviewer,
        reason: decision.reason,
      });
    }
    this.#release(waiting, { outcome: "denied", reviewer: decision.reviewer, reason: decision.reason });
    return { released: true, approvalsNeeded: 0 };
  }

  #keepLateDecision(callKey: string, decision: LateDecision): void {
    if (this.#lateDecisions.size >= maximumLateDecisions) {
      const oldest = this.#lateDecisions.keys().next().value;
      if (oldest !== undefined) this.#lateDecisions.delete(oldest);
    }
    this.#lateDecisions.set(callKey, decision);
  }

  /** Denies, as `reviewer`, every held call `matches` selects (the kill switch). Resolves to how many. */
  async denyWhere(matches: (call: HeldCall) => boolean, reviewer: string, reason: string): Promise<number> {
    const selected = [...this.#waiting.values()].filter((waiting) => matches(waiting.call));
    await Promise.all(
      selected.map((waiting) =>
        this.decide(waiting.call.approvalId, { outcome: "denied", reviewer, reason }).catch(() => undefined),
      ),
    );
    return selected.length;
  }

  /** Denies everything still waiting (daemon shutting down). */
  async expireAll(): Promise<void> {
    await Promise.all([...this.#waiting.keys()].map((approvalId) => this.#expire(approvalId)));
  }

  async #expire(approvalId: string): Promise<void> {
    const waiting = this.#waiting.get(approvalId);
    if (!waiting) return;
    this.#remove(waiting);
    try {
      await this.#store.append({
        type: "approval-decision",
        ...this.#eventIdentity(waiting.call.identity),
        data: {
          approvalId,
          callId: waiting.call.callId,
          outcome: "expired",
          reviewer: "warden",
          scope: "once",
        },
      });
    } finally {
      this.#release(waiting, { outcome: "expired" });
    }
  }

  #eventIdentity(identity: CallIdentity) {
    return {
      agentId: identity.agentId,
      sessionId: identity.sessionId,
      traceId: identity.traceId,
      spanId: newSpanId(),
      parentSpanId: identity.spanId,
    };
  }
}
