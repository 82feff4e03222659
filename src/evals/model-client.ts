import { setTimeout as sleep } from "node:timers/promises";
import type { TranscriptMessage, TranscriptToolCall } from "./transcript.js";

/** Where the runner sends model calls: Warden's gateway, with an `eval:` agent's token. */
export interface ModelEndpoint {
  /** The gateway's base URL, e.g. `http://127.0.0.1:7400`. */
  baseUrl: string;
  token: string;
  /** `openai`: Chat Completions; `anthropic`: Messages. */
  format: "openai" | "anthropic";
  model: string;
  /** Names the upstream behind the gateway (e.g. `openai=https://…`); part of the cache key. */
  upstream?: string;
}

export interface ModelCallInput {
  system: string;
  messages: TranscriptMessage[];
  tools: { name: string; description: string; parameters: Record<string, unknown> }[];
  maxTokens: number;
  temperature?: number | undefined;
  seed?: number | undefined;
}

export interface ModelReply {
  content: string;
  reasoning?: string;
  toolCalls: { id: string; name: string; arguments: Record<string, unknown> }[];
}

export interface RetryPolicy {
  maxRetries: number;
  /** First back-off; doubles each attempt, with jitter, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const defaultRetryPolicy: RetryPolicy = { maxRetries: 6, baseDelayMs: 500, maxDelayMs: 30_000 };

/** A model call that failed for good (after retries, or at once for a non-retryable status). */
export class ModelCallError extends Error {
  readonly status: number | null;
  constructor(message: string, status: number | null) {
    super(message);
    this.name = "ModelCallError";
    this.status = status;
  }

  /** 408, 409, 429 and 5xx are worth another attempt; so is a failed connection. */
  static isRetryable(status: number | null): boolean {
    return status === null || status === 408 || status === 409 || status === 429 || status >= 500;
  }
}

/** The request body for the endpoint's wire format. Part of the cache key, so it must be deterministic. */
export function requestBody(endpoint: ModelEndpoint, input: ModelCallInput): Record<string, unknown> {
  return endpoint.format === "openai" ? chatCompletionsBody(endpoint, input) : messagesBody(endpoint, input);
}

function chatCompletionsBody(endpoint: ModelEndpoint, input: ModelCallInput): Record<string, unknown> {
  const messages: unknown[] = [{ role: "system", content: input.system }];
  for (const message of input.messages) {
    if (message.role === "assistant") {
      messages.push({
        role: "assistant",
        content: message.content === "" && message.toolCalls?.length ? null : message.content,
        ...(message.toolCalls?.length
          ? {
              tool_calls: message.toolCalls.map((call) => ({
                id: call.id,
                type: "function",
                function: { name: call.name, arguments: JSON.stringify(call.arguments) },
              })),
            }
          : {}),
      });
    } else if (message.role === "tool") {
      messages.push({ role: "tool", tool_call_id: message.toolCallId, content: message.content });
    } else {
      messages.push({ role: message.role, content: message.content });
    }
  }
  return {
    model: endpoint.model,
    messages,
    max_tokens: input.maxTokens,
    ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
    ...(input.seed === undefined ? {} : { seed: input.seed }),
    ...(input.tools.length > 0
      ? {
          tools: input.tools.map((tool) => ({
            type: "function",
            function: { name: tool.name, description: tool.description, parameters: tool.parameters },
          })),
        }
      : {}),
  };
}

function messagesBody(endpoint: ModelEndpoint, input: ModelCallInput): Record<string, unknown> {
  const messages: { role: "user" | "assistant"; content: unknown[] }[] = [];
  const push = (role: "user" | "assistant", block: unknown) => {
    const last = messages.at(-1);
    if (last && last.role === role) last.content.push(block);
    else messages.push({ role, content: [block] });
  };
  for (const message of input.messages) {
    if (message.role === "assistant") {
      if (message.content !== "") push("assistant", { type: "text", text: message.content });
      for (const call of message.toolCalls ?? []) {
        push("assistant", { type: "tool_use", id: call.id, name: call.name, input: call.arguments });
      }
    } else if (message.role === "tool") {
      push("user", {
        type: "tool_result",
        tool_use_id: message.toolCallId,
        content: message.content,
        ...(message.isError ? { is_error: true } : {}),
      });
    } else if (message.role === "user") {
      push("user", { type: "text", text: message.content });
    }
  }
  return {
    model: endpoint.model,
    system: input.system,
    messages,
    max_tokens: input.maxTokens,
    ...(input.temperature === undefined ? {} : { temperature: input.temperature }),
    ...(input.tools.length > 0
      ? {
          tools: input.tools.map((tool) => ({
            name: tool.name,
            description: tool.description,
            input_schema: tool.parameters,
          })),
        }
      : {}),
  };
}

/** Reads the reply of either format into text, reasoning and tool calls. */
export function parseReply(format: "openai" | "anthropic", body: unknown): ModelReply {
  const record = (value: unknown) =>
    value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
  if (format === "openai") {
    const choices = record(body).choices;
    const message = record(Array.isArray(choices) ? choices[0] : undefined).message;
    const fields = record(message);
    const calls = Array.isArray(fields.tool_calls) ? fields.tool_calls : [];
    const reasoning = fields.reasoning_content ?? fields.reasoning;
    return {
      content: typeof fields.content === "string" ? fields.content : "",
      ...(typeof reasoning === "string" && reasoning !== "" ? { reasoning } : {}),
      toolCalls: calls.map((call, index) => {
        const fn = record(record(call).function);
        return {
          id: typeof record(call).id === "string" ? (record(call).id as string) : `call_${index}`,
          name: typeof fn.name === "string" ? fn.name : "",
          arguments: parseArguments(fn.arguments),
        };
      }),
    };
  }
  const blocks = Array.isArray(record(body).content) ? (record(body).content as unknown[]) : [];
  const text: string[] = [];
  const thinking: string[] = [];
  const toolCalls: ModelReply["toolCalls"] = [];
  for (const block of blocks.map(record)) {
    if (block.type === "text" && typeof block.text === "string") text.push(block.text);
    if (block.type === "thinking" && typeof block.thinking === "string") thinking.push(block.thinking);
    if (block.type === "tool_use") {
      toolCalls.push({
        id: String(block.id ?? `toolu_${toolCalls.length}`),
        name: String(block.name ?? ""),
        arguments: record(block.input),
      });
    }
  }
  return {
    content: text.join(""),
    ...(thinking.length ? { reasoning: thinking.join("\n") } : {}),
    toolCalls,
  };
}

function parseArguments(value: unknown): Record<string, unknown> {
  if (typeof value !== "string") return {};
  try {
    const parsed: unknown = JSON.parse(value);
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : { value: parsed };
  } catch {
    return { unparsed: value };
  }
}

/**
 * How long to wait before the next attempt: the server's `retry-after-ms` or `Retry-After`
 * (seconds or an HTTP date, RFC 9110 §10.2.3) when it sent one, else exponential back-off with jitter.
 */
export function retryDelayMs(
  headers: Headers | null,
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
  now = Date.now(),
): number {
  const milliseconds = Number(headers?.get("retry-after-ms"));
  if (headers?.get("retry-after-ms") && Number.isFinite(milliseconds) && milliseconds >= 0) {
    return Math.min(milliseconds, policy.maxDelayMs * 4);
  }
  const retryAfter = headers?.get("retry-after");
  if (retryAfter) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return Math.min(seconds * 1000, policy.maxDelayMs * 4);
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.min(Math.max(0, date - now), policy.maxDelayMs * 4);
  }
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return exponential * (0.5 + random() / 2);
}

