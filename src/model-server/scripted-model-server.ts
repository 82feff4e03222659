import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { WardenError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { anthropicMessagesFormat } from "./anthropic-messages-format.js";
import { type CompiledScript, compileScript, type ResolvedReply, resolveReply } from "./compile-script.js";
import { conversationFacts } from "./conversation.js";
import { openAiChatFormat } from "./openai-chat-format.js";
import { openAiResponsesFormat } from "./openai-responses-format.js";
import { parseScript, validateScript } from "./parse-script.js";
import type { Script, ScriptApi } from "./script-schema.js";
import { seededUniform } from "./seeded-uniform.js";
import { conversationTokens, type ReplyContext, type ReplyError, type WireFormat } from "./wire-format.js";

export interface ScriptedModelServerOptions {
  /** The script, or the path of a YAML script file (read once, at start). */
  script: Script | string;
  /** 0 (the default) picks a free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Seed for the script's choices; overrides the script's own `seed`. */
  seed?: number;
  logger?: Logger;
  /** Keep every request in `requests` (default true); turn off for long benchmarks. */
  recordRequests?: boolean;
}

export interface RecordedRequest {
  /** Position among the model requests this server has answered from the script (0-based); it seeds the choices. Null for requests that never reached the script. */
  sequence: number | null;
  api: ScriptApi | null;
  method: string;
  /** Path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; the raw text if it was not JSON; undefined if there was none. */
  body: unknown;
  receivedAt: Date;
  /** 0 while the reply is still being sent. */
  status: number;
  /** The rule that gave the reply (its name, or `rules[i]`), `default`, or null if none was consulted. */
  rule: string | null;
  /** The alternatives taken in the rule's choices (names, or 1-based positions), outermost first. */
  alternatives: string[];
}

export interface ScriptedModelServer {
  /** `http://host:port`. OpenAI clients use `${url}/v1` as the base URL; Anthropic clients use `url`. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const maximumBodyBytes = 32 * 1024 * 1024;

const formatsByPath = new Map<string, WireFormat>([
  ["/v1/chat/completions", openAiChatFormat],
  ["/v1/responses", openAiResponsesFormat],
  ["/v1/messages", anthropicMessagesFormat],
]);

/**
 * Starts the scripted model server: a Warden test instrument that speaks the OpenAI Chat
 * Completions, OpenAI Responses and Anthropic Messages wire formats (streaming and not) and
 * answers from a script instead of a model. Every reply is labelled: the model is
 * `scripted:<requested model>`, ids carry `scripted`, and every response has the header
 * `x-warden-scripted: true`.
 *
 * @example
 * const server = await startScriptedModelServer({ script: "persona.yaml", seed: 7 });
 * const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
 * await server.close();
 */
export async function startScriptedModelServer(
  options: ScriptedModelServerOptions,
): Promise<ScriptedModelServer> {
  const script = await loadScript(options.script);
  const seed = options.seed ?? script.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 32 - 1) {
    throw new WardenError("config-invalid", `seed must be an integer from 0 to 2^32-1, got ${seed}`);
  }
  const state: ServerState = {
    script,
    seed,
    logger: options.logger,
    record: options.recordRequests ?? true,
    requests: [],
    instance: randomBytes(4).readUInt32BE(0).toString(36),
    requestCount: 0,
    sequence: 0,
    inFlight: new Set(),
  };
  const server = createServer({ keepAliveTimeout: 10_000 }, (request, response) => {
    handle(state, request, response).catch((error: unknown) => {
      state.logger?.error({ err: error }, "scripted model server failed to answer a request");
      if (!response.headersSent)
        sendJson(response, 500, { error: { message: "internal error", type: "server_error" } });
      else response.destroy();
    });
  });
  const host = options.host ?? "127.0.0.1";
  server.listen(options.port ?? 0, host);
  await once(server, "listening");
  const port = (server.address() as AddressInfo).port;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  state.logger?.info(
    { url, script: script.name, seed },
    "scripted model server listening (a test instrument, not a model)",
  );
  return {
    url,
    port,
    requests: state.requests,
    close: async () => {
      for (const controller of state.inFlight) controller.abort();
      const closed = new Promise<void>((resolve, reject) =>
        server.close((error) => (error ? reject(error) : resolve())),
      );
      server.closeAllConnections();
      await closed;
    },
  };
}

interface ServerState {
  script: CompiledScript;
  seed: number;
  logger: Logger | undefined;
  record: boolean;
  requests: RecordedRequest[];
  /** Random per server, so ids stay unique across servers. */
  instance: string;
  requestCount: number;
  sequence: number;
  inFlight: Set<AbortController>;
}

async function loadScript(script: Script | string): Promise<CompiledScript> {
  const result =
    typeof script === "string" ? parseScript(await readFile(script, "utf8"), script) : validateScript(script);
  if (!result.ok) {
    const source = typeof script === "string" ? script : "the model script";
    throw new WardenError("config-invalid", `${source} has problems:\n${result.problems.join("\n")}`, {
      details: { problems: result.problems },
    });
  }
  const compiled = compileScript(result.script);
  if (!compiled.ok) throw new WardenError("config-invalid", "the model script does not compile");
  return compiled.compiled;
}

async function handle(state: ServerState, request: IncomingMessage, response: ServerResponse): Promise<void> {
  const token = `${state.instance}x${(state.requestCount++).toString(36)}`;
  const path = (request.url ?? "/").split("?", 1)[0] ?? "/";
  const anthropicClient = request.headers["anthropic-version"] !== undefined;
  const format = formatsByPath.get(path);
  response.setHeader("x-warden-scripted", "true");
  response.setHeader(
    anthropicClient || format === anthropicMessagesFormat ? "request-id" : "x-request-id",
    `req_scripted_${token}`,
  );

  const record: RecordedRequest = {
    sequence: null,
    api: format?.api ?? null,
    method: request.method ?? "GET",
    path,
    headers: request.headers,
    body: undefined,
    receivedAt: new Date(),
    status: 0,
    rule: null,
    alternatives: [],
  };
  if (state.record) state.requests.push(record);
  const finish = (status: number, body: unknown) => {
    record.status = status;
    sendJson(response, status, body);
  };
  const errorFormat = format ?? (anthropicClient ? anthropicMessagesFormat : openAiChatFormat);
  const fail = (error: ReplyError) =>
    finish(error.status, errorFormat.errorBody(error, `req_scripted_${token}`));

  if (request.method === "GET" && (path === "/v1/models" || path.startsWith("/v1/models/"))) {
    await drain(request);
    const id = path === "/v1/models" ? undefined : decodeURIComponent(path.slice("/v1/models/".length));
    return finish(200, modelsBody(state.script, anthropicClient, id));
  }
  if (format === undefined || request.method !== "POST") {
    await drain(request);
    return fail({
      status: 404,
      type: anthropicClient ? "not_found_error" : "invalid_request_error",
      message: `The scripted model server has no ${request.method} ${path}; it serves POST /v1/chat/completions, POST /v1/responses, POST /v1/messages and GET /v1/models.`,
    });
  }

  const text = await readBody(request);
  if (text === undefined)
    return fail({ status: 413, message: `Request bodies are limited to ${maximumBodyBytes} bytes.` });
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    record.body = text;
    return fail({
      status: 400,
      message:
        format === anthropicMessagesFormat
          ? "There was an issue with your request body: it is not valid JSON."
          : "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly.)",
    });
  }
  record.body = body;
  const read = format.readRequest(body);
  if (!read.ok) return fail(read.error);

  const conversation = read.conversation;
  const sequence = state.sequence++;
  record.sequence = sequence;
  const facts = conversationFacts(conversation);
  const rule = state.script.rules.find((candidate) => candidate.applies(facts));
  const reply = resolveReply(rule?.reply ?? state.script.defaultReply, (draw) =>
    seededUniform(state.seed, sequence, draw),
  );
  record.rule = rule?.name ?? "default";
  record.alternatives = reply.alternatives;
  state.logger?.debug(
    { api: format.api, sequence, rule: record.rule, alternatives: reply.alternatives },
    "scripted reply",
  );

  const controller = new AbortController();
  state.inFlight.add(controller);
  response.once("close", () => {
    if (!response.writableFinished) controller.abort();
    state.inFlight.delete(controller);
  });
  if (reply.firstByteMs > 0 && !(await pause(reply.firstByteMs, controller.signal)))
    return abandon(record, response);

  if (reply.error !== undefined) return fail(reply.error);
  const context: ReplyContext = {
    token,
    created: Math.floor(Date.now() / 1000),
    model: labelModel(conversation.model),
    inputTokens: conversationTokens(conversation),
    conversation,
    body: body as Record<string, unknown>,
  };
  if (!conversation.stream) return finish(200, format.replyBody(reply, context));
  record.status = 200;
  await stream(response, format.replyEvents(reply, context), reply, controller.signal);
  if (controller.signal.aborted) abandon(record, response);
}

