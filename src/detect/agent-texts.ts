import type { ReplyText } from "./model-reply-text.js";
import { modelReplyText } from "./model-reply-text.js";

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * What the model wrote in a recorded `model-response`, its reasoning included: the reply text
 * (`modelReplyText`), the streamed summary's `reasoning`, Anthropic `thinking` blocks and
 * OpenAI Responses `reasoning` summaries, and Chat Completions `reasoning_content`.
 */
export function modelWrittenTexts(data: unknown): ReplyText[] {
  const texts = modelReplyText(data);
  if (!isRecord(data) || !isRecord(data.body)) return texts;
  const body = data.body;
  const add = (field: string, text: unknown) => {
    if (typeof text === "string" && text.trim() !== "") texts.push({ field, text });
  };
  if (data.streamed === true) add("body.reasoning", body.reasoning);
  if (Array.isArray(body.content)) {
    body.content.forEach((block, index) => {
      if (isRecord(block) && block.type === "thinking")
        add(`body.content[${index}].thinking`, block.thinking);
    });
  }
  if (Array.isArray(body.output)) {
    body.output.forEach((item, itemIndex) => {
      if (!isRecord(item) || item.type !== "reasoning" || !Array.isArray(item.summary)) return;
      item.summary.forEach((part, partIndex) => {
        if (isRecord(part)) add(`body.output[${itemIndex}].summary[${partIndex}].text`, part.text);
      });
    });
  }
  if (Array.isArray(body.choices)) {
    body.choices.forEach((choice, index) => {
      const message = isRecord(choice) ? choice.message : undefined;
      if (isRecord(message))
        add(`body.choices[${index}].message.reasoning_content`, message.reasoning_content);
    });
  }
  return texts;
}

/** A tool's definition as the agent sent it to the model: its description and its schema's text. */
export interface ToolDefinitionText extends ReplyText {
  tool: string;
}

/**
 * The tools a `model-request` offers the model, in the three wire formats: OpenAI Chat
 * (`tools[].function`), OpenAI Responses (`tools[]` with `name`), Anthropic (`tools[]` with
 * `input_schema`). Each yields the description and, separately, the schema as JSON text (where
 * descriptions of parameters hide instructions too).
 */
export function toolDefinitionTexts(data: unknown): ToolDefinitionText[] {
  if (!isRecord(data) || !isRecord(data.body) || !Array.isArray(data.body.tools)) return [];
  const texts: ToolDefinitionText[] = [];
  data.body.tools.forEach((entry, index) => {
    if (!isRecord(entry)) return;
    const definition = isRecord(entry.function) ? entry.function : entry;
    const prefix = isRecord(entry.function) ? `body.tools[${index}].function` : `body.tools[${index}]`;
    const tool = typeof definition.name === "string" ? definition.name : `#${index}`;
    if (typeof definition.description === "string" && definition.description.trim() !== "") {
      texts.push({ field: `${prefix}.description`, text: definition.description, tool });
    }
    const schema = definition.parameters ?? definition.input_schema;
    if (isRecord(schema)) texts.push({ field: `${prefix}.schema`, text: JSON.stringify(schema), tool });
  });
  return texts;
}

/**
 * Tool outputs the agent hands back to the model in a `model-request` (where injected output
 * reaches the model): Chat `role: "tool"` messages, Responses `function_call_output` items,
 * Anthropic `tool_result` blocks. Only the trailing run of them, the ones new in this request.
 */
export function toolOutputTexts(data: unknown): ReplyText[] {
  if (!isRecord(data) || !isRecord(data.body)) return [];
  const body = data.body;
  const texts: ReplyText[] = [];
  if (Array.isArray(body.messages)) {
    const messages = body.messages;
    for (let index = messages.length - 1; index >= 0; index--) {
      const message = messages[index];
      if (!isRecord(message)) break;
      if (message.role === "tool") {
        texts.unshift(...contentTexts(`body.messages[${index}].content`, message.content));
        continue;
      }
      if (message.role === "user" && Array.isArray(message.content)) {
        const results = message.content.filter((block) => isRecord(block) && block.type === "tool_result");
        if (results.length === 0) break;
        message.content.forEach((block, blockIndex) => {
          if (isRecord(block) && block.type === "tool_result") {
            texts.unshift(
              ...contentTexts(`body.messages[${index}].content[${blockIndex}].content`, block.content),
            );
          }
        });
        continue;
      }
      break;
    }
  }
  if (Array.isArray(body.input)) {
    const items = body.input;
    for (let index = items.length - 1; index >= 0; index--) {
      const item = items[index];
      if (!isRecord(item) || item.type !== "function_call_output") break;
      texts.unshift(...contentTexts(`body.input[${index}].output`, item.output));
    }
  }
  return texts;
}

/** The text of a recorded MCP tool result (`content[].text`, `structuredContent`), or its JSON. */
export function toolResultTexts(result: unknown): ReplyText[] {
  if (isRecord(result) && Array.isArray(result.content)) {
    const texts = contentTexts("result.content", result.content);
    if (result.structuredContent !== undefined) {
      texts.push({ field: "result.structuredContent", text: JSON.stringify(result.structuredContent) });
    }
    return texts;
  }
  if (typeof result === "string") return result.trim() === "" ? [] : [{ field: "result", text: result }];
  if (result === undefined || result === null) return [];
  return [{ field: "result", text: JSON.stringify(result) }];
}

function contentTexts(field: string, content: unknown): ReplyText[] {
  if (typeof content === "string") return content.trim() === "" ? [] : [{ field, text: content }];
  if (!Array.isArray(content)) return [];
  const texts: ReplyText[] = [];
  content.forEach((part, index) => {
    if (isRecord(part) && typeof part.text === "string" && part.text.trim() !== "") {
      texts.push({ field: `${field}[${index}].text`, text: part.text });
    }
  });
  return texts;
}
