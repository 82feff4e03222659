import type { ResolvedReply } from "./compile-script.js";
import { type ConversationMessage, contentText, isRecord, pushAssistant } from "./conversation.js";
import { invalidType, openAiErrorBody, readOpenAiCommon } from "./openai-common.js";
import {
  argumentPieceLength,
  estimateTokens,
  outputTokens,
  type ReplyContext,
  splitEvery,
  splitWords,
  sseFrame,
  type WireFormat,
} from "./wire-format.js";

const assistantItemTypes = new Set(["function_call", "reasoning", "custom_tool_call"]);
const toolOutputItemTypes = new Set(["function_call_output", "custom_tool_call_output"]);

/** OpenAI Responses, `POST /v1/responses` (shapes from openai-node `resources/responses/responses.ts`). */
export const openAiResponsesFormat: WireFormat = {
  api: "openai-responses",

  readRequest(body) {
    const common = readOpenAiCommon(body);
    if (!common.ok) return common;
    const record = body as Record<string, unknown>;
    const messages: ConversationMessage[] = [];
    const system: string[] = [];
    if (record.instructions !== undefined && record.instructions !== null) {
      if (typeof record.instructions !== "string")
        return invalidType("instructions", "a string", record.instructions);
      system.push(record.instructions);
      messages.push({ role: "system", text: record.instructions });
    }
    const input = record.input;
    if (typeof input === "string") {
      messages.push({ role: "user", text: input });
    } else if (Array.isArray(input)) {
      for (const [index, item] of input.entries()) {
        if (!isRecord(item)) return invalidType(`input[${index}]`, "an object", item);
        const type = typeof item.type === "string" ? item.type : "message";
        if (type === "message") {
          const text = contentText(item.content);
          if (item.role === "system" || item.role === "developer") {
            system.push(text);
            messages.push({ role: "system", text });
          } else if (item.role === "assistant") {
            pushAssistant(messages, text);
          } else {
            messages.push({ role: "user", text });
          }
        } else if (assistantItemTypes.has(type)) {
          pushAssistant(messages, "");
        } else if (toolOutputItemTypes.has(type)) {
          messages.push({ role: "tool", text: contentText(item.output) });
        }
      }
    } else if (input !== undefined && input !== null) {
      return invalidType("input", "a string or an array", input);
    }
    const toolNames: string[] = [];
    for (const tool of Array.isArray(record.tools) ? record.tools : []) {
      if (isRecord(tool) && typeof tool.name === "string") toolNames.push(tool.name);
    }
    return {
      ok: true,
      conversation: {
        api: "openai-responses",
        model: common.model,
        stream: common.stream,
        includeUsage: false,
        system: system.join("\n"),
        messages,
        toolNames,
      },
    };
  },

  errorBody: openAiErrorBody,

  replyBody(reply, context) {
    return responseObject(reply, context, outputItems(reply, context), "completed");
  },

  replyEvents(reply, context) {
    const frames: string[] = [];
    let sequence = 0;
    const emit = (type: string, fields: Record<string, unknown>) => {
      frames.push(sseFrame(type, { type, sequence_number: sequence++, ...fields }));
    };
    emit("response.created", { response: responseObject(reply, context, [], "in_progress") });
    emit("response.in_progress", { response: responseObject(reply, context, [], "in_progress") });
    const items = outputItems(reply, context);
    items.forEach((item, outputIndex) => {
      const itemId = item.id as string;
      if (item.type === "reasoning") {
        const text = reply.reasoning ?? "";
        emit("response.output_item.added", { output_index: outputIndex, item: { ...item, summary: [] } });
        const location = { item_id: itemId, output_index: outputIndex, summary_index: 0 };
        emit("response.reasoning_summary_part.added", {
          ...location,
          part: { type: "summary_text", text: "" },
        });
        for (const piece of splitWords(text))
          emit("response.reasoning_summary_text.delta", { ...location, delta: piece });
        emit("response.reasoning_summary_text.done", { ...location, text });
        emit("response.reasoning_summary_part.done", { ...location, part: { type: "summary_text", text } });
      } else if (item.type === "message") {
        const text = reply.text ?? "";
        emit("response.output_item.added", {
          output_index: outputIndex,
          item: { ...item, status: "in_progress", content: [] },
        });
        const location = { item_id: itemId, output_index: outputIndex, content_index: 0 };
        emit("response.content_part.added", { ...location, part: outputText("") });
        if (text !== "") {
          for (const piece of splitWords(text))
            emit("response.output_text.delta", { ...location, delta: piece, logprobs: [] });
        }
        emit("response.output_text.done", { ...location, text, logprobs: [] });
        emit("response.content_part.done", { ...location, part: outputText(text) });
      } else {
        const argumentsJson = item.arguments as string;
        emit("response.output_item.added", {
          output_index: outputIndex,
          item: { ...item, status: "in_progress", arguments: "" },
        });
        const location = { item_id: itemId, output_index: outputIndex };
        for (const piece of splitEvery(argumentsJson, argumentPieceLength)) {
          emit("response.function_call_arguments.delta", { ...location, delta: piece });
        }
        emit("response.function_call_arguments.done", {
          ...location,
          name: item.name,
          arguments: argumentsJson,
        });
      }
      emit("response.output_item.done", { output_index: outputIndex, item });
    });
    emit("response.completed", { response: responseObject(reply, context, items, "completed") });
    return frames;
  },
};

