import {
  type GatewayApi,
  isRecord,
  MalformedUpstreamEvent,
  type ProposedToolCall,
  type ReviewToolCall,
  type StreamFilter,
  type StreamSummary,
  type ToolCallVerdict,
} from "../gateway-api.js";
import { OrderedStreamWriter } from "../ordered-stream-writer.js";
import type { SseEvent } from "../sse-parser.js";
import { openAiErrorBody, openAiRateLimitBody } from "./error-body.js";
import { openAiToolRefusal } from "./hosted-tools.js";

/** OpenAI Chat Completions, `POST /v1/chat/completions` (shapes from openai-node `resources/chat/completions`). */
export const openAiChatCompletions: GatewayApi = {
  name: "openai-chat",
  family: "openai",
  path: "/v1/chat/completions",
  errorBody: openAiErrorBody,
  rateLimitBody: openAiRateLimitBody,
  refusal: openAiToolRefusal,
  isStreamEnd: (event) => event.data === "[DONE]",
  // openai-node raises any stream event carrying `error` as an APIError.
  streamErrorFrame: (status, message) => frame(openAiErrorBody(status, message)),

  conversationStart(body) {
    const messages = Array.isArray(body.messages) ? body.messages : [];
    const start: unknown[] = [];
    for (const message of messages) {
      if (!isRecord(message)) continue;
      start.push({ role: message.role, content: message.content ?? null });
      if (message.role === "user") break;
    }
    return start;
  },

  async reviewResponse(body, review) {
    if (!isRecord(body) || !Array.isArray(body.choices)) return body;
    const choices = await Promise.all(
      body.choices.map(async (choice: unknown) => {
        if (!isRecord(choice) || !isRecord(choice.message)) return choice;
        const calls: unknown[] = Array.isArray(choice.message.tool_calls) ? choice.message.tool_calls : [];
        if (calls.length === 0) return choice;
        const verdicts = await Promise.all(calls.map((call) => review(proposedCall(call))));
        const kept = calls.filter((_call, index) => verdicts[index]?.allowed);
        const denials = deniedTexts(verdicts);
        if (denials.length === 0) return choice;
        const message: Record<string, unknown> = { ...choice.message };
        const content = typeof message.content === "string" ? message.content : "";
        message.content = joinText(content, denials);
        if (kept.length > 0) message.tool_calls = kept;
        else delete message.tool_calls;
        return { ...choice, message, finish_reason: finishReason(choice.finish_reason, kept.length) };
      }),
    );
    return { ...body, choices };
  },

  createStreamFilter(write, review) {
    return new ChatStreamFilter(write, review);
  },
};

interface ToolCallGroup {
  id: string;
  name: string;
  argumentsText: string;
  envelope: Record<string, unknown>;
  pieces: Record<string, unknown>[];
  fill: (frames: string[]) => void;
  verdict: Promise<ToolCallVerdict> | undefined;
}

interface ChoiceState {
  groups: Map<number, ToolCallGroup>;
  open: ToolCallGroup | undefined;
  sawText: boolean;
  finished: boolean;
}