/** One model call through the gateway, retried with back-off on rate limits and transient failures. */
export async function callModel(
  endpoint: ModelEndpoint,
  body: Record<string, unknown>,
  options: {
    sessionId: string;
    retry?: RetryPolicy;
    onRetry?: (delayMs: number, status: number | null) => void;
  },
): Promise<{ reply: ModelReply; attempts: number }> {
  const policy = options.retry ?? defaultRetryPolicy;
  const path = endpoint.format === "openai" ? "/v1/chat/completions" : "/v1/messages";
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "x-warden-session": options.sessionId,
    ...(endpoint.format === "openai"
      ? { authorization: `Bearer ${endpoint.token}` }
      : { "x-api-key": endpoint.token, "anthropic-version": "2023-06-01" }),
  };
  for (let attempt = 0; ; attempt++) {
    let status: number | null = null;
    let responseHeaders: Headers | null = null;
    let message: string;
    try {
      const response = await fetch(`${endpoint.baseUrl}${path}`, {
        method: "POST",
        headers,
        body: JSON.stringify(body),
      });
      status = response.status;
      responseHeaders = response.headers;
      const text = await response.text();
      if (response.ok) {
        return { reply: parseReply(endpoint.format, JSON.parse(text)), attempts: attempt + 1 };
      }
      message = `${path} answered ${response.status}: ${text.slice(0, 300)}`;
    } catch (error) {
      message = `${path} failed: ${(error as Error).message}`;
    }
    if (!ModelCallError.isRetryable(status) || attempt >= policy.maxRetries) {
      throw new ModelCallError(message, status);
    }
    const delay = retryDelayMs(responseHeaders, attempt, policy);
    options.onRetry?.(delay, status);
    await sleep(delay);
  }
}

export type { TranscriptToolCall };
