import { once } from "node:events";
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import { performance } from "node:perf_hooks";
import type { Dispatcher } from "undici";
import { errorMessage } from "../core/errors.js";
import type { AppendOptions } from "../core/event-store.js";
import type { EventData, EventInput, EventType, StoredEvent } from "../core/events.js";
import { newSpanId, newTraceId } from "../core/ids.js";
import type { Logger } from "../core/logger.js";
import type { Oversight } from "../core/oversight.js";
import { parseStrictJson } from "../core/strict-json.js";
import { formatPath } from "../core/yaml-source.js";
import { AgentTrafficLimits, type LimitsConfig } from "./agent-limits.js";
import { anthropicErrorBody } from "./anthropic/error-body.js";
import { anthropicMessages } from "./anthropic/messages.js";
import { decideToolCall } from "./decide-tool-call.js";
import {
  type GatewayApi,
  isRecord,
  MalformedUpstreamEvent,
  type ReviewToolCall,
  type ToolCallVerdict,
} from "./gateway-api.js";
import {
  GuardedToolRoutes,
  guardedToolCallPath,
  guardedToolCallSchema,
  guardedToolResultPath,
  guardedToolResultSchema,
} from "./guarded-tool-routes.js";
import { openAiChatCompletions } from "./openai/chat-completions.js";
import { openAiErrorBody } from "./openai/error-body.js";
import { openAiResponses } from "./openai/responses.js";
import { type RetryJoinOptions, RetryJoins } from "./retry-joins.js";
import { sessionIdFor } from "./session-id.js";
import { SseParser } from "./sse-parser.js";
import {
  createUpstreams,
  credentialHeaders,
  globToRegExp,
  selectUpstream,
  type Upstream,
  type UpstreamConfig,
  type UpstreamTimeouts,
} from "./upstreams.js";

export interface GatewayOptions {
  upstreams: UpstreamConfig[];
  /** Decides the tool calls models propose (`via: "gateway"`), exactly as MCP tool calls are decided. */
  oversight: Oversight;
  /** The store's append. Model traffic is appended with durability `buffered`: never waits for the disk. */
  record: (input: EventInput, options: AppendOptions) => Promise<StoredEvent>;
  /** The agent behind a request (from its Warden token; see `wardenTokenFromRequest`), or null for 401. */
  authenticate: (request: IncomingMessage) => { agentId: string } | null;
  logger: Logger;
  /** Longest wait for a held tool call's approval before it is denied as pending; default 60 s. */
  holdCapMs?: number;
  /** Upstream timeouts; a timeout answers 504. Defaults: 300 s to first byte, 300 s between chunks. */
  upstreamTimeouts?: Partial<UpstreamTimeouts>;
  /** Largest client request body, in bytes; default 32 MiB. */
  maxRequestBytes?: number;
  /** Largest upstream response body, and largest single stream event, in bytes; default 64 MiB. */
  maxUpstreamBytes?: number;
  /**
   * Tools (names, or globs with `*`) the agent executes only through Warden's MCP proxy. Each of
   * their calls is decided there, at execution, with the arguments actually run; deciding the
   * model's proposal too would decide the same action twice (and hold it twice). Their proposals
   * are passed through and recorded (`record-only` in the `model-response` record). Default none:
   * every proposed tool call is decided at proposal, the safe side when it is not known where a
   * tool runs.
   */
  mcpExecutedTools?: string[];
  /** Per-agent rate limits and token budgets (`limits` in the config file). Absent: none apply. */
  limits?: LimitsConfig;
  /**
   * Where model traffic is counted (and limits enforced), shared with the oversight service so
   * rules can read `agent.usage`. Default: one of the gateway's own, with `limits`.
   */
  traffic?: AgentTrafficLimits;
  /** How retries of non-streamed calls are joined to their first attempt (see `RetryJoins`). */
  retryJoins?: RetryJoinOptions;
  /**
   * The kill switch: each halt it reports ends the open streams it covers, with the format's
   * error event naming the kill switch. Absent: streams run to their end (their tool calls are
   * still decided, and so denied, one by one).
   */
  killSwitch?: { subscribe(listener: (halt: GatewayHalt) => void): () => void };
}

/** A halt of the kill switch: which calls it covers, and why. */
export interface GatewayHalt {
  covers(identity: { agentId: string; sessionId: string }): boolean;
  reason: string;
}

