import type { ResolvedReply } from "./compile-script.js";
import { type ConversationMessage, contentText, isRecord, pushAssistant } from "./conversation.js";
import { invalidType, missing, openAiErrorBody, readOpenAiCommon } from "./openai-common.js";
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

const roles = ["system", "developer", "user", "assistant", "tool", "function"];

/** OpenAI Chat Completions, `POST /v1/chat/completions` (shapes from openai-node `resources/chat/completions`). */
export const openAiChatFormat: WireFormat = {
  api: "openai-chat",

  readRequest(body) {
    const common = readOpenAiCommon(body);
    if (!common.ok) return common;
    const record = body as Record<string, unknown>;
    const messages = record.messages;
    if (messages === undefined) return missing("messages");
    if (!Array.isArray(messages)) return invalidType("messages", "an array", messages);
    if (messages.length === 0) {
      return {
        ok: false,
        error: {
          status: 400,
          message:
            "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.",
          param: "messages",
          code: "empty_array",
        },
      };
    }
    const conversationMessages: ConversationMessage[] = [];
    const system: string[] = [];
    for (const [index, message] of messages.entries()) {
      if (!isRecord(message)) return invalidType(`messages[${index}]`, "an object", message);
      const role = message.role;
      if (role === undefined) return missing(`messages[${index}].role`);
      if (typeof role !== "string" || !roles.includes(role)) {
        return {
          ok: false,
          error: {
            status: 400,
            message: `Invalid value: '${String(role)}'. Supported values are: 'system', 'assistant', 'user', 'function', 'tool', and 'developer'.`,
            param: `messages[${index}].role`,
            code: "invalid_value",
          },
        };
      }
      const text = contentText(message.content);
      if (role === "system" || role === "developer") {
        system.push(text);
        conversationMessages.push({ role: "system", text });
      } else if (role === "user") {
        conversationMessages.push({ role: "user", text });
      } else if (role === "assistant") {
        pushAssistant(conversationMessages, text);
      } else {
        conversationMessages.push({ role: "tool", text });
      }
    }
    const toolNames: string[] = [];
    for (const tool of Array.isArray(record.tools) ? record.tools : []) {
      if (!isRecord(tool)) continue;
      const definition = tool.type === "custom" ? tool.custom : tool.function;
      if (isRecord(definition) && typeof definition.name === "string") toolNames.push(definition.name);
    }
    const streamOptions = record.stream_options;
    return {
      ok: true,
      conversation: {
        api: "openai-chat",
        model: common.model,
        stream: common.stream,
        includeUsage: isRecord(streamOptions) && streamOptions.include_usage === true,
        system: system.join("\n"),
        messages: conversationMessages,
        toolNames,
      },
    };
  },

  errorBody: openAiErrorBody,

  replyBody(reply, context) {
    const message: Record<string, unknown> = {
      role: "assistant",
      content: reply.text ?? null,
      refusal: null,
      annotations: [],
    };
    if (reply.reasoning !== undefined) message.reasoning_content = reply.reasoning;
    if (reply.toolCalls.length > 0) {
      message.tool_calls = reply.toolCalls.map((call, index) => ({
        id: toolCallId(context, index),
        type: "function",
        function: { name: call.name, arguments: JSON.stringify(call.arguments) },
      }));
    }
    return {
      id: completionId(context),
      object: "chat.completion",
      created: context.created,
      model: context.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(reply) }],
      usage: usage(reply, context),
      service_tier: "default",
      system_fingerprint: "scripted",
    };
  },

  replyEvents(reply, context) {
    const frames: string[] = [];
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => {
      const data: Record<string, unknown> = {
        id: completionId(context),
        object: "chat.completion.chunk",
        created: context.created,
        model: context.model,
        service_tier: "default",
        system_fingerprint: "scripted",
        choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
      };
      // With include_usage, every chunk carries `usage: null` and one last chunk carries the totals.
      if (context.conversation.includeUsage) data.usage = null;
      frames.push(sseFrame(undefined, data));
    };
    chunk({ role: "assistant", content: "", refusal: null });
    if (reply.reasoning !== undefined) {
      for (const piece of splitWords(reply.reasoning)) chunk({ reasoning_content: piece });
    }
    if (reply.text !== undefined && reply.text !== "") {
      for (const piece of splitWords(reply.text)) chunk({ content: piece });
    }
    reply.toolCalls.forEach((call, index) => {
      chunk({
        tool_calls: [
          {
            index,
            id: toolCallId(context, index),
            type: "function",
            function: { name: call.name, arguments: "" },
          },
        ],
      });
      for (const piece of splitEvery(JSON.stringify(call.arguments), argumentPieceLength)) {
        chunk({ tool_calls: [{ index, function: { arguments: piece } }] });
      }
    });
    chunk({}, finishReason(reply));
    if (context.conversation.includeUsage) {
      frames.push(
        sseFrame(undefined, {
          id: completionId(context),
          object: "chat.completion.chunk",
          created: context.created,
          model: context.model,
          service_tier: "default",
          system_fingerprint: "scripted",
          choices: [],
          usage: usage(reply, context),
        }),
      );
    }
    frames.push("data: [DONE]\n\n");
    return frames;
  },
};

function completionId(context: ReplyContext): string {
  return `chatcmpl-scripted-${context.token}`;
}

function toolCallId(context: ReplyContext, index: number): string {
  return `call_scripted_${context.token}_${index}`;
}

function finishReason(reply: ResolvedReply): string {
  return reply.toolCalls.length > 0 ? "tool_calls" : "stop";
}

function usage(reply: ResolvedReply, context: ReplyContext) {
  const completion = outputTokens(reply);
  return {
    prompt_tokens: context.inputTokens,
    completion_tokens: completion,
    total_tokens: context.inputTokens + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: estimateTokens(reply.reasoning ?? ""),
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  };
}
