import type { OrderedStreamWriter } from "./ordered-stream-writer.js";
import type { SseEvent } from "./sse-parser.js";

/** A tool call the model proposed, as the gateway hands it to oversight. */
export interface ProposedToolCall {
  /** The provider's id for the call (`call_…`, `toolu_…`). */
  id: string;
  name: string;
  /** The arguments as the model sent them: a JSON text (OpenAI) or an object (Anthropic). */
  arguments: unknown;
}

export type ToolCallVerdict =
  | { allowed: true; callId?: string }
  | {
      allowed: false;
      /** The `tool-call` record's id, when oversight recorded the call. */
      callId?: string;
      ruleId: string;
      message: string;
      /** What the agent is shown instead of the call. */
      text: string;
    };

export type ReviewToolCall = (call: ProposedToolCall) => Promise<ToolCallVerdict>;

/** What a stream filter assembled from the stream, for the `model-response` record. */
export interface StreamSummary {
  text: string;
  reasoning: string;
  toolCalls: { id: string; name: string; arguments: unknown; verdict: "allow" | "deny" | "incomplete" }[];
  finishReason: string | null;
  usage: unknown;
}

/** Turns upstream SSE events into what the client sees, deciding tool calls on the way. */
export interface StreamFilter {
  push(event: SseEvent): void;
  /** The upstream stream ended (cleanly or not); tool calls left incomplete are dropped. */
  end(): void;
  /** Resolves once every frame, including decided tool calls, has been written. */
  finished(): Promise<void>;
  summary(): StreamSummary;
}

/**
 * One model API the gateway serves (OpenAI Chat Completions, OpenAI Responses, Anthropic
 * Messages): how its requests are checked and its responses and streams filtered.
 */
export interface GatewayApi {
  name: "openai-chat" | "openai-responses" | "anthropic-messages";
  family: "openai" | "anthropic";
  path: string;
  errorBody(status: number, message: string): unknown;
  /** The 429 body for a Warden agent limit (`requests` per minute or a `tokens` budget). */
  rateLimitBody(limit: "requests" | "tokens", message: string): unknown;
  /** The event that ends a complete stream (`[DONE]`, `response.completed`, `message_stop`). */
  isStreamEnd(event: SseEvent): boolean;
  /** An in-stream error event the client's SDK raises as an API error (headers are already sent). */
  streamErrorFrame(status: number, message: string): string;
  /** Why the request must be refused before it leaves (provider-hosted tools), or null. */
  refusal(body: Record<string, unknown>): string | null;
  /** The system prompt and first user message: what identifies one conversation across its turns. */
  conversationStart(body: Record<string, unknown>): unknown;
  /** Applies verdicts to a complete (non-streamed) response body. */
  reviewResponse(body: unknown, review: ReviewToolCall): Promise<unknown>;
  createStreamFilter(write: (text: string) => void, review: ReviewToolCall): StreamFilter;
}

export type { OrderedStreamWriter };

/** An upstream stream event whose data is not JSON: the stream is cut there with an error. */
export class MalformedUpstreamEvent extends Error {
  override readonly name = "MalformedUpstreamEvent";
  constructor(data: string) {
    super(`the upstream sent a stream event that is not JSON (${data.length} characters)`);
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The model's arguments as a value: JSON text is parsed; text that is not JSON stays text. */
export function parseToolArguments(value: unknown): unknown {
  if (typeof value !== "string") return value;
  if (value.trim() === "") return {};
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}