export interface Gateway {
  /** Serves a request under `/v1/`; false if the path is not the gateway's (the caller routes it elsewhere). */
  handle(request: IncomingMessage, response: ServerResponse): Promise<boolean>;
  /** Aborts requests in flight and closes the upstream connection pools. */
  close(): Promise<void>;
}

const apis = new Map<string, GatewayApi>(
  [openAiChatCompletions, openAiResponses, anthropicMessages].map((api) => [api.path, api]),
);
const forwardedRequestHeaders = [
  "accept",
  "anthropic-version",
  "anthropic-beta",
  "openai-beta",
  "openai-organization",
  "openai-project",
];
const forwardedResponseHeader =
  /^(x-request-id|request-id|retry-after|retry-after-ms|x-should-retry|x-ratelimit-.*|anthropic-ratelimit-.*|openai-processing-ms|openai-version|x-warden-scripted)$/;

/**
 * The model gateway: OpenAI Chat Completions, OpenAI Responses, `GET /v1/models` and Anthropic
 * Messages, streamed or not. Agents authenticate with their Warden token and Warden calls the
 * provider with its own key; every request and response is recorded, and every tool call the
 * model proposes is decided before the agent sees it.
 *
 * @example
 * const gateway = createGateway({ upstreams: [{ name: "openai", baseUrl: "https://api.openai.com",
 *   format: "openai", apiKeyEnv: "OPENAI_API_KEY" }], oversight, record: (input, options) =>
 *   store.append(input, options), authenticate, logger });
 * http.createServer(async (request, response) => {
 *   if (!(await gateway.handle(request, response))) notFound(response);
 * });
 */
