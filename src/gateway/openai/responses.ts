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
import type { SseEvent } from "../sse-parser.js";
import { openAiErrorBody, openAiRateLimitBody } from "./error-body.js";
import { openAiToolRefusal } from "./hosted-tools.js";

/** OpenAI Responses, `POST /v1/responses` (shapes from openai-node `resources/responses/responses.ts`). */
export const openAiResponses: GatewayApi = {
  name: "openai-responses",
  family: "openai",
  path: "/v1/responses",
  errorBody: openAiErrorBody,
  rateLimitBody: openAiRateLimitBody,
  refusal: openAiToolRefusal,
  isStreamEnd: (event) =>
    event.event === "response.completed" ||
    event.event === "response.incomplete" ||
    event.event === "response.failed" ||
    event.event === "error",
  // The Responses `error` event, with `error` too: openai-node raises events carrying it as an APIError.
  streamErrorFrame: (status, message) => {
    const error = (openAiErrorBody(status, message) as { error: Record<string, unknown> }).error;
    return frame("error", { type: "error", code: error.code, message, param: null, error });
  },

  conversationStart(body) {
    const input = body.input;
    let first: unknown = null;
    if (typeof input === "string") first = input;
    else if (Array.isArray(input)) {
      const start: unknown[] = [];
      for (const item of input) {
        if (!isRecord(item)) continue;
        start.push({ role: item.role ?? null, content: item.content ?? null });
        if (item.role === "user") break;
      }
      first = start;
    }
    return { instructions: body.instructions ?? null, first };
  },

  async reviewResponse(body, review) {
    if (!isRecord(body) || !Array.isArray(body.output)) return body;
    const items: unknown[] = body.output;
    const verdicts = await Promise.all(
      items.map((item) =>
        isFunctionCall(item)
          ? review({
              id: String(item.call_id ?? ""),
              name: String(item.name ?? "unknown"),
              arguments: item.arguments,
            })
          : undefined,
      ),
    );
    if (verdicts.every((verdict) => verdict === undefined || verdict.allowed)) return body;
    const output = items.map((item, index) => {
      const verdict = verdicts[index];
      return verdict !== undefined && !verdict.allowed && isRecord(item)
        ? denialItem(item, verdict.text)
        : item;
    });
    return { ...body, output };
  },

  createStreamFilter(write, review) {
    return new ResponsesStreamFilter(write, review);
  },
};

interface OutgoingEvent {
  event: string | undefined;
  data: Record<string, unknown>;
  /** The upstream frame, reused when the event is unchanged. */
  raw: string | undefined;
}

interface FunctionCallGroup {
  outputIndex: unknown;
  frames: OutgoingEvent[];
  argumentsText: string;
  fill: (frames: OutgoingEvent[]) => void;
}

