import type { ResolvedReply } from "./compile-script.js";
import { type ConversationMessage, contentText, isRecord, pushAssistant } from "./conversation.js";
import {
  argumentPieceLength,
  outputTokens,
  type ReplyContext,
  type ReplyError,
  splitEvery,
  splitWords,
  sseFrame,
  type WireFormat,
} from "./wire-format.js";

type Failure = { ok: false; error: ReplyError };

/**
 * Anthropic Messages, `POST /v1/messages` (shapes from anthropic-sdk-typescript
 * `resources/messages/messages.ts`; streaming events per "Streaming Messages" in the API docs).
 */
export const anthropicMessagesFormat: WireFormat = {
  api: "anthropic-messages",

  readRequest(body) {
    if (!isRecord(body)) return invalid("Input should be a valid dictionary");
    if (body.model === undefined) return invalid("model: Field required");
    if (typeof body.model !== "string") return invalid("model: Input should be a valid string");
    if (body.max_tokens === undefined) return invalid("max_tokens: Field required");
    if (typeof body.max_tokens !== "number" || !Number.isInteger(body.max_tokens)) {
      return invalid("max_tokens: Input should be a valid integer");
    }
    if (body.max_tokens < 1) return invalid("max_tokens: Input should be greater than or equal to 1");
    if (body.messages === undefined) return invalid("messages: Field required");
    if (!Array.isArray(body.messages)) return invalid("messages: Input should be a valid list");
    if (body.messages.length === 0) return invalid("messages: at least one message is required");
    if (body.stream !== undefined && typeof body.stream !== "boolean")
      return invalid("stream: Input should be a valid boolean");
    if (body.tools !== undefined && !Array.isArray(body.tools))
      return invalid("tools: Input should be a valid list");

    const messages: ConversationMessage[] = [];
    const system: string[] = [];
    if (body.system !== undefined) {
      if (typeof body.system !== "string" && !Array.isArray(body.system)) {
        return invalid("system: Input should be a valid string or a list of text blocks");
      }
      const text = contentText(body.system);
      system.push(text);
      messages.push({ role: "system", text });
    }
    for (const [index, message] of body.messages.entries()) {
      if (!isRecord(message)) return invalid(`messages.${index}: Input should be a valid dictionary`);
      const content = message.content;
      if (typeof content !== "string" && !Array.isArray(content)) {
        return invalid(
          `messages.${index}.content: Input should be a valid string or a list of content blocks`,
        );
      }
      if (message.role === "assistant") {
        pushAssistant(messages, contentText(textBlocks(content)));
      } else if (message.role === "user") {
        // Tool results travel inside user messages; they come first in the content (API docs, "tool use").
        if (Array.isArray(content)) {
          for (const block of content) {
            if (isRecord(block) && block.type === "tool_result")
              messages.push({ role: "tool", text: contentText(block.content) });
          }
        }
        const text = contentText(textBlocks(content));
        const onlyToolResults =
          Array.isArray(content) &&
          content.length > 0 &&
          content.every((block) => isRecord(block) && block.type === "tool_result");
        if (!onlyToolResults) messages.push({ role: "user", text });
      } else if (message.role === "system") {
        const text = contentText(content);
        system.push(text);
        messages.push({ role: "system", text });
      } else {
        return invalid(`messages.${index}.role: Input should be 'user' or 'assistant'`);
      }
    }
    const toolNames: string[] = [];
    for (const tool of Array.isArray(body.tools) ? body.tools : []) {
      if (isRecord(tool) && typeof tool.name === "string") toolNames.push(tool.name);
    }
    return {
      ok: true,
      conversation: {
        api: "anthropic-messages",
        model: body.model,
        stream: body.stream === true,
        includeUsage: false,
        system: system.join("\n"),
        messages,
        toolNames,
      },
    };
  },

  errorBody(error, requestId) {
    return {
      type: "error",
      error: { type: error.type ?? anthropicErrorType(error.status), message: error.message },
      request_id: requestId,
    };
  },

  replyBody(reply, context) {
    return {
      ...messageShell(context),
      content: contentBlocks(reply, context),
      stop_reason: stopReason(reply),
      usage: usage(context.inputTokens, outputTokens(reply)),
    };
  },

  replyEvents(reply, context) {
    const frames: string[] = [];
    const emit = (type: string, fields: Record<string, unknown> = {}) =>
      frames.push(sseFrame(type, { type, ...fields }));
    emit("message_start", {
      message: {
        ...messageShell(context),
        content: [],
        stop_reason: null,
        usage: usage(context.inputTokens, 1),
      },
    });
    emit("ping");
    contentBlocks(reply, context).forEach((block, index) => {
      if (block.type === "thinking") {
        emit("content_block_start", {
          index,
          content_block: { type: "thinking", thinking: "", signature: "" },
        });
        for (const piece of splitWords(block.thinking as string)) {
          emit("content_block_delta", { index, delta: { type: "thinking_delta", thinking: piece } });
        }
        emit("content_block_delta", {
          index,
          delta: { type: "signature_delta", signature: block.signature },
        });
      } else if (block.type === "text") {
        emit("content_block_start", { index, content_block: { type: "text", text: "" } });
        const text = block.text as string;
        if (text !== "") {
          for (const piece of splitWords(text))
            emit("content_block_delta", { index, delta: { type: "text_delta", text: piece } });
        }
      } else {
        emit("content_block_start", { index, content_block: { ...block, input: {} } });
        emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: "" } });
        for (const piece of splitEvery(JSON.stringify(block.input), argumentPieceLength)) {
          emit("content_block_delta", { index, delta: { type: "input_json_delta", partial_json: piece } });
        }
      }
      emit("content_block_stop", { index });
    });
    emit("message_delta", {
      delta: { stop_reason: stopReason(reply), stop_sequence: null, stop_details: null, container: null },
      usage: {
        input_tokens: context.inputTokens,
        output_tokens: outputTokens(reply),
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: 0,
        output_tokens_details: null,
        server_tool_use: null,
      },
    });
    emit("message_stop");
    return frames;
  },
};