export function createGateway(options: GatewayOptions): Gateway {
  const { logger, oversight } = options;
  const holdCapMs = options.holdCapMs ?? 60_000;
  const maxRequestBytes = options.maxRequestBytes ?? 32 * 1024 * 1024;
  const maxUpstreamBytes = options.maxUpstreamBytes ?? 64 * 1024 * 1024;
  const mcpExecuted = (options.mcpExecutedTools ?? []).map(globToRegExp);
  const isMcpExecuted = (tool: string) => mcpExecuted.some((pattern) => pattern.test(tool));
  const limits = options.traffic ?? new AgentTrafficLimits(options.limits ?? { agents: {} });
  const upstreams = createUpstreams(options.upstreams, {
    headersMs: options.upstreamTimeouts?.headersMs ?? 300_000,
    bodyMs: options.upstreamTimeouts?.bodyMs ?? 300_000,
  });
  const inFlight = new Set<AbortController>();
  /** Streams being relayed, so that the kill switch can end them. */
  const openStreams = new Set<{
    identity: { agentId: string; sessionId: string };
    stop(reason: string): void;
  }>();
  const stopListening = options.killSwitch?.subscribe((halt) => {
    for (const stream of openStreams) if (halt.covers(stream.identity)) stream.stop(halt.reason);
  });
  const guardedTools = new GuardedToolRoutes(oversight);
  const retryJoins = new RetryJoins(options.retryJoins);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> {
    const [pathname = "/", query] = (request.url ?? "/").split("?", 2);
    if (pathname !== "/v1" && !pathname.startsWith("/v1/")) return false;
    const api = apis.get(pathname);
    const family =
      api?.family ?? (request.headers["anthropic-version"] === undefined ? "openai" : "anthropic");
    const errorBody = family === "anthropic" ? anthropicErrorBody : openAiErrorBody;
    const fail = (status: number, message: string) => sendJson(response, status, errorBody(status, message));
    try {
      const caller = options.authenticate(request);
      if (caller === null) {
        request.resume();
        response.setHeader("www-authenticate", "Bearer"); // RFC 6750 §3
        fail(401, "Missing or invalid Warden agent token. Send it as Authorization: Bearer or x-api-key.");
        return true;
      }
      if (request.method === "GET" && (pathname === "/v1/models" || pathname.startsWith("/v1/models/"))) {
        request.resume();
        await forwardModels(request, response, pathname, query, fail);
        return true;
      }
      if (
        request.method === "POST" &&
        (pathname === guardedToolCallPath || pathname === guardedToolResultPath)
      ) {
        await serveGuardedTool(request, response, pathname, caller.agentId, fail);
        return true;
      }
      // An agent's request refused before it is a model call is recorded too: what was refused and why.
      const refuse = (status: number, message: string, bytes: number) => {
        recordRefusal(request, caller.agentId, pathname, status, message, bytes);
        fail(status, message);
      };
      if (api === undefined || request.method !== "POST") {
        request.resume();
        refuse(404, `Warden's gateway has no ${request.method} ${pathname}.`, 0);
        return true;
      }
      const text = await readBody(request, maxRequestBytes);
      if (text === "too-large") {
        refuse(413, `Request bodies are limited to ${maxRequestBytes} bytes.`, maxRequestBytes + 1);
        return true;
      }
      let body: unknown;
      try {
        body = parseStrictJson(text, maxRequestBytes);
      } catch (error) {
        refuse(400, `The request body is not valid JSON: ${errorMessage(error)}`, Buffer.byteLength(text));
        return true;
      }
      if (!isRecord(body)) {
        refuse(400, "The request body must be a JSON object.", Buffer.byteLength(text));
        return true;
      }
      await serveModelCall({ api, body, text, query, agentId: caller.agentId, request, response });
    } catch (error) {
      logger.error({ path: pathname, error: errorMessage(error) }, "gateway request failed");
      if (!response.headersSent) fail(500, "Warden's gateway failed to handle the request.");
      else response.destroy();
    }
    return true;
  }

  function recordRefusal(
    request: IncomingMessage,
    agentId: string,
    path: string,
    status: number,
    message: string,
    bytes: number,
  ): void {
    const identity = {
      agentId,
      sessionId: sessionIdFor(request, agentId, null),
      traceId: newTraceId(),
      spanId: newSpanId(),
    };
    const append = (input: EventInput) =>
      options
        .record(input, { durability: "buffered" })
        .catch((error: unknown) => logger.error({ error: errorMessage(error) }, "could not record"));
    // The body itself is not kept: it is what could not be read (or is too large to keep).
    void append({
      type: "model-request",
      ...identity,
      data: {
        provider: "none",
        model: "",
        path,
        body: { refused: true, method: request.method ?? "", bytes },
      },
    } as EventInput);
    void append({
      type: "model-response",
      ...identity,
      data: {
        provider: "none",
        model: "",
        status,
        streamed: false,
        latencyMs: 0,
        body: { outcome: "refused", error: message },
      },
    } as EventInput);
  }

  async function serveGuardedTool(
    request: IncomingMessage,
    response: ServerResponse,
    pathname: string,
    agentId: string,
    fail: (status: number, message: string) => void,
  ): Promise<void> {
    const text = await readBody(request, maxRequestBytes);
    if (text === "too-large") return fail(413, `Request bodies are limited to ${maxRequestBytes} bytes.`);
    let body: unknown;
    try {
      body = parseStrictJson(text, maxRequestBytes);
    } catch (error) {
      return fail(400, `The request body is not valid JSON: ${errorMessage(error)}`);
    }
    if (pathname === guardedToolCallPath) {
      const parsed = guardedToolCallSchema.safeParse(body);
      if (!parsed.success) return fail(400, describeIssues(parsed.error.issues));
      let decision: Awaited<ReturnType<GuardedToolRoutes["decide"]>>;
      try {
        decision = await guardedTools.decide(request, agentId, parsed.data);
      } catch (error) {
        // Fail closed: the SDK treats anything but a 200 decision as a denial.
        logger.error({ tool: parsed.data.tool, error: errorMessage(error) }, "guarded tool decision failed");
        return fail(503, "Warden could not decide this call, so it must not run. Try again later.");
      }
      return sendJson(response, 200, decision);
    }
    const parsed = guardedToolResultSchema.safeParse(body);
    if (!parsed.success) return fail(400, describeIssues(parsed.error.issues));
    if (!(await guardedTools.recordResult(agentId, parsed.data)))
      return fail(404, `No allowed call ${parsed.data.callId} of this agent is waiting for its result.`);
    sendJson(response, 200, { recorded: true });
  }

  async function serveModelCall(call: {
    api: GatewayApi;
    body: Record<string, unknown>;
    text: string;
    query: string | undefined;
    agentId: string;
    request: IncomingMessage;
    response: ServerResponse;
  }): Promise<void> {
    const { api, body, request, response } = call;
    const model = typeof body.model === "string" ? body.model : "";
    const identity = {
      agentId: call.agentId,
      sessionId: sessionIdFor(request, call.agentId, api.conversationStart(body)),
      traceId: newTraceId(),
    };
    const spanId = newSpanId();
    const startedAt = performance.now();
    const upstream = selectUpstream(upstreams, api.family, model);
    const provider = upstream?.config.name ?? "none";
    const record = <T extends EventType>(type: T, data: EventData<T>) => {
      try {
        options
          .record({ type, ...identity, spanId, data } as EventInput, { durability: "buffered" })
          .catch((error: unknown) => logger.error({ type, error: errorMessage(error) }, "could not record"));
      } catch (error) {
        logger.error({ type, error: errorMessage(error) }, "could not record");
      }
    };
    const toolCalls: NonNullable<EventData<"model-response">["toolCalls"]> = [];
    // The request is recorded once, as late as ordering allows: right after it is on its way
    // upstream (hashing it then overlaps the upstream's work), or before any answer of Warden's own.
    let requestRecorded = false;
    const recordRequest = () => {
      if (requestRecorded) return;
      requestRecorded = true;
      record("model-request", { provider, model, path: api.path, body });
    };
    const recordResponse = (status: number, responseBody: unknown, streamed: boolean) => {
      recordRequest();
      if (status < 300 && isRecord(responseBody)) limits.charge(call.agentId, responseBody.usage);
      record("model-response", {
        provider,
        model,
        status,
        streamed,
        latencyMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
        body: responseBody,
        ...(toolCalls.length > 0 ? { toolCalls } : {}),
      });
    };
    const fail = (status: number, message: string, headers: Record<string, string> = {}) => {
      const errorBody = api.errorBody(status, message);
      recordResponse(status, errorBody, false);
      reply(status, JSON.stringify(errorBody), headers);
    };

    // Streams are not joined: their answer is the stream itself, written as it arrives.
    const joinKey =
      body.stream === true ? null : RetryJoins.keyOf(request, call.agentId, api.path, call.text);
    if (joinKey !== null && RetryJoins.isRetry(request)) {
      const earlier = retryJoins.find(joinKey);
      if (earlier !== undefined) {
        recordRequest();
        const answer = await earlier.wait();
        record("model-response", {
          provider,
          model,
          status: answer.status,
          streamed: false,
          latencyMs: Math.round((performance.now() - startedAt) * 1000) / 1000,
          body: { outcome: "retry-joined", firstSpanId: earlier.firstSpanId },
        });
        return sendText(response, answer.status, answer.text, answer.headers);
      }
    }
    const attempt = joinKey === null ? null : retryJoins.begin(joinKey, spanId);
    try {
      await serveAttempt();
    } finally {
      if (attempt !== null && joinKey !== null) {
        // Whatever happened, a retry waiting on this attempt gets an answer.
        if (attempt.settled === null && attempt.joined)
          retryJoins.settle(joinKey, attempt, {
            status: 502,
            headers: {},
            text: JSON.stringify(
              api.errorBody(502, "The first attempt of this request ended without an answer."),
            ),
          });
        retryJoins.forget(joinKey, attempt);
      }
    }

    function reply(status: number, text: string, headers: Record<string, string | string[]>): void {
      if (attempt !== null && joinKey !== null)
        retryJoins.settle(joinKey, attempt, { status, headers, text });
      sendText(response, status, text, headers);
    }

    async function serveAttempt(): Promise<void> {
      const limited = limits.admit(call.agentId);
      if (limited !== null) {
        const limitBody = api.rateLimitBody(limited.limit, limited.message);
        recordResponse(429, limitBody, false);
        // RFC 9110 §10.2.3; openai-node and anthropic-sdk retry after it.
        return reply(429, JSON.stringify(limitBody), {
          "retry-after": String(limited.retryAfterSeconds),
        });
      }
      const refusal = api.refusal(body);
      if (refusal !== null) return fail(400, refusal);
      if (upstream === undefined) return fail(404, `No upstream is configured for model "${model}".`);
      const credentials = credentialHeaders(upstream);
      if ("missing" in credentials) {
        logger.error(
          { upstream: upstream.config.name, variable: credentials.missing },
          "upstream API key not set",
        );
        return fail(500, `Warden has no API key for upstream "${upstream.config.name}".`);
      }

      const controller = new AbortController();
      inFlight.add(controller);
      let clientGone = false;
      response.once("close", () => {
        if (!response.writableFinished) {
          clientGone = true;
          if (attempt !== null && attempt.settled === null)
            attempt.abandoned(retryJoins.abandonedGraceMs, () => controller.abort());
          else controller.abort();
        }
      });
      /** Nobody is waiting for the answer any more: neither the client nor a retry that joined. */
      const abandoned = () => clientGone && !(attempt?.joined ?? false);
      const decideOptions = {
        oversight,
        // The tool calls a model proposes are children of its call's span.
        identity: { ...identity, parentSpanId: spanId },
        server: `model:${upstream.config.name}`,
        holdCapMs,
        logger,
      };
      const review: ReviewToolCall = async (toolCall) => {
        if (isMcpExecuted(toolCall.name)) {
          toolCalls.push({ id: toolCall.id, name: toolCall.name, verdict: "record-only" });
          return { allowed: true };
        }
        const verdict: ToolCallVerdict = await decideToolCall(decideOptions, toolCall);
        toolCalls.push({
          id: toolCall.id,
          name: toolCall.name,
          verdict: verdict.allowed ? "allow" : "deny",
          ...(verdict.allowed ? {} : { ruleId: verdict.ruleId }),
          ...(verdict.callId === undefined ? {} : { callId: verdict.callId }),
        });
        return verdict;
      };
      try {
        let answer: Dispatcher.ResponseData;
        try {
          const pending = upstream.pool.request({
            method: "POST",
            path: `${upstream.prefix}${api.path}${call.query === undefined ? "" : `?${call.query}`}`,
            headers: { ...pickHeaders(request.headers), ...credentials, "content-type": "application/json" },
            body: call.text,
            signal: controller.signal,
          });
          recordRequest();
          answer = await pending;
        } catch (error) {
          if (abandoned()) return recordResponse(499, { outcome: "client-aborted" }, false);
          return failUpstream(error, fail, upstream, "connect");
        }
        const contentType = String(answer.headers["content-type"] ?? "");
        if (answer.statusCode < 300 && contentType.startsWith("text/event-stream")) {
          let haltReason: string | null = null;
          const open = {
            identity,
            stop(reason: string) {
              haltReason = reason;
              controller.abort();
            },
          };
          openStreams.add(open);
          try {
            return await relayStream({
              api,
              answer,
              response,
              review,
              recordResponse,
              upstreamName: upstream.config.name,
              isClientGone: () => clientGone,
              haltReason: () => haltReason,
              signal: controller.signal,
            });
          } finally {
            openStreams.delete(open);
          }
        }
        let upstreamText: string;
        try {
          upstreamText = await readUpstreamBody(answer.body, maxUpstreamBytes);
        } catch (error) {
          if (abandoned()) return recordResponse(499, { outcome: "client-aborted" }, false);
          return failUpstream(error, fail, upstream, "body");
        }
        let parsed: unknown;
        try {
          parsed = JSON.parse(upstreamText);
        } catch {
          logger.warn(
            { upstream: upstream.config.name, status: answer.statusCode },
            "upstream answered non-JSON",
          );
          return fail(
            answer.statusCode >= 400 ? answer.statusCode : 502,
            `Upstream "${upstream.config.name}" answered with ${answer.statusCode} and a body that is not JSON.`,
          );
        }
        const headers = passHeaders(answer.headers);
        // The answer goes out first and is recorded in the same turn of the event loop, so no
        // later request of this client can be recorded before it.
        if (answer.statusCode >= 300) {
          reply(answer.statusCode, upstreamText, headers);
          return recordResponse(answer.statusCode, parsed, false);
        }
        const reviewed = await api.reviewResponse(parsed, review);
        if (!abandoned())
          reply(answer.statusCode, reviewed === parsed ? upstreamText : JSON.stringify(reviewed), headers);
        recordResponse(answer.statusCode, parsed, false);
      } finally {
        inFlight.delete(controller);
      }
    }
  }

  function failUpstream(
    error: unknown,
    fail: (status: number, message: string) => void,
    upstream: Upstream,
    phase: "connect" | "body",
  ): void {
    logger.warn({ upstream: upstream.config.name, error: errorMessage(error) }, "upstream request failed");
    const failure = upstreamFailure(error, upstream.config.name, phase);
    fail(failure.status, failure.message);
  }

  async function relayStream(stream: {
    api: GatewayApi;
    answer: Dispatcher.ResponseData;
    response: ServerResponse;
    review: ReviewToolCall;
    recordResponse: (status: number, body: unknown, streamed: boolean) => void;
    upstreamName: string;
    isClientGone: () => boolean;
    /** Set when the kill switch ended the stream. */
    haltReason: () => string | null;
    /** Aborted when the client goes away, or by the kill switch. */
    signal: AbortSignal;
  }): Promise<void> {
    const { answer, response } = stream;
    response.writeHead(answer.statusCode, {
      ...passHeaders(answer.headers),
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
    });
    response.flushHeaders();
    const write = (text: string) => {
      if (!response.destroyed && !response.writableEnded) response.write(text);
    };
    const { api } = stream;
    const filter = api.createStreamFilter(write, stream.review);
    const parser = new SseParser();
    let outcome = "complete";
    let failure: { status: number; message: string } | null = null;
    let ended = false;
    /** The upstream's own in-stream error event (passed on as it is), for the record. */
    let upstreamError: string | null = null;
    const take = (events: ReturnType<SseParser["push"]>) => {
      for (const event of events) {
        if (api.isStreamEnd(event)) {
          ended = true;
          if (event.event === "error") upstreamError = event.data;
        }
        filter.push(event);
      }
    };
    try {
      for await (const chunk of answer.body) {
        take(parser.push(chunk as Buffer));
        if (parser.pendingLength > maxUpstreamBytes) throw new UpstreamEventTooLarge(maxUpstreamBytes);
        if (response.writableNeedDrain) await once(response, "drain", { signal: stream.signal });
      }
      take(parser.end());
      if (upstreamError !== null) outcome = "upstream-error-event";
      else if (!ended) {
        outcome = "upstream-truncated";
        failure = {
          status: 502,
          message: `Upstream "${stream.upstreamName}" ended the stream before it was complete.`,
        };
      }
    } catch (error) {
      const haltReason = stream.haltReason();
      if (haltReason !== null && !stream.isClientGone()) {
        outcome = "kill-switch";
        failure = {
          status: 403,
          message: `Stopped by the kill switch${haltReason ? `: ${haltReason}` : "."}`,
        };
      } else if (stream.isClientGone()) outcome = "client-aborted";
      else {
        failure = upstreamFailure(error, stream.upstreamName, "body");
        outcome =
          error instanceof MalformedUpstreamEvent
            ? "upstream-malformed"
            : isTimeout(error)
              ? "upstream-timeout"
              : "upstream-error";
      }
    }
    if (failure !== null) {
      logger.warn({ upstream: stream.upstreamName, outcome }, "upstream stream failed part way");
      answer.body.destroy();
    }
    filter.end();
    await filter.finished();
    if (stream.isClientGone() && outcome === "complete") outcome = "client-aborted";
    // Headers are sent: the failure goes in the stream, as an error event the client's SDK raises.
    if (failure !== null) write(api.streamErrorFrame(failure.status, failure.message));
    if (!response.destroyed) response.end();
    stream.recordResponse(
      outcome === "client-aborted" ? 499 : answer.statusCode,
      {
        ...filter.summary(),
        outcome,
        ...(failure === null ? {} : { error: failure.message }),
        ...(upstreamError === null ? {} : { upstreamError: parseJsonOrText(upstreamError) }),
      },
      true,
    );
  }

  async function forwardModels(
    request: IncomingMessage,
    response: ServerResponse,
    pathname: string,
    query: string | undefined,
    fail: (status: number, message: string) => void,
  ): Promise<void> {
    const preferred = request.headers["anthropic-version"] === undefined ? "openai" : "anthropic";
    const upstream = upstreams.find((candidate) => candidate.config.format === preferred) ?? upstreams[0];
    if (upstream === undefined) return fail(404, "No upstream is configured.");
    const credentials = credentialHeaders(upstream);
    if ("missing" in credentials)
      return fail(500, `Warden has no API key for upstream "${upstream.config.name}".`);
    try {
      const answer = await upstream.pool.request({
        method: "GET",
        path: `${upstream.prefix}${pathname}${query === undefined ? "" : `?${query}`}`,
        headers: { ...pickHeaders(request.headers), ...credentials },
      });
      const text = await readUpstreamBody(answer.body, maxUpstreamBytes);
      sendText(response, answer.statusCode, text, {
        ...passHeaders(answer.headers),
        "content-type": String(answer.headers["content-type"] ?? "application/json"),
      });
    } catch (error) {
      failUpstream(error, fail, upstream, "connect");
    }
  }

  return {
    handle,
    async close() {
      stopListening?.();
      for (const controller of inFlight) controller.abort();
      await Promise.allSettled(upstreams.map((upstream) => upstream.pool.destroy()));
    },
  };
}

