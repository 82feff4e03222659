import type { ResolvedReply } from "./compile-script.js";
import type { Conversation } from "./conversation.js";
import type { ScriptApi } from "./script-schema.js";

/** An error answered in a wire format's own error shape. */
export interface ReplyError {
  status: number;
  message: string;
  type?: string | undefined;
  code?: string | undefined;
  param?: string | undefined;
}

export interface ReplyContext {
  /** Unique within the server and across servers: `<instance>x<sequence>`; ids are built from it. */
  token: string;
  /** Unix seconds. */
  created: number;
  /** The model name, labelled: `scripted:<requested model>`. */
  model: string;
  inputTokens: number;
  conversation: Conversation;
  body: Record<string, unknown>;
}

/**
 * One wire format (OpenAI Chat Completions, OpenAI Responses, Anthropic Messages): how a
 * request reads as a conversation and how a reply, a stream or an error is written.
 */
export interface WireFormat {
  api: ScriptApi;
  readRequest(body: unknown): { ok: true; conversation: Conversation } | { ok: false; error: ReplyError };
  errorBody(error: ReplyError, requestId: string): unknown;
  replyBody(reply: ResolvedReply, context: ReplyContext): unknown;
  /** The reply as server-sent event frames, each ending in a blank line. */
  replyEvents(reply: ResolvedReply, context: ReplyContext): string[];
}

/** A rough token count (about four characters a token), labelled as an estimate in the docs. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

export function conversationTokens(conversation: Conversation): number {
  let characters = 0;
  for (const message of conversation.messages) characters += message.text.length + 4;
  return Math.max(1, Math.ceil(characters / 4));
}

export function outputTokens(reply: ResolvedReply): number {
  let tokens = estimateTokens(reply.text ?? "") + estimateTokens(reply.reasoning ?? "");
  for (const call of reply.toolCalls)
    tokens += estimateTokens(call.name) + estimateTokens(JSON.stringify(call.arguments));
  return Math.max(1, tokens);
}

/** `data: …` with an optional `event:` line (WHATWG HTML, server-sent events §9.2). */
export function sseFrame(event: string | undefined, data: unknown): string {
  const json = JSON.stringify(data);
  return event === undefined ? `data: ${json}\n\n` : `event: ${event}\ndata: ${json}\n\n`;
}

/** Splits text into word-sized pieces (each word with the whitespace after it), as a model streams tokens. */
export function splitWords(text: string): string[] {
  const pieces: string[] = [];
  let start = 0;
  let sawSpace = false;
  for (let index = 0; index < text.length; index++) {
    const space = isSpace(text.charCodeAt(index));
    if (sawSpace && !space) {
      pieces.push(text.slice(start, index));
      start = index;
    }
    sawSpace = space;
  }
  if (start < text.length || pieces.length === 0) pieces.push(text.slice(start));
  return pieces;
}

/** Splits text into pieces of about `size` UTF-16 units, never inside a surrogate pair. */
export function splitEvery(text: string, size: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + size);
    const previous = text.charCodeAt(end - 1);
    if (end < text.length && previous >= 0xd800 && previous <= 0xdbff) end++;
    pieces.push(text.slice(start, end));
    start = end;
  }
  return pieces;
}

function isSpace(code: number): boolean {
  return code === 0x20 || code === 0x0a || code === 0x09 || code === 0x0d;
}

export const argumentPieceLength = 24;
