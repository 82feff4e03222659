import {
  type AuditModel,
  type AuditResult,
  auditorPromptVersion,
  auditVerdictData,
  openAiAuditModel,
  runAudit,
} from "../auditor/index.js";
import type { AuditorConfig, WardenConfig } from "../core/config.js";
import type { AuditRequest } from "../core/decision.js";
import { errorMessage, WardenError } from "../core/errors.js";
import type { EventStore } from "../core/event-store.js";
import type { EventData, EventType, StoredEvent } from "../core/events.js";
import { newSpanId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { ToolCallRequest } from "../core/oversight.js";
import type { AuditGateOutcome } from "./oversight-service.js";

/** What Warden itself writes about a session: neither shown to the auditor nor activity. */
const wardenOwnTypes = new Set<string>(["checkpoint", "audit-verdict", "policy-load", "retention-prune"]);
/** What does not make a session active again (its own reports among them). */
const quietTypes = new Set<string>([...wardenOwnTypes, "finding", "claim-check", "kill-switch"]);
const maximumTraceEvents = 5000;
const staleAfterMs = 86_400_000;

interface SessionActivity {
  agentId: string;
  traceId: string;
  lastSeq: number;
  lastActivityMs: number;
}

/**
 * The daemon's auditor (`auditor:` in the config): reviews a session so far when a rule gates a
 * call on it, and (with `sessions: on-end`) each session once it has gone quiet. Every review
 * is recorded as an `audit-verdict` event in the session's log. Gated reviews are bounded by
 * `timeoutSeconds` and fail closed (inconclusive); background reviews run one at a time, off
 * every request's path.
 */
export class SessionAuditor {
  readonly #store: EventStore;
  readonly #config: AuditorConfig;
  readonly #models: AuditModel[];
  readonly #rules: () => readonly { id: string; message: string }[];
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #sessions = new Map<string, SessionActivity>();
  /** Sessions reviewed in the background, by the last seq the review saw. */
  readonly #auditedThrough = new Map<string, number>();
  #timer: NodeJS.Timeout | null = null;
  #background: Promise<void> | null = null;
  #stopped = false;

  constructor(options: {
    store: EventStore;
    config: AuditorConfig;
    upstreams: WardenConfig["upstreams"];
    rules: () => readonly { id: string; message: string }[];
    logger: Logger;
    now?: () => number;
  }) {
    this.#store = options.store;
    this.#config = options.config;
    this.#rules = options.rules;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#models = auditModelsOf(options.config, options.upstreams);
  }

  /** Reviews the session up to the pending call and records the verdict. Never throws. */
  async gate(request: ToolCallRequest, auditRequest: AuditRequest): Promise<AuditGateOutcome> {
    const goal = auditRequest.goal ?? this.#config.goal;
    const timeoutMs = this.#config.timeoutSeconds * 1000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await this.#store.flush();
      const events = await this.#sessionEvents(request.sessionId);
      const review = runAudit(
        {
          goal,
          rules: this.#rules(),
          events,
          pendingCall: { server: request.server, tool: request.tool, arguments: request.arguments },
        },
        {
          models: this.#models,
          samples: this.#config.samples,
          threshold: Math.max(this.#config.threshold, auditRequest.threshold ?? 0),
        },
      );
      const timedOut = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutMs);
      });
      const result = (await Promise.race([review, timedOut])) ?? inconclusive();
      const problem = result.samples.length === 0 ? `the audit timed out after ${timeoutMs} ms` : undefined;
      const data = auditVerdictData(result, {
        goal,
        events,
        trigger: "gate",
        models: this.#models.map((model) => model.name),
        ruleIds: auditRequest.ruleIds,
        pendingCall: { server: request.server, tool: request.tool },
        ...(problem === undefined ? {} : { problem }),
      });
      const eventId = await this.#record(request, data);
      return {
        verdict: result.verdict,
        eventId,
        ...(data.problem === undefined ? {} : { problem: data.problem }),
      };
    } catch (error) {
      this.#logger.error({ sessionId: request.sessionId, error: errorMessage(error) }, "audit gate failed");
      return { verdict: "inconclusive", problem: `the audit failed: ${errorMessage(error)}` };
    } finally {
      clearTimeout(timer);
    }
  }

  /** The tail's events: sessions' activity, and the background reviews already recorded. */
  observe(events: readonly StoredEvent[]): void {
    for (const event of events) {
      if (event.agentId === "warden") continue;
      if (event.type === "audit-verdict") {
        const data = event.data as EventData<"audit-verdict">;
        if (data.trigger === "session-end") this.#auditedThrough.set(event.sessionId, data.throughSeq);
        continue;
      }
      if (quietTypes.has(event.type)) continue;
      this.#sessions.set(event.sessionId, {
        agentId: event.agentId,
        traceId: event.traceId,
        lastSeq: event.seq,
        lastActivityMs: Math.max(
          Date.parse(event.time),
          this.#sessions.get(event.sessionId)?.lastActivityMs ?? 0,
        ),
      });
    }
  }

  /** Looks for quiet sessions every few seconds (sessions: on-end). */
  start(checkEveryMilliseconds = 1000): void {
    if (this.#config.sessions !== "on-end") return;
    this.#timer = setInterval(() => {
      this.#background ??= this.reviewQuietSessions().finally(() => {
        this.#background = null;
      });
    }, checkEveryMilliseconds);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearInterval(this.#timer);
    await this.#background;
  }

  /** Reviews, one at a time, each session quiet for `sessionIdleSeconds` with events not yet reviewed. */
  async reviewQuietSessions(): Promise<void> {
    const idleMs = this.#config.sessionIdleSeconds * 1000;
    for (const [sessionId, activity] of this.#sessions) {
      if (this.#stopped) return;
      const quietMs = this.#now() - activity.lastActivityMs;
      if (quietMs < idleMs) continue;
      // Sessions that ended long before (the log's history when the auditor is first turned
      // on) are left to `warden audit`; the map forgets them.
      if (quietMs > idleMs + staleAfterMs) {
        this.#sessions.delete(sessionId);
        continue;
      }
      if ((this.#auditedThrough.get(sessionId) ?? 0) >= activity.lastSeq) continue;
      this.#auditedThrough.set(sessionId, activity.lastSeq);
      try {
        const events = await this.#sessionEvents(sessionId);
        const result = await runAudit(
          { goal: this.#config.goal, rules: this.#rules(), events },
          { models: this.#models, samples: this.#config.samples, threshold: this.#config.threshold },
        );
        await this.#record(
          { agentId: activity.agentId, sessionId, traceId: activity.traceId },
          auditVerdictData(result, {
            goal: this.#config.goal,
            events,
            trigger: "session-end",
            models: this.#models.map((model) => model.name),
          }),
        );
      } catch (error) {
        this.#logger.error({ sessionId, error: errorMessage(error) }, "background session audit failed");
      }
    }
  }

  async #sessionEvents(sessionId: string): Promise<StoredEvent[]> {
    const events = await this.#store.read({ sessionId, limit: 1_000_000 });
    return events.filter((event) => !wardenOwnTypes.has(event.type as EventType)).slice(-maximumTraceEvents);
  }

  async #record(
    identity: { agentId: string; sessionId: string; traceId: string },
    data: EventData<"audit-verdict">,
  ): Promise<string> {
    const event = await this.#store.append({
      type: "audit-verdict",
      agentId: identity.agentId,
      sessionId: identity.sessionId,
      traceId: identity.traceId,
      spanId: newSpanId(),
      data,
    });
    return event.id;
  }
}

