import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createSandbox,
  filesystemServer,
  readLog,
  runWarden,
  type Sandbox,
  textOf,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

let sandbox: Sandbox;
let daemon: ChildProcess;
let baseUrl: string;

beforeAll(async () => {
  sandbox = createSandbox(`version: 1
default: deny
rules:
  - id: reads
    when: 'tool.name == "read_text_file"'
    effect: allow
    rationale: Reading is fine.
`);
  const configPath = path.join(sandbox.root, "warden.yaml");
  writeFileSync(
    configPath,
    `version: 1
policy: constitution.yaml
listen: { port: 0 }
mcpServers:
  files:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(filesystemServer)}, ${JSON.stringify(sandbox.workspace)}]
`,
  );
  daemon = spawn(
    process.execPath,
    [wardenBinary, "up", "--data-dir", sandbox.dataDir, "--config", configPath],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  daemon.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  baseUrl = await waitFor(() => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]);
});

afterAll(() => {
  daemon.kill("SIGTERM");
  sandbox.cleanup();
});

function rawRequest(options: { headers: Record<string, string>; body?: string }): Promise<number> {
  const url = new URL(`${baseUrl}/mcp/files`);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, method: "POST", headers: options.headers },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on("error", reject);
    request.end(options.body ?? "{}");
  });
}

describe("warden up serving MCP over Streamable HTTP at /mcp/NAME", () => {
  it("decides and records calls of an agent identified by its Warden token", async () => {
    const created = runWarden(["tokens", "create", "--agent", "http-agent", "--data-dir", sandbox.dataDir]);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect(token).toMatch(/^wdn_agent_/);
    writeFileSync(path.join(sandbox.workspace, "page.txt"), "served over http");
    const client = new Client({ name: "http-test-agent", version: "1.0.0" });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp/files`), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    const allowed = await client.callTool({
      name: "read_text_file",
      arguments: { path: path.join(sandbox.workspace, "page.txt") },
    });
    expect(textOf(allowed)).toContain("served over http");
    const denied = await client.callTool({
      name: "write_file",
      arguments: { path: path.join(sandbox.workspace, "x"), content: "x" },
    });
    expect(denied.isError).toBe(true);
    expect(textOf(denied)).toContain("default");
    await client.close();
    const calls = readLog(sandbox.dataDir, ["--type", "tool-call"]);
    expect(calls.map((event) => event.agentId)).toEqual(["http-agent", "http-agent"]);
    // The token itself never reaches the record.
    expect(runWarden(["log", "--data-dir", sandbox.dataDir, "--json"]).stdout).not.toContain(token);
  });

  it("refuses requests without a valid agent token", async () => {
    const headers = { "content-type": "application/json", accept: "application/json, text/event-stream" };
    const host = new URL(baseUrl).host;
    expect(await rawRequest({ headers: { ...headers, host } })).toBe(401);
    expect(
      await rawRequest({ headers: { ...headers, host, authorization: "Bearer wdn_agent_not-a-real-token" } }),
    ).toBe(401);
  });

  it("refuses requests with a foreign Host or Origin (DNS rebinding, cross-site pages)", async () => {
    const host = new URL(baseUrl).host;
    expect(await rawRequest({ headers: { host: "evil.example:80" } })).toBe(421);
    expect(await rawRequest({ headers: { host, origin: "http://evil.example" } })).toBe(403);
  });
});
