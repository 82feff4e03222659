import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { canonicalJson } from "../core/canonical-json.js";

const sessionHeader = "x-warden-session";
const validSession = /^[\x21-\x7e]{1,128}$/;

/**
 * The session a model call belongs to: the `X-Warden-Session` header if the agent sent one,
 * otherwise a hash of the agent and the conversation's start (system prompt and first user
 * message), which stays the same on every turn of one conversation.
 */
export function sessionIdFor(request: IncomingMessage, agentId: string, conversationStart: unknown): string {
  const header = request.headers[sessionHeader];
  if (typeof header === "string" && validSession.test(header)) return header;
  const digest = createHash("sha256")
    .update("warden/gateway-session\0")
    .update(agentId)
    .update("\0")
    .update(canonicalJson(conversationStart ?? null))
    .digest("hex");
  return `conversation-${digest.slice(0, 24)}`;
}