function inconclusive(): AuditResult {
  return {
    verdict: "inconclusive",
    promptVersion: auditorPromptVersion,
    votes: { aligned: 0, misaligned: 0, deceptive: 0, invalid: 0 },
    agreement: 0,
    disagreement: false,
    samples: [],
    evidence: [],
    concerns: [],
  };
}

/** The auditor's models, over the named upstream (the daemon's key, never the agent's). */
function auditModelsOf(config: AuditorConfig, upstreams: WardenConfig["upstreams"]): AuditModel[] {
  const upstream = upstreams.find((item) => item.name === config.upstream);
  if (upstream === undefined) {
    throw new WardenError(
      "config-invalid",
      `auditor.upstream: no upstream named "${config.upstream}" (names: ${upstreams.map((item) => item.name).join(", ") || "none"})`,
    );
  }
  if (upstream.format !== "openai") {
    throw new WardenError(
      "config-invalid",
      `auditor.upstream: "${config.upstream}" speaks ${upstream.format}; the auditor needs an openai-format upstream`,
    );
  }
  const baseURL = `${upstream.baseUrl.replace(/\/+$/, "").replace(/\/v1$/, "")}/v1`;
  const apiKey = (upstream.apiKeyEnv ? process.env[upstream.apiKeyEnv] : undefined) ?? "unused";
  return config.models.map((model) =>
    openAiAuditModel({ baseURL, apiKey, model, timeoutMilliseconds: config.timeoutSeconds * 1000 }),
  );
}
