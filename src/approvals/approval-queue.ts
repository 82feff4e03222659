import type { Approvers } from "../core/decision.js";
import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import { newSpanId } from "../core/ids.js";
import type { CallIdentity } from "../core/oversight.js";

export type ApprovalScope = "once" | "session";

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
  readonly #sessionGrants = new Set<string>();
  /** Held calls by `callKey`, set before the request is durable so that a concurrent twin joins it. */
  readonly #byCallKey = new Map<string, Promise<Waiting>>();
  /** Decisions on exact calls that arrived after their proposer stopped waiting; used once. */
  readonly #lateDecisions = new Map<string, LateDecision>();

  constructor(options: { store: EventStore; now?: () => Date }) {
    this.#store = options.store;
    this.#now = options.now ?? (() => new Date());
  }

  static grantKey(sessionId: string, server: string, tool: string, ruleId: string): string {
    return JSON.stringify([sessionId, server, tool, ruleId]);
  }

  hasSessionGrant(sessionId: string, server: string, tool: string, ruleId: string): boolean {
    return this.#sessionGrants.has(ApprovalQueue.grantKey(sessionId, server, tool, ruleId));
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
    const waiting: Waiting = { call, approvals: new Set(), waiters: new Set(), timer };
    this.#waiting.set(call.approvalId, waiting);
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
    this.#waiting.delete(waiting.call.approvalId);
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
      if (decision.scope === "session") {
        this.#sessionGrants.add(
          ApprovalQueue.grantKey(call.identity.sessionId, call.server, call.tool, call.ruleId),
        );
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
