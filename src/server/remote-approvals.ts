import { randomUUID } from "node:crypto";
import type { ApprovalQueue, ApprovalScope } from "../approvals/approval-queue.js";
import type { Approvers } from "../core/decision.js";
import { errorMessage, WardenError, type WardenErrorCode } from "../core/errors.js";
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

  /** The call if it is held on another replica's chain (not decided there yet, as far as the record shows). */
  async find(approvalId: string): Promise<RemoteHeldCall | null> {
    const found = await this.#store.findApprovalRequest(approvalId);
    if (found === null || found.chain === this.#store.chain) return null;
    const data = found.event.data as { ruleId: string; approvers: Approvers };
    return { chain: found.chain, approvalId, ruleId: data.ruleId, approvers: data.approvers };
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
