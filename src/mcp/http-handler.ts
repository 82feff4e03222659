import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import path from "node:path";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import { errorMessage } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import type { Oversight } from "../core/oversight.js";
import { parseStrictJson } from "../core/strict-json.js";
import { createOversightProxy, type OversightProxy, type TrafficEvent } from "./oversight-proxy.js";
import { DEFAULT_MAX_MESSAGE_BYTES } from "./strict-stdio-transport.js";

export interface McpHttpHandlerOptions {
  serverName: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: Record<string, string>;
  oversight: Oversight;
  logger: Logger;
  /**
   * Who is calling, from the request (e.g. its bearer token); `null` answers 401. A session
   * stays bound to the agent that opened it: a session id alone is not a credential.
   */
  authenticate(request: IncomingMessage): { agentId: string } | null | Promise<{ agentId: string } | null>;
  /** Largest request body accepted, in bytes; default 4 MiB. */
  maxMessageBytes?: number;
  /** Sessions open at once (each runs its own upstream process); default 32. */
  maxSessions?: number;
  onTraffic?: (event: TrafficEvent) => void;
}

export interface McpHttpHandler {
  /** Serves one HTTP request of the MCP Streamable HTTP transport (POST, GET, DELETE). */
  handle(request: IncomingMessage, response: ServerResponse): Promise<void>;
  /** Ends every session and stops its upstream server. */
  close(): Promise<void>;
  readonly sessionCount: number;
}

interface Session {
  agentId: string;
  transport: StreamableHTTPServerTransport;
  proxy: OversightProxy;
}

/**
 * Serves an upstream MCP server over Streamable HTTP (MCP spec 2025-11-25, basic/transports),
 * with the same interception as the stdio bridge. Each MCP session gets its own upstream
 * process, so sessions never share JSON-RPC ids or server state. Bodies are parsed strictly
 * here and handed to the SDK transport already parsed.
 *
 * @example
 * const mcp = createMcpHttpHandler({ serverName: "files", command: "mcp-server-filesystem",
 *   args: ["/srv/work"], oversight, logger, authenticate: (request) => agentFromToken(request) });
 * http.createServer((request, response) => void mcp.handle(request, response));
 */
export function createMcpHttpHandler(options: McpHttpHandlerOptions): McpHttpHandler {
  const sessions = new Map<string, Session>();
  const maxMessageBytes = options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  const maxSessions = options.maxSessions ?? 32;
  let starting = 0;

  async function openSession(agentId: string): Promise<Session> {
    const upstream = new StdioClientTransport({
      command: options.command,
      args: options.args,
      cwd: options.cwd,
      env: options.env,
      stderr: "pipe",
    });
    upstream.stderr?.on("data", (chunk: Buffer) => {
      options.logger.debug(
        { server: options.serverName, stderr: chunk.toString("utf8").trimEnd() },
        "upstream stderr",
      );
    });
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (sessionId) => {
        sessions.set(sessionId, session);
      },
    });
    const proxy = createOversightProxy({
      serverName: options.serverName,
      workingDirectory: path.resolve(options.cwd ?? process.cwd()),
      agent: transport,
      upstream,
      oversight: options.oversight,
      agentId,
      logger: options.logger,
      onTraffic: options.onTraffic,
    });
    const session: Session = { agentId, transport, proxy };
    void proxy.closed.then(() => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    });
    await proxy.start();
    return session;
  }

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const caller = await options.authenticate(request);
    if (caller === null) {
      response.setHeader("www-authenticate", "Bearer"); // RFC 6750 §3
      return reply(response, 401, -32000, "Unauthorized");
    }
    let body: unknown;
    if (request.method === "POST") {
      const read = await readBody(request, maxMessageBytes);
      if (read === "too-large") {
        return reply(
          response,
          413,
          ErrorCode.InvalidRequest,
          `message is larger than ${maxMessageBytes} bytes`,
        );
      }
      try {
        body = parseStrictJson(new TextDecoder("utf-8", { fatal: true }).decode(read), maxMessageBytes);
      } catch (error) {
        return reply(response, 400, ErrorCode.ParseError, `Parse error: ${errorMessage(error)}`);
      }
      // Batching left MCP in 2025-06-18; one message per request keeps one decision per POST.
      if (Array.isArray(body)) {
        return reply(
          response,
          400,
          ErrorCode.InvalidRequest,
          "Invalid Request: JSON-RPC batches are not supported",
        );
      }
    }
    const sessionId = request.headers["mcp-session-id"];
    if (typeof sessionId === "string") {
      const session = sessions.get(sessionId);
      // Another agent's session is answered exactly like one that does not exist.
      if (session === undefined || session.agentId !== caller.agentId) {
        return reply(response, 404, -32001, "Session not found");
      }
      await session.transport.handleRequest(request, response, body);
      return;
    }
    if (request.method !== "POST" || (body as { method?: unknown }).method !== "initialize") {
      return reply(response, 400, -32000, "Bad Request: Mcp-Session-Id header is required");
    }
    if (sessions.size + starting >= maxSessions) {
      return reply(response, 503, -32000, "Too many MCP sessions are open; close one and retry");
    }
    let session: Session;
    starting++;
    try {
      session = await openSession(caller.agentId);
    } catch (error) {
      options.logger.error(
        { server: options.serverName, error: errorMessage(error) },
        "could not start the upstream server",
      );
      return reply(response, 502, -32000, `Could not start MCP server "${options.serverName}"`);
    } finally {
      starting--;
    }
    await session.transport.handleRequest(request, response, body);
    if (session.transport.sessionId === undefined) await session.proxy.close();
  }

  return {
    handle,
    get sessionCount() {
      return sessions.size;
    },
    async close() {
      await Promise.allSettled([...sessions.values()].map((session) => session.proxy.close()));
    },
  };
}

function reply(response: ServerResponse, status: number, code: number, message: string): void {
  response.writeHead(status, { "content-type": "application/json" });
  response.end(JSON.stringify({ jsonrpc: "2.0", id: null, error: { code, message } }));
}

/** Reads at most `maxBytes`; past that the rest is drained unread so memory stays bounded. */
function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | "too-large"> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        if (!tooLarge) resolve("too-large");
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (!tooLarge) resolve(Buffer.concat(chunks));
    });
    request.on("error", reject);
  });
}
