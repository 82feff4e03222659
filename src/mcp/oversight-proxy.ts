import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  CallToolRequestSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ErrorCode,
  GetPromptRequestSchema,
  type JSONRPCMessage,
  type JSONRPCNotification,
  type JSONRPCRequest,
  type JSONRPCResponse,
  ListToolsResultSchema,
  ReadResourceRequestSchema,
  type RequestId,
} from "@modelcontextprotocol/sdk/types.js";
import type { ZodType } from "zod";
import { errorMessage, toWireError } from "../core/errors.js";
import { createIdFactory, newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { CallIdentity, CallVerdict, Oversight } from "../core/oversight.js";
import {
  agentNotifications,
  agentRequests,
  type MethodHandling,
  upstreamNotifications,
  upstreamRequests,
} from "./methods.js";

/** The JSON-RPC error code of a denied call that has no tool-result shape (implementation-defined range). */
export const CALL_DENIED_ERROR_CODE = -32050;
/** The rule id of denials Warden itself issues when it cannot decide or record. */
export const WARDEN_UNAVAILABLE_RULE = "warden-unavailable";
/** The `params._meta` key an agent may use to name its session (ignored when the operator fixes one). */
export const SESSION_META_KEY = "warden/session";

export type TrafficSource = "agent" | "upstream";

/** One message as the proxy received it, before any handling. */
export interface TrafficEvent {
  from: TrafficSource;
  message: JSONRPCMessage;
}

export interface OversightProxyOptions {
  serverName: string;
  /** The upstream server's working directory, where relative paths in arguments resolve. */
  workingDirectory?: string;
  /** Faces the agent: the proxy is the MCP server on it. */
  agent: Transport;
  /** Faces the upstream MCP server: the proxy is the MCP client on it. */
  upstream: Transport;
  oversight: Oversight;
  agentId: string;
  /** Fixes the session of every call; otherwise `params._meta["warden/session"]`, else one per connection. */
  sessionId?: string;
  logger: Logger;
  /** Called synchronously for every valid message from either side; must be cheap and must not throw. */
  onTraffic?: (event: TrafficEvent) => void;
}

export interface OversightProxy {
  /** Starts the upstream transport, then the agent transport. */
  start(): Promise<void>;
  close(): Promise<void>;
  /** Resolves once both transports are closed and pending results are recorded. */
  closed: Promise<void>;
  /** Which side ended the connection (`caller` for `close()`); undefined while open. */
  readonly closeCause: TrafficSource | "caller" | undefined;
}

interface DecidedMethod {
  schema: ZodType;
  describe(params: Record<string, unknown>): { tool: string; arguments: unknown };
}

const decidedMethods: ReadonlyMap<string, DecidedMethod> = new Map<string, DecidedMethod>([
  [
    "tools/call",
    {
      schema: CallToolRequestSchema,
      describe: (p) => ({ tool: p.name as string, arguments: p.arguments ?? {} }),
    },
  ],
  [
    "resources/read",
    { schema: ReadResourceRequestSchema, describe: (p) => ({ tool: p.uri as string, arguments: {} }) },
  ],
  [
    "prompts/get",
    {
      schema: GetPromptRequestSchema,
      describe: (p) => ({ tool: p.name as string, arguments: p.arguments ?? {} }),
    },
  ],
  [
    "sampling/createMessage",
    {
      schema: CreateMessageRequestSchema,
      describe: (p) => ({ tool: "sampling/createMessage", arguments: p }),
    },
  ],
  [
    "elicitation/create",
    { schema: ElicitRequestSchema, describe: (p) => ({ tool: "elicitation/create", arguments: p }) },
  ],
]);

/** A request in flight through the proxy. */
interface InflightRequest {
  /** The id its sender gave it. */
  readonly id: RequestId;
  readonly method: string;
  /** Set for decided calls and `tools/list`. */
  identity?: CallIdentity;
  /** Set once a decided call is allowed. */
  callId?: string;
  startedAt?: number;
  /** The id the proxy gave it towards the other side; ids on the two sides never mix. */
  forwardedId?: number;
  cancelled: boolean;
}

interface Peer {
  readonly name: TrafficSource;
  readonly transport: Transport;
  readonly requests: ReadonlyMap<string, MethodHandling>;
  readonly notifications: ReadonlySet<string>;
  /** Requests this peer sent, by its id. */
  readonly received: Map<RequestId, InflightRequest>;
  /** Requests forwarded to this peer, by the proxy's id. */
  readonly sent: Map<number, InflightRequest>;
  nextId: number;
}

const MAX_TRACKED_SESSIONS = 1024;

/**
 * Connects an agent-facing transport to an upstream transport at the JSON-RPC message level, so
 * capability negotiation, notifications, progress and server-to-client requests flow as they are,
 * and intercepts the methods that act (see `methods.ts`): each goes through `Oversight` first,
 * and its result is recorded before it is returned (fail closed at every step).
 */
export function createOversightProxy(options: OversightProxyOptions): OversightProxy {
  return new OversightProxyImpl(options);
}

class OversightProxyImpl implements OversightProxy {
  readonly closed: Promise<void>;
  readonly #options: OversightProxyOptions;
  readonly #logger: Logger;
  readonly #agent: Peer;
  readonly #upstream: Peer;
  readonly #connectionSessionId = createIdFactory()();
  readonly #traceIds = new Map<string, string>();
  /** Result records that must finish before the proxy reports itself closed. */
  readonly #recording = new Set<Promise<unknown>>();
  #resolveClosed!: () => void;
  #closing = false;
  closeCause: TrafficSource | "caller" | undefined;

  constructor(options: OversightProxyOptions) {
    this.#options = options;
    this.#logger = options.logger;
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    this.#agent = peer("agent", options.agent, agentRequests, agentNotifications);
    this.#upstream = peer("upstream", options.upstream, upstreamRequests, upstreamNotifications);
    for (const side of [this.#agent, this.#upstream]) {
      side.transport.onmessage = (message) => this.#onMessage(side, message);
      side.transport.onerror = (error) =>
        this.#logger.warn(
          { server: options.serverName, side: side.name, error: error.message },
          "MCP transport error",
        );
      side.transport.onclose = () => void this.#shutdown(side.name);
    }
  }

  async start(): Promise<void> {
    await this.#upstream.transport.start();
    await this.#agent.transport.start();
  }

  close(): Promise<void> {
    return this.#shutdown("caller");
  }

  #other(side: Peer): Peer {
    return side === this.#agent ? this.#upstream : this.#agent;
  }

  #onMessage(from: Peer, message: JSONRPCMessage): void {
    if (this.#closing) return;
    if (this.#options.onTraffic) {
      try {
        this.#options.onTraffic({ from: from.name, message });
      } catch (error) {
        this.#logger.warn({ error: errorMessage(error) }, "onTraffic threw");
      }
    }
    if ("method" in message) {
      if ("id" in message) this.#onRequest(from, message);
      else this.#onNotification(from, message);
    } else {
      this.#settle(this.#onResponse(from, message));
    }
  }

  #onRequest(from: Peer, request: JSONRPCRequest): void {
    if (from.received.has(request.id)) {
      this.#send(
        from,
        errorResponse(request.id, ErrorCode.InvalidRequest, "Invalid Request: id is already in use"),
      );
      return;
    }
    const handling = from.requests.get(request.method);
    if (handling === undefined) {
      this.#send(
        from,
        errorResponse(
          request.id,
          ErrorCode.MethodNotFound,
          `Method not found: ${request.method} is not forwarded by Warden`,
        ),
      );
      return;
    }
    const inflight: InflightRequest = { id: request.id, method: request.method, cancelled: false };
    from.received.set(request.id, inflight);
    if (handling === "decide") {
      this.#settle(this.#decide(from, inflight, request));
      return;
    }
    if (request.method === "tools/list") inflight.identity = this.#identity(request.params);
    this.#forward(
      from,
      inflight,
      request.method === "initialize" ? withoutTasksCapability(request) : request,
    );
  }

  async #decide(from: Peer, inflight: InflightRequest, request: JSONRPCRequest): Promise<void> {
    const method = decidedMethods.get(request.method)!;
    const check = method.schema.safeParse(request);
    if (!check.success) {
      const issue = check.error.issues[0];
      const where = issue ? `${issue.path.join(".") || "params"}: ${issue.message}` : "invalid";
      this.#finish(
        from,
        inflight,
        errorResponse(request.id, ErrorCode.InvalidParams, `Invalid params: ${where}`),
      );
      return;
    }
    const params = request.params as Record<string, unknown>;
    if (params.task !== undefined) {
      const message = "Invalid params: task-augmented requests are not supported through Warden";
      this.#finish(from, inflight, errorResponse(request.id, ErrorCode.InvalidParams, message));
      return;
    }
    // The session is the agent's to name, never the upstream server's.
    const identity = this.#identity(from === this.#agent ? params : undefined);
    inflight.identity = identity;
    const { tool, arguments: callArguments } = method.describe(params);
    let verdict: CallVerdict;
    try {
      verdict = await this.#options.oversight.decideToolCall({
        via: "mcp",
        method: request.method,
        server: this.#options.serverName,
        tool,
        arguments: callArguments,
        ...(this.#options.workingDirectory ? { workingDirectory: this.#options.workingDirectory } : {}),
        ...identity,
      });
    } catch (error) {
      this.#logger.error(
        { server: this.#options.serverName, tool, error: errorMessage(error) },
        "decision failed",
      );
      verdict = {
        effect: "deny",
        callId: "",
        ruleId: WARDEN_UNAVAILABLE_RULE,
        message: `Warden could not decide this call, so it was not run (${toWireError(error).message}).`,
      };
    }
    if (verdict.effect === "allow") {
      inflight.callId = verdict.callId;
      inflight.startedAt = performance.now();
    }
    if (inflight.cancelled) {
      if (inflight.callId !== undefined) this.#recordCancelled(inflight, "cancelled before it was forwarded");
      return;
    }
    if (verdict.effect === "deny") {
      this.#finish(from, inflight, denial(request.id, request.method, verdict.ruleId, verdict.message));
      return;
    }
    this.#forward(from, inflight, request);
  }

  #forward(from: Peer, inflight: InflightRequest, request: JSONRPCRequest): void {
    const to = this.#other(from);
    const forwardedId = to.nextId++;
    inflight.forwardedId = forwardedId;
    to.sent.set(forwardedId, inflight);
    to.transport.send({ ...request, id: forwardedId }).catch((error: unknown) => {
      const message = `${describePeer(to, this.#options.serverName)} is not connected (${errorMessage(error)})`;
      this.#settle(this.#onResponse(to, errorResponse(forwardedId, ErrorCode.ConnectionClosed, message)));
    });
  }

  async #onResponse(responder: Peer, response: JSONRPCResponse): Promise<void> {
    const inflight = typeof response.id === "number" ? responder.sent.get(response.id) : undefined;
    if (inflight === undefined) {
      this.#logger.warn(
        { side: responder.name, id: response.id },
        "dropped a response to no request in flight",
      );
      return;
    }
    responder.sent.delete(response.id as number);
    let reply: JSONRPCResponse = { ...response, id: inflight.id };
    if ("result" in reply) {
      if (inflight.method === "initialize") reply = { ...reply, result: withoutTasks(reply.result) };
      else if (inflight.method === "tools/list") reply = await this.#filterTools(inflight, reply);
    }
    if (inflight.callId !== undefined) reply = await this.#track(this.#recordResult(inflight, reply));
    this.#finish(this.#other(responder), inflight, reply);
  }

  async #filterTools(
    inflight: InflightRequest,
    reply: JSONRPCResponse & { result: Record<string, unknown> },
  ): Promise<JSONRPCResponse> {
    if (!ListToolsResultSchema.safeParse(reply.result).success) {
      return errorResponse(
        inflight.id,
        ErrorCode.InternalError,
        "The upstream server sent an invalid tools/list result",
      );
    }
    // The raw definitions, not the schema's output: pins cover every field the agent will see.
    const tools = reply.result.tools as { name: string }[];
    const seen = new Set<string>();
    const duplicated = new Set<string>();
    for (const tool of tools) (seen.has(tool.name) ? duplicated : seen).add(tool.name);
    let visible: Set<string>;
    try {
      const check = await this.#options.oversight.checkToolDefinitions(
        inflight.identity!,
        this.#options.serverName,
        tools.map((tool) => ({ name: tool.name, definition: tool })),
      );
      visible = new Set(check.visible);
    } catch (error) {
      this.#logger.error(
        { server: this.#options.serverName, error: errorMessage(error) },
        "tool definition check failed",
      );
      const message = `Warden could not check the tool definitions, so none are shown (${toWireError(error).message})`;
      return errorResponse(inflight.id, ErrorCode.InternalError, message);
    }
    // Two definitions under one name are ambiguous: neither is shown.
    const shown = tools.filter((tool) => visible.has(tool.name) && !duplicated.has(tool.name));
    if (shown.length < tools.length) {
      const hidden = tools.filter((tool) => !shown.includes(tool)).map((tool) => tool.name);
      this.#logger.warn(
        { server: this.#options.serverName, hidden },
        "tools hidden: definition changed or unapproved",
      );
    }
    return { ...reply, result: { ...reply.result, tools: shown } };
  }

  async #recordResult(inflight: InflightRequest, reply: JSONRPCResponse): Promise<JSONRPCResponse> {
    const isError =
      "error" in reply ||
      (inflight.method === "tools/call" && (reply.result as { isError?: unknown }).isError === true);
    try {
      await this.#options.oversight.recordToolResult(inflight.identity!, {
        callId: inflight.callId!,
        isError,
        latencyMs: performance.now() - inflight.startedAt!,
        result: "error" in reply ? reply.error : reply.result,
      });
      return reply;
    } catch (error) {
      this.#logger.error(
        { server: this.#options.serverName, error: errorMessage(error) },
        "recording a result failed",
      );
      const message = `Warden could not record the result, so it is withheld (${toWireError(error).message}).`;
      return denial(inflight.id, inflight.method, WARDEN_UNAVAILABLE_RULE, message);
    }
  }

  #recordCancelled(inflight: InflightRequest, reason: string): void {
    const record = this.#options.oversight.recordToolResult(inflight.identity!, {
      callId: inflight.callId!,
      isError: true,
      latencyMs: performance.now() - inflight.startedAt!,
      result: { cancelled: true, reason },
    });
    this.#settle(this.#track(record));
  }

  #onNotification(from: Peer, notification: JSONRPCNotification): void {
    if (notification.method === "notifications/cancelled") {
      this.#onCancelled(from, notification);
    } else if (from.notifications.has(notification.method)) {
      this.#send(this.#other(from), notification);
    } else {
      this.#logger.debug(
        { side: from.name, method: notification.method },
        "dropped a notification Warden does not forward",
      );
    }
  }

  /** MCP cancellation (spec: basic/utilities/cancellation): the id is the sender's; translate it. */
  #onCancelled(from: Peer, notification: JSONRPCNotification): void {
    const requestId = notification.params?.requestId as RequestId | undefined;
    const inflight = requestId === undefined ? undefined : from.received.get(requestId);
    if (inflight === undefined) return;
    from.received.delete(inflight.id);
    inflight.cancelled = true;
    if (inflight.forwardedId === undefined) return; // still being decided; #decide sees the flag
    const to = this.#other(from);
    to.sent.delete(inflight.forwardedId);
    this.#send(to, { ...notification, params: { ...notification.params, requestId: inflight.forwardedId } });
    if (inflight.callId !== undefined) this.#recordCancelled(inflight, "cancelled after it was forwarded");
  }

  #finish(to: Peer, inflight: InflightRequest, reply: JSONRPCResponse): void {
    if (inflight.cancelled) return; // the sender asked for no answer
    if (to.received.get(inflight.id) === inflight) to.received.delete(inflight.id);
    this.#send(to, reply);
  }

  #send(to: Peer, message: JSONRPCMessage): void {
    to.transport.send(message).catch((error: unknown) => {
      if (!this.#closing)
        this.#logger.warn({ side: to.name, error: errorMessage(error) }, "could not send a message");
    });
  }

  #identity(params: Record<string, unknown> | undefined): CallIdentity {
    const sessionId = this.#options.sessionId ?? sessionFromMeta(params) ?? this.#connectionSessionId;
    let traceId = this.#traceIds.get(sessionId);
    if (traceId === undefined) {
      traceId = newTraceId();
      // Agent-named sessions are unbounded input; keep the most recent ones.
      if (this.#traceIds.size >= MAX_TRACKED_SESSIONS)
        this.#traceIds.delete(this.#traceIds.keys().next().value!);
      this.#traceIds.set(sessionId, traceId);
    }
    return { agentId: this.#options.agentId, sessionId, traceId, spanId: newSpanId() };
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#recording.add(promise);
    const forget = () => this.#recording.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #settle(promise: Promise<unknown>): void {
    promise.catch((error: unknown) =>
      this.#logger.error(
        { server: this.#options.serverName, error: errorMessage(error) },
        "MCP proxy failure",
      ),
    );
  }

  async #shutdown(cause: TrafficSource | "caller"): Promise<void> {
    if (this.#closing) return this.closed;
    this.#closing = true;
    this.closeCause = cause;
    const serverName = this.#options.serverName;
    if (cause === "upstream") {
      this.#logger.error(
        { server: serverName },
        `upstream MCP server "${serverName}" exited; closing the bridge`,
      );
    } else {
      this.#logger.info({ server: serverName, cause }, "closing the MCP bridge");
    }
    // Everything still waiting on either side gets an answer (and a record, if it was a call).
    const answers: Promise<void>[] = [];
    for (const side of [this.#upstream, this.#agent]) {
      const message =
        cause === "caller"
          ? "the bridge was closed before the answer arrived"
          : `${describePeer(cause === "agent" ? this.#agent : this.#upstream, serverName)} closed the connection before the answer arrived`;
      for (const forwardedId of [...side.sent.keys()]) {
        answers.push(this.#onResponse(side, errorResponse(forwardedId, ErrorCode.ConnectionClosed, message)));
      }
    }
    await Promise.allSettled(answers);
    await Promise.allSettled([...this.#recording]);
    await Promise.allSettled([this.#agent.transport.close(), this.#upstream.transport.close()]);
    this.#resolveClosed();
  }
}

function peer(
  name: TrafficSource,
  transport: Transport,
  requests: ReadonlyMap<string, MethodHandling>,
  notifications: ReadonlySet<string>,
): Peer {
  return { name, transport, requests, notifications, received: new Map(), sent: new Map(), nextId: 1 };
}

function describePeer(side: Peer, serverName: string): string {
  return side.name === "upstream" ? `upstream MCP server "${serverName}"` : "the agent";
}

function errorResponse(id: RequestId, code: number, message: string): JSONRPCResponse {
  return { jsonrpc: "2.0", id, error: { code, message } };
}

/**
 * A denial the agent can read: the rule and its message (invariant 7). A tool call is answered
 * with a tool result so the model sees it; other methods have no result shape for it.
 */
function denial(id: RequestId, method: string, ruleId: string, message: string): JSONRPCResponse {
  const text = `Denied by rule "${ruleId}": ${message}`;
  if (method === "tools/call") {
    return { jsonrpc: "2.0", id, result: { content: [{ type: "text", text }], isError: true } };
  }
  return { jsonrpc: "2.0", id, error: { code: CALL_DENIED_ERROR_CODE, message: text, data: { ruleId } } };
}

function sessionFromMeta(params: Record<string, unknown> | undefined): string | undefined {
  const meta = params?._meta as Record<string, unknown> | undefined;
  const session = meta?.[SESSION_META_KEY];
  return typeof session === "string" && session.length > 0 && session.length <= 256 ? session : undefined;
}

function withoutTasks<T>(value: T): T {
  const capabilities = (value as { capabilities?: Record<string, unknown> }).capabilities;
  if (capabilities === undefined || !("tasks" in capabilities)) return value;
  const { tasks: _tasks, ...rest } = capabilities;
  return { ...value, capabilities: rest };
}

function withoutTasksCapability(request: JSONRPCRequest): JSONRPCRequest {
  return request.params === undefined ? request : { ...request, params: withoutTasks(request.params) };
}