class ChatStreamFilter implements StreamFilter {
  readonly #writer: OrderedStreamWriter;
  readonly #review: ReviewToolCall;
  readonly #choices = new Map<number, ChoiceState>();
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
    if (event.data === "[DONE]") {
      this.#writer.emit(event.raw);
      return;
    }
    let chunk: unknown;
    try {
      chunk = JSON.parse(event.data);
    } catch {
      throw new MalformedUpstreamEvent(event.data);
    }
    if (!isRecord(chunk)) {
      this.#writer.emit(event.raw);
      return;
    }
    if (chunk.usage !== undefined && chunk.usage !== null) this.#summary.usage = chunk.usage;
    const choices = Array.isArray(chunk.choices) ? chunk.choices.filter(isRecord) : [];
    for (const choice of choices) this.#noteText(choice);
    const plain = choices.every(
      (choice) =>
        !hasToolCalls(choice) && (choice.finish_reason === null || choice.finish_reason === undefined),
    );
    if (plain) {
      this.#writer.emit(event.raw);
      return;
    }
    const { choices: _choices, ...envelope } = chunk;
    for (const choice of choices) this.#pushChoice(envelope, choice);
  }

  end(): void {
    for (const state of this.#choices.values()) {
      if (state.finished) continue;
      // The stream ended before the choice finished: its tool calls may be cut off, so none is released.
      for (const group of state.groups.values()) {
        this.#summary.toolCalls.push({
          id: group.id,
          name: group.name,
          arguments: group.argumentsText,
          verdict: "incomplete",
        });
        group.fill([]);
      }
    }
  }

  finished(): Promise<void> {
    return this.#writer.idle();
  }

  summary(): StreamSummary {
    return this.#summary;
  }

  #noteText(choice: Record<string, unknown>): void {
    const delta = isRecord(choice.delta) ? choice.delta : {};
    if (typeof delta.content === "string") {
      this.#summary.text += delta.content;
      if (delta.content !== "") this.#state(choice).sawText = true;
    }
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (typeof reasoning === "string") this.#summary.reasoning += reasoning;
  }

  #state(choice: Record<string, unknown>): ChoiceState {
    const index = typeof choice.index === "number" ? choice.index : 0;
    let state = this.#choices.get(index);
    if (state === undefined) {
      state = { groups: new Map(), open: undefined, sawText: false, finished: false };
      this.#choices.set(index, state);
    }
    return state;
  }

  #pushChoice(envelope: Record<string, unknown>, choice: Record<string, unknown>): void {
    const state = this.#state(choice);
    const delta = isRecord(choice.delta) ? choice.delta : {};
    const { tool_calls: toolCalls, ...rest } = delta;
    const finish = choice.finish_reason;
    const hasFinish = finish !== null && finish !== undefined;
    if (Object.keys(rest).length > 0 && (!hasFinish || Array.isArray(toolCalls))) {
      this.#writer.emit(frame({ ...envelope, choices: [{ ...choice, delta: rest, finish_reason: null }] }));
    }
    for (const piece of Array.isArray(toolCalls) ? toolCalls.filter(isRecord) : []) {
      const index = typeof piece.index === "number" ? piece.index : 0;
      let group = state.groups.get(index);
      if (group === undefined) {
        if (state.open) this.#decide(state.open);
        group = {
          id: "",
          name: "",
          argumentsText: "",
          envelope,
          pieces: [],
          fill: this.#writer.reserve(),
          verdict: undefined,
        };
        state.groups.set(index, group);
        state.open = group;
      }
      group.pieces.push(piece);
      if (typeof piece.id === "string") group.id = piece.id;
      const fn = isRecord(piece.function) ? piece.function : {};
      if (typeof fn.name === "string") group.name += fn.name;
      if (typeof fn.arguments === "string") group.argumentsText += fn.arguments;
    }
    if (!hasFinish) return;
    state.finished = true;
    if (state.open) this.#decide(state.open);
    state.open = undefined;
    const fillFinish = this.#writer.reserve();
    const groups = [...state.groups.values()];
    const finishDelta = Array.isArray(toolCalls) ? {} : rest;
    void Promise.all(groups.map((group) => group.verdict!)).then((verdicts) => {
      let allowed = 0;
      for (const [position, group] of groups.entries()) {
        const verdict = verdicts[position]!;
        if (!verdict.allowed) {
          group.fill([]);
          continue;
        }
        const newIndex = allowed++;
        group.fill(
          group.pieces.map((piece) =>
            frame({
              ...group.envelope,
              choices: [
                {
                  index: choice.index ?? 0,
                  delta: { tool_calls: [{ ...piece, index: newIndex }] },
                  logprobs: null,
                  finish_reason: null,
                },
              ],
            }),
          ),
        );
      }
      const frames: string[] = [];
      const denials = deniedTexts(verdicts);
      if (denials.length > 0) {
        const content = `${state.sawText ? "\n\n" : ""}${denials.join("\n")}`;
        this.#summary.text += content;
        frames.push(
          frame({
            ...envelope,
            choices: [{ index: choice.index ?? 0, delta: { content }, logprobs: null, finish_reason: null }],
          }),
        );
      }
      const finishReasonSent = finishReason(finish, allowed);
      this.#summary.finishReason = finishReasonSent;
      frames.push(
        frame({ ...envelope, choices: [{ ...choice, delta: finishDelta, finish_reason: finishReasonSent }] }),
      );
      fillFinish(frames);
    });
  }

  #decide(group: ToolCallGroup): void {
    if (group.verdict) return;
    group.verdict = this.#review({ id: group.id, name: group.name, arguments: group.argumentsText });
    void group.verdict.then((verdict) => {
      this.#summary.toolCalls.push({
        id: group.id,
        name: group.name,
        arguments: group.argumentsText,
        verdict: verdict.allowed ? "allow" : "deny",
      });
    });
  }
}

function hasToolCalls(choice: Record<string, unknown>): boolean {
  return isRecord(choice.delta) && choice.delta.tool_calls !== undefined && choice.delta.tool_calls !== null;
}

function proposedCall(call: unknown): ProposedToolCall {
  const record = isRecord(call) ? call : {};
  const fn = isRecord(record.function) ? record.function : {};
  return {
    id: typeof record.id === "string" ? record.id : "",
    name: typeof fn.name === "string" ? fn.name : "unknown",
    arguments: fn.arguments ?? null,
  };
}

/** With every tool call denied, the turn ends as plain text: `stop`, so clients do not wait for tool results. */
function finishReason(upstream: unknown, allowedCalls: number): string {
  if (allowedCalls === 0 && (upstream === "tool_calls" || upstream === "function_call")) return "stop";
  return typeof upstream === "string" ? upstream : "stop";
}

export function deniedTexts(verdicts: ToolCallVerdict[]): string[] {
  return verdicts.flatMap((verdict) => (verdict.allowed ? [] : [verdict.text]));
}

export function joinText(text: string, denials: string[]): string {
  const added = denials.join("\n");
  return text === "" ? added : `${text}\n\n${added}`;
}

function frame(data: unknown): string {
  return `data: ${JSON.stringify(data)}\n\n`;
}
