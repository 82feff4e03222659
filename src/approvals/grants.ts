import { WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import type { StoredEvent } from "../core/events.js";
import { createIdFactory, newSpanId, newTraceId } from "../core/ids.js";

export type GrantScope = "session" | "always";

export interface Grant {
  grantId: string;
  scope: GrantScope;
  agentId: string;
  /** Set for session grants. */
  sessionId?: string;
  server: string;
  tool: string;
  ruleId: string;
  by: string;
  approvalId?: string;
  createdAt: string;
}

/**
 * Reviewers' grants: a recorded overlay on the constitution (the YAML is never rewritten). A
 * grant lets later calls of the same server, tool and rule through without a hold: for one
 * session, or always for that agent. Each grant and each revocation is an event, so the overlay
 * is rebuilt from the record after a restart.
 */
export class Grants {
  readonly #store: EventStore;
  readonly #grants = new Map<string, Grant>();
  readonly #nextId = createIdFactory();

  constructor(store: EventStore) {
    this.#store = store;
  }

  /** Replays a `grant-created` or `grant-revoked` event (restart). */
  restore(event: StoredEvent): void {
    if (event.type === "grant-created") {
      const data = event.data as Omit<Grant, "createdAt">;
      this.#grants.set(data.grantId, { ...data, createdAt: event.time });
    } else if (event.type === "grant-revoked") {
      this.#grants.delete((event.data as { grantId: string }).grantId);
    }
  }

  async create(grant: Omit<Grant, "grantId" | "createdAt">): Promise<Grant> {
    const grantId = `grant_${this.#nextId()}`;
    const data = { grantId, ...grant };
    const stored = await this.#store.append({
      type: "grant-created",
      agentId: grant.agentId,
      sessionId: grant.sessionId ?? "warden",
      traceId: newTraceId(),
      spanId: newSpanId(),
      data,
    });
    const created = { ...data, createdAt: stored.time };
    this.#grants.set(grantId, created);
    return created;
  }

  async revoke(grantId: string, by: string): Promise<void> {
    const grant = this.#grants.get(grantId);
    if (!grant) throw new WardenError("not-found", `no grant with id ${grantId}`);
    await this.#store.append({
      type: "grant-revoked",
      agentId: grant.agentId,
      sessionId: grant.sessionId ?? "warden",
      traceId: newTraceId(),
      spanId: newSpanId(),
      data: { grantId, by },
    });
    this.#grants.delete(grantId);
  }

  list(): Grant[] {
    return [...this.#grants.values()];
  }

  /** The grant that lets this call through, if any. */
  find(call: {
    agentId: string;
    sessionId: string;
    server: string;
    tool: string;
    ruleId: string;
  }): Grant | null {
    for (const grant of this.#grants.values()) {
      if (
        grant.agentId === call.agentId &&
        grant.server === call.server &&
        grant.tool === call.tool &&
        grant.ruleId === call.ruleId &&
        (grant.scope === "always" || grant.sessionId === call.sessionId)
      )
        return grant;
    }
    return null;
  }
}