/**
 * The Warden agent token in a request: `Authorization: Bearer …` (OpenAI clients) or `x-api-key`
 * (Anthropic clients). Neither header is ever forwarded upstream.
 */
export function wardenTokenFromRequest(request: IncomingMessage): string | null {
  const bearer = /^Bearer\s+(\S+)$/i.exec(request.headers.authorization ?? "")?.[1];
  if (bearer !== undefined) return bearer;
  const apiKey = request.headers["x-api-key"];
  return typeof apiKey === "string" && apiKey !== "" ? apiKey : null;
}

function pickHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of forwardedRequestHeaders) {
    const value = headers[name];
    if (typeof value === "string") picked[name] = value;
  }
  return picked;
}

function passHeaders(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string | string[]> {
  const passed: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && forwardedResponseHeader.test(name)) passed[name] = value;
  }
  return passed;
}

class UpstreamBodyTooLarge extends Error {
  override readonly name = "UpstreamBodyTooLarge";
  constructor(readonly limit: number) {
    super(`upstream body is larger than ${limit} bytes`);
  }
}

class UpstreamEventTooLarge extends Error {
  override readonly name = "UpstreamEventTooLarge";
  constructor(readonly limit: number) {
    super(`upstream stream event is larger than ${limit} bytes`);
  }
}

