import type { ScriptApi } from "./script-schema.js";

export type ConversationRole = "system" | "user" | "assistant" | "tool";

export interface ConversationMessage {
  role: ConversationRole;
  text: string;
}

/** A request of any wire format, reduced to what script rules match on. */
export interface Conversation {
  api: ScriptApi;
  model: string;
  stream: boolean;
  /** OpenAI Chat Completions `stream_options.include_usage`. */
  includeUsage: boolean;
  /** System and developer messages (and Responses `instructions`), joined by newlines. */
  system: string;
  /** Every message in order, system ones included; consecutive assistant items form one message. */
  messages: ConversationMessage[];
  toolNames: string[];
}

/** Facts derived once per request, so that rules do not each walk the messages. */
export interface ConversationFacts {
  conversation: Conversation;
  lastUser: string | undefined;
  lastToolResult: string | undefined;
  afterToolResult: boolean;
  turn: number;
  toolNames: ReadonlySet<string>;
}

export function conversationFacts(conversation: Conversation): ConversationFacts {
  let lastUser: string | undefined;
  let lastToolResult: string | undefined;
  let assistantMessages = 0;
  for (const message of conversation.messages) {
    if (message.role === "user") lastUser = message.text;
    else if (message.role === "tool") lastToolResult = message.text;
    else if (message.role === "assistant") assistantMessages++;
  }
  return {
    conversation,
    lastUser,
    lastToolResult,
    afterToolResult: conversation.messages.at(-1)?.role === "tool",
    turn: assistantMessages + 1,
    toolNames: new Set(conversation.toolNames),
  };
}

/** Appends an assistant message, merging it into the previous one if that is also the assistant's. */
export function pushAssistant(messages: ConversationMessage[], text: string): void {
  const last = messages.at(-1);
  if (last?.role === "assistant") {
    if (text !== "") last.text = last.text === "" ? text : `${last.text}\n${text}`;
  } else {
    messages.push({ role: "assistant", text });
  }
}

/** Text of a content value that is a string or a list of parts with `text` (other parts are skipped). */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  const texts: string[] = [];
  for (const part of content) {
    if (typeof part === "string") texts.push(part);
    else if (isRecord(part) && typeof part.text === "string") texts.push(part.text);
  }
  return texts.join("\n");
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