async function stream(
  response: ServerResponse,
  frames: string[],
  reply: ResolvedReply,
  signal: AbortSignal,
): Promise<void> {
  response.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache",
  });
  if (reply.betweenChunksMs === 0) {
    response.end(frames.join(""));
    return;
  }
  for (const [index, frame] of frames.entries()) {
    if (index > 0 && !(await pause(reply.betweenChunksMs, signal))) return;
    if (!response.write(frame)) await once(response, "drain", { signal }).catch(() => undefined);
    if (signal.aborted) return;
  }
  response.end();
}

/** Waits; false if the client went away (or the server is closing) meanwhile. */
async function pause(milliseconds: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(milliseconds, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

function abandon(record: RecordedRequest, response: ServerResponse): void {
  if (record.status === 0) record.status = 499;
  if (!response.writableEnded) response.destroy();
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(json),
  });
  response.end(json);
}

async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  // An oversized body is still read to its end (and dropped), so the 413 reaches the client.
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size <= maximumBodyBytes) chunks.push(chunk as Buffer);
  }
  return size > maximumBodyBytes ? undefined : Buffer.concat(chunks).toString("utf8");
}

async function drain(request: IncomingMessage): Promise<void> {
  for await (const _chunk of request) {
    // discard
  }
}

function labelModel(model: string): string {
  return model.startsWith("scripted:") ? model : `scripted:${model}`;
}

function modelsBody(script: CompiledScript, anthropic: boolean, id: string | undefined): unknown {
  const ids = id === undefined ? script.models.map(labelModel) : [labelModel(id)];
  const models = ids.map((modelId) =>
    anthropic
      ? {
          type: "model",
          id: modelId,
          display_name: `${modelId} (scripted test model)`,
          created_at: "2025-01-01T00:00:00Z",
        }
      : { id: modelId, object: "model", created: 1735689600, owned_by: "warden-scripted" },
  );
  if (id !== undefined) return models[0];
  return anthropic
    ? { data: models, has_more: false, first_id: ids[0] ?? null, last_id: ids.at(-1) ?? null }
    : { object: "list", data: models };
}