/** The status and words for an upstream failure, as the client is told it. */
function upstreamFailure(
  error: unknown,
  upstream: string,
  phase: "connect" | "body",
): { status: number; message: string } {
  if (isTimeout(error)) return { status: 504, message: `Upstream "${upstream}" did not answer in time.` };
  if (error instanceof UpstreamBodyTooLarge)
    return { status: 502, message: `Upstream "${upstream}" answered with more than ${error.limit} bytes.` };
  if (error instanceof UpstreamEventTooLarge)
    return {
      status: 502,
      message: `Upstream "${upstream}" sent a stream event larger than ${error.limit} bytes.`,
    };
  if (error instanceof MalformedUpstreamEvent)
    return { status: 502, message: `Upstream "${upstream}" sent a malformed stream event.` };
  return phase === "connect"
    ? { status: 502, message: `Upstream "${upstream}" could not be reached.` }
    : { status: 502, message: `Upstream "${upstream}" broke off its answer part way.` };
}

function parseJsonOrText(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function isTimeout(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return (
    code === "UND_ERR_HEADERS_TIMEOUT" ||
    code === "UND_ERR_BODY_TIMEOUT" ||
    code === "UND_ERR_CONNECT_TIMEOUT"
  );
}

function describeIssues(issues: readonly { path: PropertyKey[]; message: string }[]): string {
  return issues.map((issue) => `${formatPath(issue.path, "(body)")}: ${issue.message}`).join("; ");
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  sendText(response, status, JSON.stringify(body), {});
}

function sendText(
  response: ServerResponse,
  status: number,
  text: string,
  headers: Record<string, string | string[]>,
): void {
  if (response.headersSent || response.destroyed) return;
  response.writeHead(status, {
    "content-type": "application/json",
    ...headers,
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/** Reads at most `maxBytes`, then drains the rest unread; UTF-8 that does not decode is refused as not JSON. */
async function readBody(request: IncomingMessage, maxBytes: number): Promise<string | "too-large"> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= maxBytes) chunks.push(chunk as Buffer);
  }
  if (size > maxBytes) return "too-large";
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    return "\u0000"; // not UTF-8: fails JSON parsing with a 400
  }
}

async function readUpstreamBody(body: Dispatcher.ResponseData["body"], maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      body.destroy();
      throw new UpstreamBodyTooLarge(maxBytes);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}
