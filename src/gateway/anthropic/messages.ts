import {
  type GatewayApi,
  isRecord,
  MalformedUpstreamEvent,
  parseToolArguments,
  type ReviewToolCall,
  type StreamFilter,
  type StreamSummary,
  type ToolCallVerdict,
} from "../gateway-api.js";
import { OrderedStreamWriter } from "../ordered-stream-writer.js";
import { type SseEvent, sseFrame } from "../sse-parser.js";
import { anthropicErrorBody, anthropicRateLimitBody } from "./error-body.js";
import { anthropicToolRefusal } from "./hosted-tools.js";

/**
 * Anthropic Messages, `POST /v1/messages` (shapes from anthropic-sdk-typescript
 * `resources/messages/messages.ts`; stream events per "Streaming Messages" in the API docs).
 */
export const anthropicMessages: GatewayApi = {
  name: "anthropic-messages",
  family: "anthropic",
  path: "/v1/messages",
  errorBody: anthropicErrorBody,
  rateLimitBody: anthropicRateLimitBody,
  refusal: anthropicToolRefusal,
  isStreamEnd: (event) => event.event === "message_stop" || event.event === "error",
  // The `error` event of "Streaming Messages"; the SDK raises it as an APIError.
  streamErrorFrame: (status, message) => sseFrame("error", anthropicErrorBody(status, message)),

  conversationStart(body) {
    const first = Array.isArray(body.messages) ? body.messages[0] : undefined;
    return { system: body.system ?? null, first: first ?? null };
  },

  async reviewResponse(body, review) {
    if (!isRecord(body) || !Array.isArray(body.content)) return body;
    const blocks: unknown[] = body.content;
    const verdicts = await Promise.all(
      blocks.map((block) =>
        isRecord(block) && block.type === "tool_use"
          ? review({
              id: String(block.id ?? ""),
              name: String(block.name ?? "unknown"),
              arguments: block.input,
            })
          : undefined,
      ),
    );
    if (verdicts.every((verdict) => verdict === undefined || verdict.allowed)) return body;
    const allowed = verdicts.filter((verdict) => verdict?.allowed).length;
    const content = blocks.map((block, index) => {
      const verdict = verdicts[index];
      return verdict !== undefined && !verdict.allowed
        ? { type: "text", text: verdict.text, citations: null }
        : block;
    });
    return { ...body, content, stop_reason: stopReason(body.stop_reason, allowed) };
  },

  createStreamFilter(write, review) {
    return new MessagesStreamFilter(write, review);
  },
};

interface ToolUseGroup {
  index: unknown;
  id: string;
  name: string;
  input: unknown;
  argumentsText: string;
  frames: string[];
  fill: (frames: string[]) => void;
  verdict: Promise<ToolCallVerdict> | undefined;
}

