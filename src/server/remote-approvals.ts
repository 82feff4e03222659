import { randomUUID } from "node:crypto";
import type { ApprovalQueue, ApprovalScope, HeldCall } from "../approvals/approval-queue.js";
import type { Approvers } from "../core/decision.js";
import { errorMessage, WardenError, type WardenErrorCode } from "../core/errors.js";
import type { StoredEvent } from "../core/events.js";
import type { Logger } from "../core/logger.js";
import type { PostgresEventStore } from "../store/postgres/postgres-event-store.js";

export type RemoteDecision =
  | { outcome: "approved"; reviewer: string; scope: ApprovalScope }
  | { outcome: "denied"; reviewer: string; reason: string };

/** A call held on another replica, as its `approval-request` event describes it. */
export interface RemoteHeldCall {
  chain: string;
  approvalId: string;
  ruleId: string;
  approvers: Approvers;
}

/** An entry of another replica's inbox, for listing: the call as held, its chain and who approved so far. */
export interface RemoteInboxCall {
  chain: string;
  call: HeldCall;
  approvedBy: string[];
}

function heldCallOf(event: StoredEvent): HeldCall {
  const data = event.data as Omit<HeldCall, "identity" | "heldAt">;
  return {
    approvalId: data.approvalId,
    callId: data.callId,
    identity: {
      agentId: event.agentId,
      sessionId: event.sessionId,
      traceId: event.traceId,
      spanId: event.parentSpanId ?? event.spanId,
    },
    ruleId: data.ruleId,
    approvers: data.approvers,
    expiresAt: data.expiresAt,
    server: data.server,
    tool: data.tool,
    arguments: data.arguments,
    heldAt: event.time,
  };
}

interface DecideMessage {
  requestId: string;
  chain: string;
  approvalId: string;
  decision: RemoteDecision;
}

interface DecidedMessage {
  requestId: string;
  ok: boolean;
  released?: boolean;
  approvalsNeeded?: number;
  error?: { code: WardenErrorCode; message: string };
}

const decideChannel = "warden_decide";
const decidedChannel = "warden_decided";
/** NOTIFY payloads are limited to 8000 bytes; reasons are cut well below that. */
const maxReasonLength = 2000;

/**
 * Decisions on calls held by another replica of the same PostgreSQL database. The replica that
 * holds a call owns it: a reviewer's decision made through any other replica is authorised
 * there (role, two-person rule by name) and sent to the owner on a NOTIFY channel; the owner
 * decides it as if it had been made locally (recorded on its chain, the call released) and
 * answers on another channel. Nothing is released without the owner's record.
 */
export class RemoteApprovals {
  readonly #store: PostgresEventStore;
  readonly #approvals: ApprovalQueue;
  readonly #logger: Logger;
  readonly #waiting = new Map<string, (message: DecidedMessage) => void>();

  constructor(store: PostgresEventStore, approvals: ApprovalQueue, logger: Logger) {
    this.#store = store;
    this.#approvals = approvals;
    this.#logger = logger;
  }

  async start(): Promise<void> {
    await this.#store.listen(decideChannel, (payload) => void this.#onDecide(payload));
    await this.#store.listen(decidedChannel, (payload) => {
      let message: DecidedMessage;
      try {
        message = JSON.parse(payload) as DecidedMessage;
      } catch {
        return;
      }
      this.#waiting.get(message.requestId)?.(message);
    });
  }

  /** The calls other replicas hold and have not decided yet, as the shared record shows them. */
  async list(): Promise<RemoteInboxCall[]> {
    const open = await this.#store.openApprovalRequests(new Date());
    return open.map(({ chain, event, approvedBy }) => ({
      chain,
      approvedBy,
      call: heldCallOf(event),
    }));
  }

  /** The held call's session on its owner's chain, up to the request, for the reviewer to judge it. */
  async trace(held: RemoteInboxCall, limit = 50): Promise<StoredEvent[]> {
    const session = await this.#store.readChain(held.chain, {
      sessionId: held.call.identity.sessionId,
      limit: 5000,
    });
    const request = session.find(
      (event) =>
        event.type === "approval-request" &&
        (event.data as { approvalId?: string }).approvalId === held.call.approvalId,
    );
    return session.filter((event) => request === undefined || event.seq <= request.seq).slice(-limit);
  }

  /** Sends the decision to the owning replica and resolves with its answer (5 s at most). */
  async decide(
    held: RemoteHeldCall,
    decision: RemoteDecision,
    timeoutMs = 5000,
  ): Promise<{ released: boolean; approvalsNeeded: number }> {
    const requestId = randomUUID();
    const bounded: RemoteDecision =
      decision.outcome === "denied"
        ? { ...decision, reason: decision.reason.slice(0, maxReasonLength) }
        : decision;
    const answer = new Promise<DecidedMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(requestId);
        reject(
          new WardenError(
            "timeout",
            `the replica holding ${held.approvalId} (chain ${held.chain}) did not answer; it may be down`,
          ),
        );
      }, timeoutMs);
      this.#waiting.set(requestId, (message) => {
        clearTimeout(timer);
        this.#waiting.delete(requestId);
        resolve(message);
      });
    });
    const message: DecideMessage = {
      requestId,
      chain: held.chain,
      approvalId: held.approvalId,
      decision: bounded,
    };
    await this.#store.notify(decideChannel, JSON.stringify(message));
    const reply = await answer;
    if (!reply.ok)
      throw new WardenError(reply.error?.code ?? "internal", reply.error?.message ?? "the decision failed");
    return { released: reply.released ?? false, approvalsNeeded: reply.approvalsNeeded ?? 0 };
  }

  async #onDecide(payload: string): Promise<void> {
    let message: DecideMessage;
    try {
      message = JSON.parse(payload) as DecideMessage;
    } catch {
      return;
    }
    if (message.chain !== this.#store.chain) return;
    let reply: DecidedMessage;
    try {
      const result = await this.#approvals.decide(message.approvalId, message.decision);
      reply = { requestId: message.requestId, ok: true, ...result };
    } catch (error) {
      const code: WardenErrorCode = WardenError.isInstance(error) ? error.code : "internal";
      reply = { requestId: message.requestId, ok: false, error: { code, message: errorMessage(error) } };
    }
    await this.#store
      .notify(decidedChannel, JSON.stringify(reply))
      .catch((error: unknown) =>
        this.#logger.error({ error: errorMessage(error) }, "could not answer a replica"),
      );
  }
}
