/** A piece of text the model wrote, and where it sits in the `model-response` event's data. */
export interface ReplyText {
  /** A path into the event's data, e.g. `body.choices[0].message.content`. */
  field: string;
  text: string;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * The text of a recorded model reply, in the three wire formats the gateway records (OpenAI
 * Chat Completions, OpenAI Responses, Anthropic Messages) and the gateway's summary of a
 * streamed reply (`{ text, reasoning, ... }`). Anything else yields nothing.
 */
export function modelReplyText(data: unknown): ReplyText[] {
  if (!isRecord(data)) return [];
  const body = data.body;
  if (!isRecord(body)) return [];
  const texts: ReplyText[] = [];
  const add = (field: string, text: unknown) => {
    if (typeof text === "string" && text.trim() !== "") texts.push({ field, text });
  };
  if (data.streamed === true) add("body.text", body.text);
  // OpenAI Chat Completions: choices[].message.content (a string or text parts) and .refusal.
  if (Array.isArray(body.choices)) {
    body.choices.forEach((choice, choiceIndex) => {
      const message = isRecord(choice) ? choice.message : undefined;
      if (!isRecord(message)) return;
      const field = `body.choices[${choiceIndex}].message`;
      if (typeof message.content === "string") add(`${field}.content`, message.content);
      else if (Array.isArray(message.content)) {
        message.content.forEach((part, partIndex) => {
          if (isRecord(part)) add(`${field}.content[${partIndex}].text`, part.text);
        });
      }
      add(`${field}.refusal`, message.refusal);
    });
  }
  // OpenAI Responses: output[] messages with output_text or refusal parts.
  if (Array.isArray(body.output)) {
    body.output.forEach((item, itemIndex) => {
      if (!isRecord(item) || item.type !== "message" || !Array.isArray(item.content)) return;
      item.content.forEach((part, partIndex) => {
        if (!isRecord(part)) return;
        const field = `body.output[${itemIndex}].content[${partIndex}]`;
        if (part.type === "output_text") add(`${field}.text`, part.text);
        if (part.type === "refusal") add(`${field}.refusal`, part.refusal);
      });
    });
  }
  // Anthropic Messages: content[] text blocks.
  if (Array.isArray(body.content)) {
    body.content.forEach((block, blockIndex) => {
      if (isRecord(block) && block.type === "text") add(`body.content[${blockIndex}].text`, block.text);
    });
  }
  return texts;
}