function messageShell(context: ReplyContext) {
  return {
    id: `msg_scripted_${context.token}`,
    type: "message",
    role: "assistant",
    model: context.model,
    stop_sequence: null,
    stop_details: null,
    container: null,
    diagnostics: null,
  };
}

function contentBlocks(reply: ResolvedReply, context: ReplyContext): Record<string, unknown>[] {
  const blocks: Record<string, unknown>[] = [];
  if (reply.reasoning !== undefined) {
    // The real signature is an opaque token; this one says what it is.
    const signature = Buffer.from(`scripted:${context.token}`).toString("base64");
    blocks.push({ type: "thinking", thinking: reply.reasoning, signature });
  }
  if (reply.text !== undefined) blocks.push({ type: "text", text: reply.text, citations: null });
  reply.toolCalls.forEach((call, index) => {
    blocks.push({
      type: "tool_use",
      id: `toolu_scripted_${context.token}_${index}`,
      name: call.name,
      input: call.arguments,
      caller: { type: "direct" },
    });
  });
  return blocks;
}

function stopReason(reply: ResolvedReply): string {
  return reply.toolCalls.length > 0 ? "tool_use" : "end_turn";
}

function usage(inputTokens: number, outputTokenCount: number) {
  return {
    input_tokens: inputTokens,
    output_tokens: outputTokenCount,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    inference_geo: null,
    output_tokens_details: null,
    server_tool_use: null,
    service_tier: "standard",
    speed: null,
  };
}

function textBlocks(content: string | unknown[]): string | unknown[] {
  if (typeof content === "string") return content;
  return content.filter((block) => isRecord(block) && block.type === "text");
}

/** Error types by status, as listed under "HTTP errors" in the Anthropic API docs. */
function anthropicErrorType(status: number): string {
  switch (status) {
    case 401:
      return "authentication_error";
    case 402:
      return "billing_error";
    case 403:
      return "permission_error";
    case 404:
      return "not_found_error";
    case 413:
      return "request_too_large";
    case 429:
      return "rate_limit_error";
    case 504:
      return "timeout_error";
    case 529:
      return "overloaded_error";
    default:
      return status >= 500 ? "api_error" : "invalid_request_error";
  }
}

function invalid(message: string): Failure {
  return { ok: false, error: { status: 400, message } };
}
