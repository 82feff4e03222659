import type { EventStore } from "../core/event-store.js";
import type { StoredEvent } from "../core/events.js";
import type { Logger } from "../core/logger.js";

export interface AgentSummary {
  agentId: string;
  firstSeen: string;
  lastSeen: string;
  events: number;
  toolCalls: number;
  denied: number;
  held: number;
  sessions: number;
}

type Listener = (events: StoredEvent[]) => void;

const maximumFindings = 1000;
const hoursKept = 48;

/**
 * Follows the committed log from the start (off the request path, on a short poll) and keeps
 * what the dashboard shows at a glance: agents, findings, held calls per hour per rule, shadow
 * hits per rule. Listeners (the live stream, webhooks) get each new batch in log order.
 */
export class EventTail {
  readonly #store: EventStore;
  readonly #logger: Logger;
  readonly #listeners = new Set<Listener>();
  readonly #agents = new Map<string, AgentSummary & { sessionIds: Set<string> }>();
  readonly #findings: StoredEvent[] = [];
  /** `hour (ISO, to the hour)` → rule → held calls. */
  readonly #holdsPerHour = new Map<string, Map<string, number>>();
  readonly #shadowHits = new Map<string, number>();
  /** `hour` → agent → tool calls. */
  readonly #callsPerHour = new Map<string, Map<string, number>>();
  #cursor = 0;
  #timer: NodeJS.Timeout | null = null;
  #polling: Promise<void> | null = null;

  constructor(options: { store: EventStore; logger: Logger }) {
    this.#store = options.store;
    this.#logger = options.logger;
  }

  get cursor(): number {
    return this.#cursor;
  }

  start(intervalMs = 100): void {
    const tick = () => {
      this.#polling = this.poll()
        .catch((error: Error) => this.#logger.warn({ error: error.message }, "event tail read failed"))
        .finally(() => {
          this.#polling = null;
          if (this.#timer !== null) this.#timer = setTimeout(tick, intervalMs);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#polling;
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Reads everything committed after the cursor. */
  async poll(): Promise<void> {
    for (;;) {
      const events = await this.#store.read({ afterSeq: this.#cursor, limit: 2000 });
      if (events.length === 0) return;
      this.#cursor = events[events.length - 1]!.seq;
      for (const event of events) this.#account(event);
      for (const listener of this.#listeners) {
        try {
          listener(events);
        } catch (error) {
          this.#logger.warn({ error: (error as Error).message }, "event listener failed");
        }
      }
      if (events.length < 2000) return;
    }
  }

  agents(): AgentSummary[] {
    return [...this.#agents.values()].map(({ sessionIds, ...summary }) => ({
      ...summary,
      sessions: sessionIds.size,
    }));
  }

  findings(): StoredEvent[] {
    return [...this.#findings].reverse();
  }

  holdsPerHour(): { hour: string; ruleId: string; held: number }[] {
    return perHourRows(this.#holdsPerHour).map(({ hour, key, count }) => ({
      hour,
      ruleId: key,
      held: count,
    }));
  }

  toolCallsPerHour(): { hour: string; agentId: string; calls: number }[] {
    return perHourRows(this.#callsPerHour).map(({ hour, key, count }) => ({
      hour,
      agentId: key,
      calls: count,
    }));
  }

  shadowHits(): Record<string, number> {
    return Object.fromEntries(this.#shadowHits);
  }

  #account(event: StoredEvent): void {
    if (event.type === "finding") {
      this.#findings.push(event);
      if (this.#findings.length > maximumFindings) this.#findings.shift();
    }
    if (event.type === "approval-request")
      countPerHour(this.#holdsPerHour, event.time, (event.data as { ruleId: string }).ruleId);
    if (event.type === "tool-call") countPerHour(this.#callsPerHour, event.time, event.agentId);
    if (event.type === "policy-decision") {
      const matches = (event.data as { matches?: { ruleId: string; mode: string }[] }).matches ?? [];
      for (const match of matches) {
        if (match.mode === "shadow")
          this.#shadowHits.set(match.ruleId, (this.#shadowHits.get(match.ruleId) ?? 0) + 1);
      }
    }
    if (event.agentId === "warden") return;
    let agent = this.#agents.get(event.agentId);
    if (!agent) {
      agent = {
        agentId: event.agentId,
        firstSeen: event.time,
        lastSeen: event.time,
        events: 0,
        toolCalls: 0,
        denied: 0,
        held: 0,
        sessions: 0,
        sessionIds: new Set(),
      };
      this.#agents.set(event.agentId, agent);
    }
    agent.lastSeen = event.time;
    agent.events += 1;
    agent.sessionIds.add(event.sessionId);
    if (event.type === "tool-call") agent.toolCalls += 1;
    if (event.type === "approval-request") agent.held += 1;
    if (
      event.type === "policy-decision" &&
      (event.data as { applied?: { effect?: string } }).applied?.effect === "deny"
    )
      agent.denied += 1;
  }
}

function countPerHour(table: Map<string, Map<string, number>>, time: string, key: string): void {
  const hour = `${time.slice(0, 13)}:00:00Z`;
  let counts = table.get(hour);
  if (!counts) {
    counts = new Map();
    table.set(hour, counts);
    while (table.size > hoursKept) table.delete([...table.keys()].sort()[0]!);
  }
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function perHourRows(
  table: Map<string, Map<string, number>>,
): { hour: string; key: string; count: number }[] {
  const rows: { hour: string; key: string; count: number }[] = [];
  for (const [hour, counts] of [...table].sort(([a], [b]) => a.localeCompare(b))) {
    for (const [key, count] of counts) rows.push({ hour, key, count });
  }
  return rows;
}