function outputItems(reply: ResolvedReply, context: ReplyContext): Record<string, unknown>[] {
  const items: Record<string, unknown>[] = [];
  if (reply.reasoning !== undefined) {
    items.push({
      id: `rs_scripted_${context.token}`,
      type: "reasoning",
      summary: [{ type: "summary_text", text: reply.reasoning }],
    });
  }
  if (reply.text !== undefined) {
    items.push({
      id: `msg_scripted_${context.token}`,
      type: "message",
      status: "completed",
      role: "assistant",
      content: [outputText(reply.text)],
    });
  }
  reply.toolCalls.forEach((call, index) => {
    items.push({
      id: `fc_scripted_${context.token}_${index}`,
      type: "function_call",
      status: "completed",
      call_id: `call_scripted_${context.token}_${index}`,
      name: call.name,
      arguments: JSON.stringify(call.arguments),
    });
  });
  return items;
}

function outputText(text: string) {
  return { type: "output_text", text, annotations: [], logprobs: [] };
}

function responseObject(
  reply: ResolvedReply,
  context: ReplyContext,
  output: Record<string, unknown>[],
  status: "in_progress" | "completed",
) {
  const body = context.body;
  const completion = outputTokens(reply);
  return {
    id: `resp_scripted_${context.token}`,
    object: "response",
    created_at: context.created,
    status,
    background: false,
    completed_at: status === "completed" ? Math.floor(Date.now() / 1000) : null,
    error: null,
    incomplete_details: null,
    instructions: body.instructions ?? null,
    max_output_tokens: body.max_output_tokens ?? null,
    metadata: body.metadata ?? {},
    model: context.model,
    output,
    parallel_tool_calls: body.parallel_tool_calls ?? true,
    previous_response_id: body.previous_response_id ?? null,
    reasoning: { effort: null, summary: null },
    service_tier: "default",
    store: body.store ?? true,
    temperature: body.temperature ?? 1,
    text: { format: { type: "text" }, verbosity: "medium" },
    tool_choice: body.tool_choice ?? "auto",
    tools: body.tools ?? [],
    top_p: body.top_p ?? 1,
    truncation: "disabled",
    usage:
      status === "completed"
        ? {
            input_tokens: context.inputTokens,
            input_tokens_details: { cached_tokens: 0 },
            output_tokens: completion,
            output_tokens_details: { reasoning_tokens: estimateTokens(reply.reasoning ?? "") },
            total_tokens: context.inputTokens + completion,
          }
        : null,
    user: null,
  };
}
