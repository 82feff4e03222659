import type { EventData, EventType, StoredEvent } from "../core/events.js";
import type { Detector, DetectorContext, FindingData } from "./detector.js";

/** Builds stored events for detector unit tests, with increasing seq and ids. */
export class TestEvents {
  #seq = 0;

  event<T extends EventType>(
    type: T,
    data: EventData<T>,
    agentId = "agent-1",
    sessionId = "session-1",
    spanId?: string,
  ): StoredEvent {
    this.#seq++;
    return {
      id: `event-${this.#seq}`,
      seq: this.#seq,
      time: new Date(this.#seq * 1000).toISOString(),
      traceId: "0".repeat(32),
      spanId: spanId ?? this.#seq.toString(16).padStart(16, "0"),
      agentId,
      sessionId,
      type,
      data,
      prevHash: "",
      hash: "",
    };
  }

  toolCall(
    tool: string,
    args: unknown,
    agentId = "agent-1",
    sessionId = "session-1",
    callId = `call-${this.#seq + 1}`,
  ): StoredEvent {
    return this.event(
      "tool-call",
      { callId, via: "mcp", method: "tools/call", server: "files", tool, arguments: args },
      agentId,
      sessionId,
    );
  }

  decision(
    callId: string,
    effect: "allow" | "deny",
    ruleId = "rule-1",
    agentId = "agent-1",
    sessionId = "session-1",
  ): StoredEvent {
    const decision =
      effect === "allow"
        ? { effect: "allow" as const, ruleId: null }
        : { effect: "deny" as const, ruleId, reason: "no" };
    return this.event(
      "policy-decision",
      { callId, decision, applied: decision, mode: "enforce", matches: [], policyVersion: "v1" } as never,
      agentId,
      sessionId,
    );
  }

  reply(
    text: string,
    options: { agentId?: string; latencyMs?: number; tokens?: number; model?: string; spanId?: string } = {},
  ): StoredEvent {
    return this.event(
      "model-response",
      {
        provider: "openai",
        model: options.model ?? "gpt-test",
        status: 200,
        streamed: false,
        latencyMs: options.latencyMs ?? 100,
        body: {
          choices: [{ message: { role: "assistant", content: text } }],
          ...(options.tokens !== undefined ? { usage: { completion_tokens: options.tokens } } : {}),
        },
      },
      options.agentId ?? "agent-1",
      "session-1",
      options.spanId,
    );
  }
}

/** Runs a synchronous detector over events; returns every finding. */
export function inspectAll(detector: Detector, events: readonly StoredEvent[]): FindingData[] {
  const findings: FindingData[] = [];
  for (const event of events) {
    const context: DetectorContext = { evaluation: event.agentId.startsWith("eval:") };
    findings.push(...(detector.inspect(event, context) as FindingData[]));
  }
  return findings;
}
