import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  createAgentToken,
  createSandbox,
  filesystemServer,
  readLog,
  runWarden,
  type Sandbox,
  textOf,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

// Full path: `warden up --config` with per-agent tool manifests, the real filesystem MCP server
// behind /mcp/files, and agents calling it with the official MCP client.

let sandbox: Sandbox | null = null;
let daemon: ChildProcess | null = null;
afterEach(() => {
  daemon?.kill("SIGTERM");
  daemon = null;
  sandbox?.cleanup();
  sandbox = null;
});

function writeConfig(target: Sandbox, detection: string): string {
  const configPath = path.join(target.root, "warden.yaml");
  writeFileSync(
    configPath,
    `version: 1
policy: constitution.yaml
listen: { port: 0 }
mcpServers:
  files:
    command: ${JSON.stringify(process.execPath)}
    args: [${JSON.stringify(filesystemServer)}, ${JSON.stringify(target.workspace)}]
${detection}`,
  );
  return configPath;
}

async function connect(baseUrl: string, token: string): Promise<Client> {
  const client = new Client({ name: "manifest-test-agent", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${baseUrl}/mcp/files`), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe("per-agent tool manifests in the config (the real binary)", () => {
  it("records a high finding for a call outside the agent's manifest, and none for calls inside it", async () => {
    sandbox = createSandbox("version: 1\ndefault: allow\nrules: []\n");
    const configPath = writeConfig(
      sandbox,
      `detection:
  manifests:
    "reader-*": [files/read_text_file, "files/list_*"]
    reader-admin: ["*"]
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
    const baseUrl = await waitFor(() => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1], 30_000);
    writeFileSync(path.join(sandbox.workspace, "notes.txt"), "notes");

    const reader = await connect(baseUrl, createAgentToken(sandbox.dataDir, "reader-1"));
    const read = await reader.callTool({
      name: "read_text_file",
      arguments: { path: path.join(sandbox.workspace, "notes.txt") },
    });
    expect(textOf(read)).toBe("notes");
    await reader.callTool({ name: "list_directory", arguments: { path: sandbox.workspace } });
    // Quiet misuse: the write is allowed by the constitution, but no reader declared it.
    await reader.callTool({
      name: "write_file",
      arguments: { path: path.join(sandbox.workspace, "planted.txt"), content: "x" },
    });
    await reader.close();
    const admin = await connect(baseUrl, createAgentToken(sandbox.dataDir, "reader-admin"));
    await admin.callTool({
      name: "write_file",
      arguments: { path: path.join(sandbox.workspace, "admin.txt"), content: "x" },
    });
    await admin.close();

    const findings = await waitFor(() => {
      const found = readLog(sandbox!.dataDir, ["--type", "finding"]).filter(
        (event) => event.data.detector === "unexpected-tool" && event.data.kind === "outside-manifest",
      );
      return found.length > 0 ? found : null;
    }, 30_000);
    // Give the detectors a moment for the admin's call, which must not be reported.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const all = readLog(sandbox.dataDir, ["--type", "finding"]).filter(
      (event) => event.data.kind === "outside-manifest",
    );
    expect(all).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      agentId: "reader-1",
      data: { severity: "high", tool: "files/write_file" },
    });
  }, 60_000);

  it("refuses a config whose manifests are malformed, one path: message line per problem", () => {
    sandbox = createSandbox("version: 1\ndefault: allow\nrules: []\n");
    const configPath = writeConfig(
      sandbox,
      `detection:
  manifests:
    "bad agent": [files/read_text_file]
    reader: ["read file", 3]
`,
    );
    const result = runWarden(["up", "--data-dir", sandbox.dataDir, "--config", configPath]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/detection\.manifests\.bad agent: must be an agent id/);
    expect(result.stderr).toMatch(/detection\.manifests\.reader\[0\]: must be TOOL or SERVER\/TOOL/);
    expect(result.stderr).toMatch(/detection\.manifests\.reader\[1\]: expected string, got number/);
  });
});
