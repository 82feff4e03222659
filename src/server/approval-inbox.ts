import type { ApprovalQueue, ApprovalScope, HeldCall } from "../approvals/approval-queue.js";
import { WardenError } from "../core/errors.js";
import type { StoredEvent } from "../core/events.js";
import type { RemoteApprovals, RemoteDecision, RemoteHeldCall } from "./remote-approvals.js";

/** A held call as a reviewer sees it, on whichever replica holds it. */
export interface InboxEntry {
  call: HeldCall;
  approvedBy: string[];
  /** The chain of the replica holding it; absent on SQLite (one daemon). */
  chain?: string;
  /** Held by another replica: decisions go to it (`remote-approvals.ts`). */
  remote: boolean;
}

export type InboxDecision =
  | { outcome: "approved"; reviewer: string; scope: ApprovalScope }
  | { outcome: "denied"; reviewer: string; reason: string };

/**
 * Every replica's held calls in one inbox: this replica's from its queue (the authority for its
 * own chain), the others' from the shared record. Deciding a call held elsewhere goes to its
 * owner, which records and releases it. Authorising the reviewer stays with the caller.
 */
export class ApprovalInbox {
  readonly #approvals: ApprovalQueue;
  readonly #remote: RemoteApprovals | undefined;
  readonly #chain: string | undefined;

  constructor(options: { approvals: ApprovalQueue; remote?: RemoteApprovals; chain?: string }) {
    this.#approvals = options.approvals;
    this.#remote = options.remote;
    this.#chain = options.chain;
  }

  async list(): Promise<InboxEntry[]> {
    const local = this.#approvals.list().map((call) => this.#local(call));
    if (this.#remote === undefined) return local;
    const remote = await this.#remote.list();
    return [
      ...local,
      ...remote.map(({ call, approvedBy, chain }) => ({ call, approvedBy, chain, remote: true })),
    ];
  }

  /** The held call, wherever it is held; undefined once decided, expired or never held. */
  async get(approvalId: string): Promise<InboxEntry | undefined> {
    const found = this.#approvals.get(approvalId);
    if (found !== undefined) return this.#local(found.call);
    if (this.#remote === undefined) return undefined;
    const open = await this.#remote.list();
    const entry = open.find(({ call }) => call.approvalId === approvalId);
    return entry === undefined ? undefined : { ...entry, remote: true };
  }

  /** Like `get`, but a call that is not held is a `not-found` error. */
  async held(approvalId: string): Promise<InboxEntry> {
    const entry = await this.get(approvalId);
    if (entry === undefined)
      throw new WardenError(
        "not-found",
        `no held call with id ${approvalId} (decided, expired or never held)`,
      );
    return entry;
  }

  async decide(
    entry: InboxEntry,
    decision: InboxDecision,
  ): Promise<{ released: boolean; approvalsNeeded: number }> {
    if (!entry.remote || this.#remote === undefined || entry.chain === undefined)
      return this.#approvals.decide(entry.call.approvalId, decision);
    const held: RemoteHeldCall = {
      chain: entry.chain,
      approvalId: entry.call.approvalId,
      ruleId: entry.call.ruleId,
      approvers: entry.call.approvers,
    };
    return this.#remote.decide(held, decision satisfies RemoteDecision);
  }

  /** The session up to the request, from the chain of the replica holding the call. */
  async trace(entry: InboxEntry, read: () => Promise<StoredEvent[]>): Promise<StoredEvent[]> {
    if (entry.remote && this.#remote !== undefined && entry.chain !== undefined)
      return this.#remote.trace({ chain: entry.chain, call: entry.call, approvedBy: entry.approvedBy });
    return read();
  }

  #local(call: HeldCall): InboxEntry {
    return {
      call,
      approvedBy: this.#approvals.get(call.approvalId)?.approvedBy ?? [],
      ...(this.#chain === undefined ? {} : { chain: this.#chain }),
      remote: false,
    };
  }
}
