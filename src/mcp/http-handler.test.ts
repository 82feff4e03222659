import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { CreateMessageRequestSchema } from "@modelcontextprotocol/sdk/types.js";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { FakeOversight } from "../../test/fixtures/mcp/fake-oversight.js";
import { silentLogger } from "../core/logger.js";
import { createMcpHttpHandler, type McpHttpHandler } from "./index.js";

const require = createRequire(import.meta.url);
const filesystemServer = require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
const everythingServer = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");

const tokens: Record<string, string> = { "token-a": "agent-a", "token-b": "agent-b" };

let workspace: string;
let server: Server;
let handler: McpHttpHandler;
let url: URL;
const clients: Client[] = [];

beforeEach(() => {
  workspace = mkdtempSync(path.join(tmpdir(), "warden-mcp-http-"));
});

afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => {});
  await handler?.close();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  rmSync(workspace, { recursive: true, force: true });
});

async function serve(
  oversight: FakeOversight,
  upstream: "filesystem" | "everything" = "filesystem",
): Promise<void> {
  handler = createMcpHttpHandler({
    serverName: upstream,
    command: process.execPath,
    args: upstream === "filesystem" ? [filesystemServer, workspace] : [everythingServer],
    oversight,
    logger: silentLogger(),
    authenticate: (request) => {
      const agentId = tokens[request.headers.authorization?.replace(/^Bearer /, "") ?? ""];
      return agentId ? { agentId } : null;
    },
  });
  server = createServer((request, response) => void handler.handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp/${upstream}`);
}

async function connect(token: string, capabilities: ConstructorParameters<typeof Client>[1] = {}) {
  const client = new Client({ name: "warden-http-test", version: "1.0.0" }, capabilities);
  const transport = new StreamableHTTPClientTransport(url, {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  clients.push(client);
  return { client, transport };
}

function post(body: string, headers: Record<string, string> = {}) {
  return fetch(url, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      accept: "application/json, text/event-stream",
      authorization: "Bearer token-a",
      ...headers,
    },
    body,
  });
}

describe("the Streamable HTTP handler", () => {
  it("decides calls with the authenticated agent's identity and denies them like the stdio bridge", async () => {
    const oversight = new FakeOversight();
    oversight.decide = (request) =>
      request.tool === "write_file"
        ? { effect: "deny", callId: "c2", ruleId: "no-writes", message: "Writes need a reviewed change set." }
        : { effect: "allow", callId: "c1" };
    await serve(oversight);
    const { client } = await connect("token-a");
    const listed = await client.callTool({ name: "list_allowed_directories", arguments: {} });
    expect(listed.isError).toBeFalsy();
    const target = path.join(workspace, "denied.txt");
    const denied = await client.callTool({ name: "write_file", arguments: { path: target, content: "x" } });
    expect(denied.isError).toBe(true);
    expect(denied.content).toEqual([
      { type: "text", text: 'Denied by rule "no-writes": Writes need a reviewed change set.' },
    ]);
    expect(existsSync(target)).toBe(false);
    expect(oversight.calls.map((call) => call.agentId)).toEqual(["agent-a", "agent-a"]);
    expect(oversight.results).toEqual([expect.objectContaining({ callId: "c1", isError: false })]);
  });

  it("answers 401 to a caller it cannot authenticate", async () => {
    await serve(new FakeOversight());
    const response = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      authorization: "Bearer wrong",
    });
    expect(response.status).toBe(401);
  });

  it("answers another agent's session id as if the session did not exist", async () => {
    await serve(new FakeOversight());
    const { transport } = await connect("token-a");
    const response = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      authorization: "Bearer token-b",
      "mcp-session-id": transport.sessionId!,
      "mcp-protocol-version": "2025-11-25",
    });
    expect(response.status).toBe(404);
  });

  it("parses bodies strictly and refuses batches", async () => {
    await serve(new FakeOversight());
    const duplicate = await post('{"jsonrpc":"2.0","id":1,"method":"initialize","method":"ping"}');
    expect(duplicate.status).toBe(400);
    expect(await duplicate.json()).toMatchObject({
      id: null,
      error: { code: -32700, message: expect.stringMatching(/duplicate key/) },
    });
    const batch = await post('[{"jsonrpc":"2.0","id":1,"method":"ping"}]');
    expect(batch.status).toBe(400);
    expect(await batch.json()).toMatchObject({ error: { code: -32600 } });
    expect(handler.sessionCount).toBe(0);
  });

  it("delivers a server's sampling request to the agent after deciding it", async () => {
    const oversight = new FakeOversight();
    await serve(oversight, "everything");
    const { client } = await connect("token-a", { capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: "scripted-test-model",
      role: "assistant",
      content: { type: "text", text: "sampled over http" },
    }));
    const result = await client.callTool({
      name: "trigger-sampling-request",
      arguments: { prompt: "hi", maxTokens: 5 },
    });
    expect(JSON.stringify(result)).toContain("sampled over http");
    expect(oversight.calls.map((call) => call.method)).toEqual(["tools/call", "sampling/createMessage"]);
  });

  it("stops the session's upstream server when the agent ends the session", async () => {
    await serve(new FakeOversight());
    const { transport } = await connect("token-a");
    expect(handler.sessionCount).toBe(1);
    await transport.terminateSession();
    await expect.poll(() => handler.sessionCount).toBe(0);
  });
});