class MessagesStreamFilter implements StreamFilter {
  readonly #writer: OrderedStreamWriter;
  readonly #review: ReviewToolCall;
  readonly #open = new Map<unknown, ToolUseGroup>();
  readonly #verdicts: Promise<ToolCallVerdict>[] = [];
  readonly #summary: StreamSummary = {
    text: "",
    reasoning: "",
    toolCalls: [],
    finishReason: null,
    usage: null,
  };

  constructor(write: (text: string) => void, review: ReviewToolCall) {
    this.#writer = new OrderedStreamWriter(write);
    this.#review = review;
  }

  push(event: SseEvent): void {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      throw new MalformedUpstreamEvent(event.data);
    }
    if (!isRecord(data)) {
      this.#writer.emit(event.raw);
      return;
    }
    switch (data.type) {
      case "message_start":
        if (isRecord(data.message)) this.#summary.usage = data.message.usage ?? null;
        this.#writer.emit(event.raw);
        return;
      case "content_block_start": {
        const block = isRecord(data.content_block) ? data.content_block : {};
        if (block.type !== "tool_use") {
          this.#writer.emit(event.raw);
          return;
        }
        this.#open.set(data.index, {
          index: data.index,
          id: String(block.id ?? ""),
          name: String(block.name ?? "unknown"),
          input: block.input,
          argumentsText: "",
          frames: [event.raw],
          fill: this.#writer.reserve(),
          verdict: undefined,
        });
        return;
      }
      case "content_block_delta": {
        const delta = isRecord(data.delta) ? data.delta : {};
        const group = this.#open.get(data.index);
        if (group) {
          group.frames.push(event.raw);
          if (typeof delta.partial_json === "string") group.argumentsText += delta.partial_json;
          return;
        }
        if (typeof delta.text === "string") this.#summary.text += delta.text;
        if (typeof delta.thinking === "string") this.#summary.reasoning += delta.thinking;
        this.#writer.emit(event.raw);
        return;
      }
      case "content_block_stop": {
        const group = this.#open.get(data.index);
        if (!group) {
          this.#writer.emit(event.raw);
          return;
        }
        this.#open.delete(data.index);
        group.frames.push(event.raw);
        this.#decide(group);
        return;
      }
      case "message_delta":
        this.#messageDelta(data, event.raw);
        return;
      default:
        this.#writer.emit(event.raw);
        return;
    }
  }

  end(): void {
    // Tool calls whose block never closed may be cut off: none of them is released.
    for (const group of this.#open.values()) {
      this.#summary.toolCalls.push({
        id: group.id,
        name: group.name,
        arguments: parseToolArguments(group.argumentsText),
        verdict: "incomplete",
      });
      group.fill([]);
    }
    this.#open.clear();
  }

  finished(): Promise<void> {
    return this.#writer.idle();
  }

  summary(): StreamSummary {
    return this.#summary;
  }

  #decide(group: ToolUseGroup): void {
    const input = group.argumentsText === "" ? group.input : parseToolArguments(group.argumentsText);
    const verdict = this.#review({ id: group.id, name: group.name, arguments: input });
    this.#verdicts.push(verdict);
    void verdict.then((result) => {
      this.#summary.toolCalls.push({
        id: group.id,
        name: group.name,
        arguments: input,
        verdict: result.allowed ? "allow" : "deny",
      });
      if (result.allowed) return group.fill(group.frames);
      this.#summary.text += result.text;
      const index = group.index;
      group.fill([
        sseFrame("content_block_start", {
          type: "content_block_start",
          index,
          content_block: { type: "text", text: "", citations: null },
        }),
        sseFrame("content_block_delta", {
          type: "content_block_delta",
          index,
          delta: { type: "text_delta", text: result.text },
        }),
        sseFrame("content_block_stop", { type: "content_block_stop", index }),
      ]);
    });
  }

  #messageDelta(data: Record<string, unknown>, raw: string): void {
    const delta = isRecord(data.delta) ? data.delta : {};
    // message_delta's usage updates message_start's (cumulative output tokens); keep both's fields.
    if (isRecord(data.usage))
      this.#summary.usage = { ...(isRecord(this.#summary.usage) ? this.#summary.usage : {}), ...data.usage };
    const fill = this.#writer.reserve();
    void Promise.all([...this.#verdicts]).then((verdicts) => {
      const allowed = verdicts.filter((verdict) => verdict.allowed).length;
      const reason = stopReason(delta.stop_reason, allowed);
      this.#summary.finishReason = typeof reason === "string" ? reason : null;
      if (reason === delta.stop_reason) return fill([raw]);
      fill([sseFrame("message_delta", { ...data, delta: { ...delta, stop_reason: reason } })]);
    });
  }
}

/** With every tool call denied, the turn ends as text: `end_turn`, so clients do not wait for tool results. */
function stopReason(upstream: unknown, allowedCalls: number): unknown {
  return upstream === "tool_use" && allowedCalls === 0 ? "end_turn" : upstream;
}
