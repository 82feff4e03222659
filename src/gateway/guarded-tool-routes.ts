import type { IncomingMessage } from "node:http";
import { z } from "zod";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { CallIdentity, Oversight } from "../core/oversight.js";
import { sessionIdFor } from "./session-id.js";

/** Where the SDK's guarded tools ask for decisions and report results (see `src/sdk/`). */
export const guardedToolCallPath = "/v1/warden/tool-calls";
export const guardedToolResultPath = "/v1/warden/tool-results";

const sessionIdSchema = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, "printable ASCII without spaces, 1 to 128 characters")
  .describe("The agent's session; else the X-Warden-Session header; else one per agent.");

export const guardedToolCallSchema = z
  .object({
    sessionId: sessionIdSchema.optional(),
    server: z
      .string()
      .regex(/^[A-Za-z0-9_.-]{1,64}$/, "letters, digits, '_', '.', '-'; 1 to 64 characters")
      .default("local")
      .describe("Which group of the agent's own tools this is; rules see it as server `sdk:NAME`."),
    tool: z.string().min(1).max(200).describe("The tool's name."),
    arguments: z.unknown().describe("The call's arguments, as the tool receives them."),
  })
  .strict();

export const guardedToolResultSchema = z
  .object({
    callId: z.string().min(1).max(100).describe("The callId the decision returned."),
    isError: z.boolean().describe("Whether the tool failed."),
    latencyMs: z.number().nonnegative().finite().describe("How long the tool ran."),
    result: z.unknown().describe("What the tool returned (or the error it threw)."),
  })
  .strict();

/** A decision as the SDK receives it: the same union the MCP proxy acts on. */
export type GuardedToolDecision =
  | { effect: "allow"; callId: string }
  | { effect: "deny"; callId: string; ruleId: string; message: string };

/** Outstanding allowed calls are forgotten after this long without a result. */
const unreportedCallTtlMs = 24 * 60 * 60 * 1000;
const maxUnreportedCalls = 100_000;

/**
 * Tool calls an agent executes in its own process, put through the same oversight as MCP calls:
 * `POST /v1/warden/tool-calls` decides (recording the call and decision durably first, waiting
 * for a reviewer when held), `POST /v1/warden/tool-results` records the result. The agent is the
 * one its token names; it can report results only for calls decided for it.
 */
export class GuardedToolRoutes {
  readonly #oversight: Oversight;
  readonly #allowed = new Map<string, { identity: CallIdentity; at: number }>();

  constructor(oversight: Oversight) {
    this.#oversight = oversight;
  }

  async decide(
    request: IncomingMessage,
    agentId: string,
    body: z.infer<typeof guardedToolCallSchema>,
  ): Promise<GuardedToolDecision> {
    const identity: CallIdentity = {
      agentId,
      sessionId: body.sessionId ?? sessionIdFor(request, agentId, { guardedTools: agentId }),
      traceId: newTraceId(),
      spanId: newSpanId(),
    };
    const verdict = await this.#oversight.decideToolCall({
      ...identity,
      via: "sdk",
      method: "tools/call",
      server: `sdk:${body.server}`,
      tool: body.tool,
      arguments: body.arguments ?? {},
    });
    if (verdict.effect === "allow") this.#remember(verdict.callId, identity);
    return verdict;
  }

  /** False when the call was not decided for this agent (or its result was already recorded). */
  async recordResult(agentId: string, body: z.infer<typeof guardedToolResultSchema>): Promise<boolean> {
    const call = this.#allowed.get(body.callId);
    if (call === undefined || call.identity.agentId !== agentId) return false;
    this.#allowed.delete(body.callId);
    await this.#oversight.recordToolResult(call.identity, body);
    return true;
  }

  #remember(callId: string, identity: CallIdentity): void {
    const now = Date.now();
    // Oldest first: drop calls whose result never came, and the oldest when over the cap.
    for (const [id, call] of this.#allowed) {
      if (now - call.at < unreportedCallTtlMs && this.#allowed.size < maxUnreportedCalls) break;
      this.#allowed.delete(id);
    }
    this.#allowed.set(callId, { identity, at: now });
  }
}
