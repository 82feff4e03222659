import { createHash } from "node:crypto";
import { type Attributes, type HrTime, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import type { Decision } from "../../core/decision.js";
import type { EventData, StoredEvent } from "../../core/events.js";

/**
 * Turns Warden's events into OpenTelemetry spans named and attributed after the GenAI semantic
 * conventions: a model call (`model-request` + `model-response`, one span id) becomes a
 * `chat MODEL` client span; a tool call (`tool-call`, its `policy-decision`, approvals and
 * `tool-result`, joined by call id) an `execute_tool TOOL` span whose decision and approvals are
 * span events; a finding a `warden.finding DETECTOR` span in the trace of the event it is about.
 * Warden's own facts go in `warden.*` attributes. Trace ids are the events' own, so a trace in
 * Jaeger or Tempo is the trace `warden trace` shows.
 */
export class EventSpanAssembler {
  readonly #resource: Resource;
  readonly #scope = { name: "warden", version: "0.1.0" };
  readonly #models = new Map<string, { request: StoredEvent<"model-request"> }>();
  readonly #tools = new Map<string, OpenTool>();
  /** Model span ids seen lately, so a tool call proposed by a model becomes its child. */
  readonly #modelSpanIds = new Set<string>();

  constructor(resource: Resource) {
    this.#resource = resource;
  }

  /** The seq of the oldest event still waiting for its other half (to resume from), or null. */
  get oldestOpenSeq(): number | null {
    let oldest: number | null = null;
    for (const { request } of this.#models.values()) oldest = Math.min(oldest ?? request.seq, request.seq);
    for (const tool of this.#tools.values()) oldest = Math.min(oldest ?? tool.call.seq, tool.call.seq);
    return oldest;
  }

  /** Forgets every open span (before reading again from an earlier position). */
  reset(): void {
    this.#models.clear();
    this.#tools.clear();
  }

  /** Takes one event in log order; returns the spans it completes. */
  add(event: StoredEvent): ReadableSpan[] {
    switch (event.type) {
      case "model-request":
        this.#models.set(event.spanId, { request: event as StoredEvent<"model-request"> });
        this.#remember(event.spanId);
        return [];
      case "model-response": {
        const open = this.#models.get(event.spanId);
        if (open === undefined) return [];
        this.#models.delete(event.spanId);
        return [this.#modelSpan(open.request, event as StoredEvent<"model-response">)];
      }
      case "tool-call": {
        const call = event as StoredEvent<"tool-call">;
        this.#tools.set(call.data.callId, { call, events: [], decision: null });
        return [];
      }
      case "policy-decision": {
        const data = event.data as EventData<"policy-decision">;
        const open = this.#tools.get(data.callId);
        if (open === undefined) return [];
        const applied = data.applied;
        open.decision = applied;
        const ruleId = applied.ruleId;
        open.events.push(
          timedEvent("warden.policy_decision", event.time, {
            "warden.decision.effect": applied.effect,
            "warden.decision.mode": data.mode,
            ...(ruleId ? { "warden.decision.rule_id": ruleId } : {}),
          }),
        );
        // A call that is not allowed never runs: its span ends with the decision.
        if (applied.effect === "deny") return [this.#closeTool(data.callId, event)];
        return [];
      }
      case "approval-request":
      case "approval-decision": {
        const data = event.data as EventData<"approval-request"> | EventData<"approval-decision">;
        const open = this.#tools.get(data.callId);
        if (open === undefined) return [];
        open.events.push(
          timedEvent(
            event.type === "approval-request" ? "warden.approval_requested" : "warden.approval_decided",
            event.time,
            "outcome" in data
              ? { "warden.approval.outcome": data.outcome, "warden.approval.reviewer": data.reviewer }
              : { "warden.approval.rule_id": data.ruleId },
          ),
        );
        if ("outcome" in data && data.outcome !== "approved") return [this.#closeTool(data.callId, event)];
        return [];
      }
      case "tool-result": {
        const data = event.data as EventData<"tool-result">;
        if (!this.#tools.has(data.callId)) return [];
        return [this.#closeTool(data.callId, event)];
      }
      case "finding":
        return [this.#findingSpan(event as StoredEvent<"finding">)];
      default:
        return [];
    }
  }

  /** Ends spans whose other half has not come within `maxOpenMs` (exported as incomplete). */
  expire(now: Date, maxOpenMs: number): ReadableSpan[] {
    const spans: ReadableSpan[] = [];
    const cutoff = now.getTime() - maxOpenMs;
    for (const [spanId, { request }] of this.#models) {
      if (Date.parse(request.time) > cutoff) continue;
      this.#models.delete(spanId);
      spans.push(this.#modelSpan(request, null));
    }
    for (const [callId, open] of this.#tools) {
      if (Date.parse(open.call.time) > cutoff) continue;
      spans.push(this.#closeTool(callId, null));
    }
    return spans;
  }

  #remember(spanId: string): void {
    this.#modelSpanIds.add(spanId);
    if (this.#modelSpanIds.size > 10_000) {
      const oldest = this.#modelSpanIds.values().next().value;
      if (oldest !== undefined) this.#modelSpanIds.delete(oldest);
    }
  }

  #modelSpan(
    request: StoredEvent<"model-request">,
    response: StoredEvent<"model-response"> | null,
  ): ReadableSpan {
    const body = isRecord(request.data.body) ? request.data.body : {};
    const answer = response !== null && isRecord(response.data.body) ? response.data.body : {};
    const usage = isRecord(answer.usage) ? answer.usage : {};
    const inputTokens = numberOf(usage.input_tokens) ?? numberOf(usage.prompt_tokens);
    const outputTokens = numberOf(usage.output_tokens) ?? numberOf(usage.completion_tokens);
    const status = response?.data.status ?? null;
    const attributes: Attributes = {
      "gen_ai.operation.name": "chat",
      "gen_ai.provider.name": request.data.provider,
      "gen_ai.system": request.data.provider,
      "gen_ai.request.model": request.data.model,
      "gen_ai.conversation.id": request.sessionId,
      "gen_ai.agent.name": request.agentId,
      "url.path": request.data.path,
      "warden.event.seq": request.seq,
      ...(numberOf(body.max_tokens) === undefined
        ? {}
        : { "gen_ai.request.max_tokens": numberOf(body.max_tokens) }),
      ...(numberOf(body.temperature) === undefined
        ? {}
        : { "gen_ai.request.temperature": numberOf(body.temperature) }),
      ...(typeof answer.model === "string" ? { "gen_ai.response.model": answer.model } : {}),
      ...(typeof answer.id === "string" ? { "gen_ai.response.id": answer.id } : {}),
      ...(inputTokens === undefined ? {} : { "gen_ai.usage.input_tokens": inputTokens }),
      ...(outputTokens === undefined ? {} : { "gen_ai.usage.output_tokens": outputTokens }),
      ...(status === null ? {} : { "http.response.status_code": status }),
      ...(response === null ? {} : { "warden.streamed": response.data.streamed }),
      ...(response?.data.toolCalls
        ? {
            "warden.tool_calls.denied": response.data.toolCalls.filter((call) => call.verdict === "deny")
              .length,
            "warden.tool_calls.proposed": response.data.toolCalls.length,
          }
        : {}),
    };
    const failed = response === null || response.data.status >= 400;
    if (failed) attributes["error.type"] = response === null ? "incomplete" : String(response.data.status);
    return this.#span({
      name: `chat ${request.data.model || "unknown"}`,
      kind: SpanKind.CLIENT,
      traceId: request.traceId,
      spanId: request.spanId,
      parentSpanId: request.parentSpanId,
      start: request.time,
      end: response?.time ?? request.time,
      attributes,
      events: [],
      error: failed
        ? response === null
          ? "no response was recorded"
          : `status ${response.data.status}`
        : null,
    });
  }

  #closeTool(callId: string, last: StoredEvent | null): ReadableSpan {
    const open = this.#tools.get(callId)!;
    this.#tools.delete(callId);
    const { call, decision } = open;
    const result = last?.type === "tool-result" ? (last.data as EventData<"tool-result">) : null;
    const attributes: Attributes = {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": call.data.tool,
      "gen_ai.tool.call.id": callId,
      "gen_ai.tool.type": "function",
      "gen_ai.conversation.id": call.sessionId,
      "gen_ai.agent.name": call.agentId,
      "warden.tool.server": call.data.server,
      "warden.tool.via": call.data.via,
      "warden.event.seq": call.seq,
      ...(decision === null ? {} : { "warden.decision.effect": decision.effect }),
      ...(decision?.ruleId ? { "warden.decision.rule_id": decision.ruleId } : {}),
      ...(result === null ? {} : { "warden.tool.latency_ms": result.latencyMs }),
    };
    const refused = decision?.effect === "deny" || last?.type === "approval-decision";
    const error =
      last === null ? "no result was recorded" : result?.isError ? "the tool reported an error" : null;
    if (refused) attributes["error.type"] = "denied";
    else if (error !== null) attributes["error.type"] = last === null ? "incomplete" : "tool_error";
    // A tool call the model proposed is recorded as a child of the model call's span; one that
    // shares a model span's id (older records) gets an id of its own under it.
    const ownSpanId = this.#modelSpanIds.has(call.spanId) ? derivedSpanId(callId) : call.spanId;
    const parentSpanId = ownSpanId === call.spanId ? call.parentSpanId : call.spanId;
    return this.#span({
      name: `execute_tool ${call.data.tool}`,
      kind: SpanKind.INTERNAL,
      traceId: call.traceId,
      spanId: ownSpanId,
      parentSpanId,
      start: call.time,
      end: last?.time ?? call.time,
      attributes,
      events: open.events,
      error: refused ? "denied by Warden" : error,
    });
  }

  #findingSpan(event: StoredEvent<"finding">): ReadableSpan {
    return this.#span({
      name: `warden.finding ${event.data.detector}`,
      kind: SpanKind.INTERNAL,
      traceId: event.traceId,
      spanId: event.spanId,
      parentSpanId: event.parentSpanId,
      start: event.time,
      end: event.time,
      attributes: {
        "warden.finding.detector": event.data.detector,
        "warden.finding.severity": event.data.severity,
        "warden.finding.explanation": event.data.explanation,
        "warden.finding.evidence": event.data.evidence.map((item) => item.eventId),
        "gen_ai.conversation.id": event.sessionId,
        "gen_ai.agent.name": event.agentId,
        "warden.event.seq": event.seq,
      },
      events: [],
      error: null,
    });
  }

  #span(shape: {
    name: string;
    kind: SpanKind;
    traceId: string;
    spanId: string;
    parentSpanId: string | undefined;
    start: string;
    end: string;
    attributes: Attributes;
    events: TimedEvent[];
    error: string | null;
  }): ReadableSpan {
    const startTime = hrTime(shape.start);
    const endTime = hrTime(shape.end);
    const traceFlags = 1;
    return {
      name: shape.name,
      kind: shape.kind,
      spanContext: () => ({ traceId: shape.traceId, spanId: shape.spanId, traceFlags }),
      ...(shape.parentSpanId === undefined
        ? {}
        : { parentSpanContext: { traceId: shape.traceId, spanId: shape.parentSpanId, traceFlags } }),
      startTime,
      endTime,
      duration: hrDifference(startTime, endTime),
      status:
        shape.error === null
          ? { code: SpanStatusCode.OK }
          : { code: SpanStatusCode.ERROR, message: shape.error },
      attributes: shape.attributes,
      links: [],
      events: shape.events,
      ended: true,
      resource: this.#resource,
      instrumentationScope: this.#scope,
      droppedAttributesCount: 0,
      droppedEventsCount: 0,
      droppedLinksCount: 0,
    };
  }
}

interface OpenTool {
  call: StoredEvent<"tool-call">;
  events: TimedEvent[];
  decision: Decision | null;
}

function timedEvent(name: string, time: string, attributes: Attributes): TimedEvent {
  return { name, time: hrTime(time), attributes, droppedAttributesCount: 0 };
}

function hrTime(iso: string): HrTime {
  const milliseconds = Date.parse(iso);
  return [Math.floor(milliseconds / 1000), (milliseconds % 1000) * 1_000_000];
}

function hrDifference(start: HrTime, end: HrTime): HrTime {
  let seconds = end[0] - start[0];
  let nanos = end[1] - start[1];
  if (nanos < 0) {
    seconds -= 1;
    nanos += 1_000_000_000;
  }
  return seconds < 0 ? [0, 0] : [seconds, nanos];
}

/** A stable span id of its own for a tool call that shares its model call's span id. */
function derivedSpanId(callId: string): string {
  return createHash("sha256").update(`warden/tool-span\n${callId}`).digest("hex").slice(0, 16);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function numberOf(value: unknown): number | undefined {
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}
