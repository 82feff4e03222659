/**
 * The seam between a proxy (MCP bridge, model gateway) and the daemon that owns the record and
 * the constitution. A proxy never decides or writes by itself: it asks, and it forwards only
 * what the answer allows. Every method fails closed: a rejected promise means "deny".
 */
/** The rule a verdict names when a held call was not approved within the proxy's `holdCapMs`. */
export const PENDING_APPROVAL_RULE = "pending-approval";

export interface CallIdentity {
  agentId: string;
  sessionId: string;
  traceId: string;
  /** The span of the call; results and decisions are children of it. */
  spanId: string;
  /** The span the call was made in, e.g. the model call that proposed it. */
  parentSpanId?: string;
}

export interface ToolCallRequest extends CallIdentity {
  via: "mcp" | "gateway" | "sdk" | "sandbox";
  /** The protocol method: `tools/call`, `resources/read`, `prompts/get`, `sampling/createMessage`, ... */
  method: string;
  server: string;
  /** The tool name, or the resource URI / prompt name for other methods. */
  tool: string;
  arguments: unknown;
  /**
   * Where relative paths in the arguments resolve: the upstream server's working directory.
   * Set by the proxy from its own configuration, never taken from the agent.
   */
  workingDirectory?: string;
  /**
   * How long the proxy waits for a held call (the model gateway: below client timeouts). When
   * it passes, the call is denied as pending approval but stays held; identical calls in the
   * session join that hold, and an approval that arrives later lets the identical call through
   * once when it is proposed again. Absent (MCP): the call waits for the decision or expiry.
   */
  holdCapMs?: number;
}

/** What the proxy must do with the call. A denial carries the text the agent is shown. */
export type CallVerdict =
  | { effect: "allow"; callId: string }
  | { effect: "deny"; callId: string; ruleId: string; message: string };

export interface ToolDefinitionsCheck {
  /** Names of tools whose definition matches its pin (or was just pinned); the rest are hidden. */
  visible: string[];
}

export interface Oversight {
  /**
   * Records the call and its decision durably, waits for a person if the decision is hold,
   * and resolves to the verdict only after the records are on disk.
   */
  decideToolCall(request: ToolCallRequest): Promise<CallVerdict>;
  /** Records the result durably; the proxy returns it to the agent only after this resolves. */
  recordToolResult(
    identity: CallIdentity,
    result: { callId: string; isError: boolean; latencyMs: number; result: unknown },
  ): Promise<void>;
  /** Pins tool definitions on first sight; a changed definition is hidden and reported. */
  checkToolDefinitions(
    identity: CallIdentity,
    server: string,
    tools: { name: string; definition: unknown }[],
  ): Promise<ToolDefinitionsCheck>;
}
