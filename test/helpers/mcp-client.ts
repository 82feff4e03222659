import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

export const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
export const wardenBinary = path.join(projectRoot, "bin", "warden.js");
const require = createRequire(import.meta.url);
export const filesystemServer = require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
export const everythingServer = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");
export const changingToolsServer = path.join(projectRoot, "test", "fixtures", "changing-tools-server.mjs");

export interface Sandbox {
  root: string;
  dataDir: string;
  workspace: string;
  policyPath: string;
  writePolicy(yaml: string): void;
  cleanup(): void;
}

/** A temp directory with a workspace, a data directory and a constitution file. */
export function createSandbox(policy: string, options: { dataDirInWorkspace?: boolean } = {}): Sandbox {
  const root = mkdtempSync(path.join(tmpdir(), "warden-test-"));
  const workspace = path.join(root, "workspace");
  mkdirSync(workspace);
  const dataDir = options.dataDirInWorkspace ? path.join(workspace, ".warden") : path.join(root, "state");
  const policyPath = path.join(root, "constitution.yaml");
  writeFileSync(policyPath, policy);
  return {
    root,
    dataDir,
    workspace,
    policyPath,
    writePolicy: (yaml) => writeFileSync(policyPath, yaml),
    cleanup() {
      runWarden(["down", "--data-dir", dataDir]);
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export function runWarden(args: string[], options: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  const result = spawnSync(process.execPath, [wardenBinary, ...args], {
    encoding: "utf8",
    input: options.input ?? "",
    env: { ...process.env, WARDEN_NO_PAGER: "1", ...options.env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** An MCP client (the official SDK) connected to an upstream server through `warden mcp`. */
export async function connectThroughWarden(
  sandbox: Sandbox,
  upstream: string[],
  options: { name?: string; agent?: string; session?: string; cwd?: string } = {},
): Promise<Client> {
  const args = [wardenBinary, "mcp", "--data-dir", sandbox.dataDir, "--policy", sandbox.policyPath];
  args.push("--name", options.name ?? "files", "--agent", options.agent ?? "test-agent");
  if (options.session) args.push("--session", options.session);
  args.push("--", ...upstream);
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    cwd: options.cwd ?? sandbox.workspace,
    stderr: "pipe",
  });
  const client = new Client(
    { name: "warden-test-agent", version: "1.0.0" },
    { capabilities: { sampling: {} } },
  );
  await client.connect(transport);
  return client;
}

export function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((part) => part.text ?? "").join("\n");
}

export interface LoggedEvent {
  id: string;
  seq: number;
  type: string;
  sessionId: string;
  agentId: string;
  data: Record<string, unknown>;
}

export function readLog(dataDir: string, extra: string[] = []): LoggedEvent[] {
  const result = runWarden(["log", "--data-dir", dataDir, "--json", ...extra]);
  if (result.code !== 0) throw new Error(`warden log failed: ${result.stderr}`);
  return result.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as LoggedEvent);
}

export async function waitFor<T>(probe: () => T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/**
 * Starts `warden up` for the sandbox on an ephemeral port (extra flags such as `--upstream` after
 * the policy) and resolves to the process and its HTTP base URL.
 */
export async function startWardenUp(
  sandbox: Sandbox,
  extraArgs: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<{ daemon: ChildProcess; baseUrl: string }> {
  const daemon = spawn(
    process.execPath,
    [
      wardenBinary,
      "up",
      "--data-dir",
      sandbox.dataDir,
      "--policy",
      sandbox.policyPath,
      "--port",
      "0",
      ...extraArgs,
    ],
    { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
  );
  let output = "";
  daemon.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  const baseUrl = await waitFor(() => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]);
  return { daemon, baseUrl };
}

/** A new Warden agent token, through `warden tokens create --json`. */
export function createAgentToken(dataDir: string, agentId: string): string {
  const created = runWarden(["tokens", "create", "--agent", agentId, "--data-dir", dataDir, "--json"]);
  return (JSON.parse(created.stdout) as { token: string }).token;
}
