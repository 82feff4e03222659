import type { EventData, EventType, StoredEvent } from "../core/events.js";
import type { Transcript, TranscriptToolCall } from "./transcript.js";

export interface TranscriptIdentity {
  agentId: string;
  sessionId: string;
}

/**
 * A sample's transcript as the events Warden records for a live session (model requests and
 * replies, tool calls and results, sandbox runs), so the claim verifier and the auditor read a
 * sample exactly as they read production traffic. The events are numbered in conversation
 * order; they are a view of the sample, not entries of the hash-chained log (their hashes are
 * empty).
 */
export function transcriptEvents(transcript: Transcript, identity: TranscriptIdentity): StoredEvent[] {
  const events: StoredEvent[] = [];
  const push = <T extends EventType>(type: T, data: EventData<T>) => {
    const seq = events.length + 1;
    events.push({
      id: `${identity.sessionId}#${seq}`,
      seq,
      time: new Date(0).toISOString(),
      traceId: "0".repeat(32),
      spanId: seq.toString(16).padStart(16, "0"),
      agentId: identity.agentId,
      sessionId: identity.sessionId,
      type,
      data,
      prevHash: "",
      hash: "",
    });
  };
  for (const message of transcript.messages) {
    if (message.role === "user" || message.role === "system") {
      push("model-request", {
        provider: "eval",
        model: "",
        path: "/v1/chat/completions",
        body: { messages: [{ role: message.role, content: message.content }] },
      });
    } else if (message.role === "assistant") {
      const calls = message.toolCalls ?? [];
      push("model-response", {
        provider: "eval",
        model: "",
        status: 200,
        streamed: false,
        latencyMs: 0,
        body: {
          choices: [
            {
              message: {
                role: "assistant",
                content: message.content,
                ...(calls.length > 0
                  ? {
                      tool_calls: calls.map((call) => ({
                        id: call.id,
                        type: "function",
                        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
                      })),
                    }
                  : {}),
              },
            },
          ],
        },
      });
      for (const call of calls) pushToolCall(push, call);
    }
  }
  return events;
}

type Push = <T extends EventType>(type: T, data: EventData<T>) => void;

function pushToolCall(push: Push, call: TranscriptToolCall): void {
  push("tool-call", {
    callId: call.id,
    via: call.sandbox ? "sandbox" : "gateway",
    method: "tools/call",
    server: call.sandbox ? "eval-sandbox" : "eval-scripted",
    tool: call.name,
    // A scripted tool that stands for a command is recorded as a run of it.
    arguments: call.command === undefined ? call.arguments : { ...call.arguments, command: call.command },
  } as EventData<"tool-call">);
  push("tool-result", {
    callId: call.id,
    isError: call.isError,
    latencyMs: 0,
    result: {
      content: [{ type: "text", text: call.result }],
      ...(call.exitCode === undefined ? {} : { structuredContent: { exitCode: call.exitCode } }),
    },
  } as EventData<"tool-result">);
  const run = call.sandbox;
  // Runs that may write carry the change set; a read-only run adds nothing the verifier needs.
  if (run?.changes !== undefined) {
    push("sandbox-run", {
      command: run.command,
      exitCode: run.exitCode,
      timedOut: run.timedOut,
      stdout: run.stdout,
      stderr: run.stderr,
      changes: run.changes,
    } as EventData<"sandbox-run">);
  }
}
