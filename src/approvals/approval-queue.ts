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
}

export type ApprovalOutcome =
  | { outcome: "approved"; reviewers: string[]; scope: ApprovalScope }
  | { outcome: "denied"; reviewer: string; reason: string }
  | { outcome: "expired" };

interface Waiting {
  call: HeldCall;
  approvals: Set<string>;
  resolve: (outcome: ApprovalOutcome) => void;
  timer: NodeJS.Timeout;
}

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

  /** Records the request durably, then waits for a decision or the expiry. */
  async hold(call: HeldCall): Promise<ApprovalOutcome> {
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
    return new Promise((resolve) => {
      const delay = Math.max(0, Date.parse(call.expiresAt) - this.#now().getTime());
      const timer = setTimeout(() => void this.#expire(call.approvalId), delay);
      this.#waiting.set(call.approvalId, { call, approvals: new Set(), resolve, timer });
    });
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
      if (released) this.#waiting.delete(approvalId);
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
      clearTimeout(waiting.timer);
      if (decision.scope === "session") {
        this.#sessionGrants.add(
          ApprovalQueue.grantKey(call.identity.sessionId, call.server, call.tool, call.ruleId),
        );
      }
      waiting.resolve({ outcome: "approved", reviewers: [...waiting.approvals], scope: decision.scope });
      return { released: true, approvalsNeeded: 0 };
    }
    this.#waiting.delete(approvalId);
    clearTimeout(waiting.timer);
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
    waiting.resolve({ outcome: "denied", reviewer: decision.reviewer, reason: decision.reason });
    return { released: true, approvalsNeeded: 0 };
  }

  /** Denies everything still waiting (daemon shutting down). */
  async expireAll(): Promise<void> {
    await Promise.all([...this.#waiting.keys()].map((approvalId) => this.#expire(approvalId)));
  }

  async #expire(approvalId: string): Promise<void> {
    const waiting = this.#waiting.get(approvalId);
    if (!waiting) return;
    this.#waiting.delete(approvalId);
    clearTimeout(waiting.timer);
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
      waiting.resolve({ outcome: "expired" });
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