class ResponsesStreamFilter implements StreamFilter {
  readonly #writer: OrderedStreamWriter<OutgoingEvent>;
  readonly #review: ReviewToolCall;
  readonly #open = new Map<unknown, FunctionCallGroup>();
  readonly #verdicts: Promise<ToolCallVerdict>[] = [];
  readonly #denied = new Map<string, string>();
  readonly #summary: StreamSummary = {
    text: "",
    reasoning: "",
    toolCalls: [],
    finishReason: null,
    usage: null,
  };
  #sequence: number | undefined;

  constructor(write: (text: string) => void, review: ReviewToolCall) {
    // Replacing a call changes how many events there are, so sequence numbers are renumbered.
    this.#writer = new OrderedStreamWriter<OutgoingEvent>((outgoing) => {
      const upstreamSequence = outgoing.data.sequence_number;
      if (typeof upstreamSequence !== "number")
        return write(outgoing.raw ?? frame(outgoing.event, outgoing.data));
      const sequence = this.#sequence ?? upstreamSequence;
      this.#sequence = sequence + 1;
      if (outgoing.raw !== undefined && outgoing.data.sequence_number === sequence)
        return write(outgoing.raw);
      write(frame(outgoing.event, { ...outgoing.data, sequence_number: sequence }));
    });
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
      this.#passRaw(event.raw);
      return;
    }
    const outgoing: OutgoingEvent = { event: event.event, data, raw: event.raw };
    const type = data.type;
    if (type === "response.output_item.added" && isFunctionCall(data.item)) {
      this.#open.set(data.output_index, {
        outputIndex: data.output_index,
        frames: [outgoing],
        argumentsText: "",
        fill: this.#writer.reserve(),
      });
      return;
    }
    const group = data.output_index === undefined ? undefined : this.#open.get(data.output_index);
    if (group) {
      group.frames.push(outgoing);
      if (type === "response.function_call_arguments.delta" && typeof data.delta === "string")
        group.argumentsText += data.delta;
      if (type === "response.output_item.done") {
        this.#open.delete(data.output_index);
        this.#decide(group, isRecord(data.item) ? data.item : {});
      }
      return;
    }
    if (type === "response.output_text.delta" && typeof data.delta === "string")
      this.#summary.text += data.delta;
    if (
      (type === "response.reasoning_summary_text.delta" || type === "response.reasoning_text.delta") &&
      typeof data.delta === "string"
    )
      this.#summary.reasoning += data.delta;
    if (
      (type === "response.completed" || type === "response.incomplete" || type === "response.failed") &&
      isRecord(data.response)
    ) {
      this.#final(outgoing, data.response);
      return;
    }
    this.#writer.emit(outgoing);
  }

  end(): void {
    for (const group of this.#open.values()) {
      const item = isRecord(group.frames[0]?.data.item)
        ? (group.frames[0].data.item as Record<string, unknown>)
        : {};
      this.#summary.toolCalls.push({
        id: String(item.call_id ?? ""),
        name: String(item.name ?? "unknown"),
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

  #passRaw(raw: string): void {
    this.#writer.emit({ event: undefined, data: {}, raw });
  }

  #decide(group: FunctionCallGroup, item: Record<string, unknown>): void {
    const callId = String(item.call_id ?? "");
    const name = String(item.name ?? "unknown");
    const argumentsText = typeof item.arguments === "string" ? item.arguments : group.argumentsText;
    const verdict = this.#review({ id: callId, name, arguments: argumentsText });
    this.#verdicts.push(verdict);
    void verdict.then((result) => {
      this.#summary.toolCalls.push({
        id: callId,
        name,
        arguments: parseToolArguments(argumentsText),
        verdict: result.allowed ? "allow" : "deny",
      });
      if (result.allowed) return group.fill(group.frames);
      this.#denied.set(callId, result.text);
      this.#summary.text += result.text;
      group.fill(denialEvents(group.outputIndex, denialItem(item, result.text)));
    });
  }

  #final(outgoing: OutgoingEvent, response: Record<string, unknown>): void {
    this.#summary.usage = response.usage ?? null;
    this.#summary.finishReason = typeof response.status === "string" ? response.status : null;
    const fill = this.#writer.reserve();
    void Promise.all([...this.#verdicts]).then(() => {
      if (this.#denied.size === 0 || !Array.isArray(response.output)) return fill([outgoing]);
      const output = response.output.map((item: unknown) => {
        if (!isFunctionCall(item)) return item;
        const text = this.#denied.get(String(item.call_id ?? ""));
        return text === undefined ? item : denialItem(item, text);
      });
      fill([
        {
          event: outgoing.event,
          data: { ...outgoing.data, response: { ...response, output } },
          raw: undefined,
        },
      ]);
    });
  }
}

function isFunctionCall(item: unknown): item is Record<string, unknown> {
  return isRecord(item) && item.type === "function_call";
}

/** A denied call becomes an assistant message in the same place, so the turn completes as text. */
function denialItem(call: Record<string, unknown>, text: string): Record<string, unknown> {
  return {
    id: `msg_warden_${String(call.call_id ?? call.id ?? "denied")}`,
    type: "message",
    status: "completed",
    role: "assistant",
    content: [{ type: "output_text", text, annotations: [], logprobs: [] }],
  };
}

function denialEvents(outputIndex: unknown, item: Record<string, unknown>): OutgoingEvent[] {
  const text = ((item.content as Record<string, unknown>[])[0]?.text as string) ?? "";
  const location = { item_id: item.id, output_index: outputIndex, content_index: 0 };
  const part = (value: string) => ({ type: "output_text", text: value, annotations: [], logprobs: [] });
  const event = (type: string, fields: Record<string, unknown>): OutgoingEvent => ({
    event: type,
    data: { type, sequence_number: 0, ...fields },
    raw: undefined,
  });
  return [
    event("response.output_item.added", {
      output_index: outputIndex,
      item: { ...item, status: "in_progress", content: [] },
    }),
    event("response.content_part.added", { ...location, part: part("") }),
    event("response.output_text.delta", { ...location, delta: text, logprobs: [] }),
    event("response.output_text.done", { ...location, text, logprobs: [] }),
    event("response.content_part.done", { ...location, part: part(text) }),
    event("response.output_item.done", { output_index: outputIndex, item }),
  ];
}

function frame(event: string | undefined, data: unknown): string {
  const json = JSON.stringify(data);
  return event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`;
}
