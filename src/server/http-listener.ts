import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Logger } from "../core/logger.js";
import type { McpHttpHandler } from "../mcp/index.js";

export interface HttpListener {
  readonly url: string;
  close(): Promise<void>;
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { "content-type": "application/json", "cache-control": "no-store" });
  response.end(JSON.stringify(body));
}

/**
 * The daemon's HTTP listener: Streamable HTTP MCP at /mcp/NAME. Requests whose Host is not an
 * expected one are refused (DNS rebinding), and so are browser requests from another origin.
 */
export async function startHttpListener(options: {
  host: string;
  port: number;
  allowedHosts?: string[];
  mcpServers: Map<string, McpHttpHandler>;
  /** The model gateway: answers `/v1/...` and returns false for anything else. */
  gateway?: { handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> };
  /** The reviewer API (/api/...) and the dashboard (/, /web/...): answers its paths and returns false for others. */
  api?: { handle(request: IncomingMessage, response: ServerResponse): Promise<boolean> };
  logger: Logger;
}): Promise<HttpListener> {
  let allowedHosts = new Set<string>(options.allowedHosts ?? []);
  const server = http.createServer((request: IncomingMessage, response: ServerResponse) => {
    const host = request.headers.host ?? "";
    if (!allowedHosts.has(host)) {
      sendJson(response, 421, { error: { code: "forbidden", message: `unexpected Host header "${host}"` } });
      return;
    }
    const origin = request.headers.origin;
    if (origin !== undefined && origin !== `http://${host}`) {
      sendJson(response, 403, { error: { code: "forbidden", message: "cross-origin requests are refused" } });
      return;
    }
    const url = new URL(request.url ?? "/", `http://${host}`);
    if (url.pathname === "/healthz") {
      sendJson(response, 200, { ok: true });
      return;
    }
    if (options.api && (url.pathname === "/" || /^\/(api|web)(\/|$)/.test(url.pathname))) {
      options.api
        .handle(request, response)
        .then((handled) => {
          if (!handled)
            sendJson(response, 404, { error: { code: "not-found", message: `no route ${url.pathname}` } });
        })
        .catch((error: Error) => {
          options.logger.error({ error: error.message }, "API request failed");
          if (!response.headersSent)
            sendJson(response, 500, { error: { code: "internal", message: "internal error" } });
          else response.destroy();
        });
      return;
    }
    if (options.gateway && url.pathname.startsWith("/v1/")) {
      options.gateway.handle(request, response).catch((error: Error) => {
        options.logger.error({ error: error.message }, "gateway request failed");
        if (!response.headersSent)
          sendJson(response, 500, { error: { code: "internal", message: "internal error" } });
        else response.destroy();
      });
      return;
    }
    const match = /^\/mcp\/([A-Za-z0-9_-]{1,64})\/?$/.exec(url.pathname);
    const handler = match ? options.mcpServers.get(match[1]!) : undefined;
    if (!handler) {
      sendJson(response, 404, { error: { code: "not-found", message: `no route ${url.pathname}` } });
      return;
    }
    handler.handle(request, response).catch((error: Error) => {
      options.logger.error({ error: error.message }, "MCP HTTP request failed");
      if (!response.headersSent)
        sendJson(response, 500, { error: { code: "internal", message: "internal error" } });
      else response.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  if (!options.allowedHosts)
    allowedHosts = new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
  return {
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
