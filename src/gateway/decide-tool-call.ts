import { errorMessage } from "../core/errors.js";
import { newSpanId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import { type CallIdentity, type Oversight, PENDING_APPROVAL_RULE } from "../core/oversight.js";
import { type ProposedToolCall, parseToolArguments, type ToolCallVerdict } from "./gateway-api.js";

/** The rule named when Warden itself could not decide (fail closed); same id as the MCP proxy's. */
export const WARDEN_UNAVAILABLE_RULE = "warden-unavailable";
export { PENDING_APPROVAL_RULE };

/**
 * Oversight answers a hold itself at `holdCapMs` (and keeps the call held for a later approval);
 * this margin later the gateway stops waiting anyway, for an Oversight that does not.
 */
const capMarginMs = 1000;

export interface DecideOptions {
  oversight: Oversight;
  identity: Omit<CallIdentity, "spanId">;
  /** `model:<upstream name>`. */
  server: string;
  holdCapMs: number;
  logger: Logger;
}

/**
 * Puts one proposed tool call through oversight, the same decision an MCP tool call gets.
 * Errors deny (fail closed) and a hold longer than the cap denies as pending approval; the
 * agent is told only the rule id and the rule's message.
 */
export async function decideToolCall(
  options: DecideOptions,
  call: ProposedToolCall,
): Promise<ToolCallVerdict> {
  let timer: NodeJS.Timeout | undefined;
  const capped = new Promise<"cap">((resolve) => {
    timer = setTimeout(() => resolve("cap"), options.holdCapMs + capMarginMs);
  });
  try {
    const verdict = await Promise.race([
      options.oversight.decideToolCall({
        ...options.identity,
        spanId: newSpanId(),
        via: "gateway",
        method: "tools/call",
        server: options.server,
        tool: call.name,
        arguments: parseToolArguments(call.arguments),
        holdCapMs: options.holdCapMs,
      }),
      capped,
    ]);
    if (verdict === "cap") {
      return denial(
        call.name,
        PENDING_APPROVAL_RULE,
        `The call is waiting for a reviewer's approval and was not approved within ${Math.round(options.holdCapMs / 1000)} s. If it is approved later, proposing the same call again will go through.`,
      );
    }
    if (verdict.effect === "allow") return { allowed: true, callId: verdict.callId };
    return { ...denial(call.name, verdict.ruleId, verdict.message), callId: verdict.callId };
  } catch (error) {
    options.logger.error(
      { tool: call.name, error: errorMessage(error) },
      "tool call decision failed; denied",
    );
    return denial(
      call.name,
      WARDEN_UNAVAILABLE_RULE,
      "Warden could not decide this call, so it was not run. Try again later.",
    );
  } finally {
    clearTimeout(timer);
  }
}

function denial(tool: string, ruleId: string, message: string): ToolCallVerdict {
  return {
    allowed: false,
    ruleId,
    message,
    text: `[Warden] The tool call ${tool} was denied by rule "${ruleId}": ${message}`,
  };
}
