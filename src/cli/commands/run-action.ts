import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { WardenError } from "../../core/errors.js";
import { newSpanId, newTraceId } from "../../core/ids.js";
import { openSandboxSession } from "../../sandbox/index.js";
import { dataDirFrom } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printChangeSetAnswer } from "./changes-output.js";
import type { RunOptions } from "./run.js";

const failedExitCode = 125;
const timedOutExitCode = 124;
/** Where the relay's socket, its script and the MCP config appear inside, and a Node binary beside. */
const insideDirectory = "/run/warden";
const nodeInside = "/run/warden-node";

/**
 * Inside the sandbox: listens on 127.0.0.1:PORT and pipes every connection to Warden's Unix
 * socket, then runs the agent and exits with its status. Loopback is the sandbox's own (its
 * network namespace has nothing else), so this relay is the agent's only way out.
 */
const relayScript = `
const net = require("node:net");
const { spawn } = require("node:child_process");
const [port, ...command] = process.argv.slice(2);
const server = net.createServer((client) => {
  const upstream = net.connect("${insideDirectory}/gateway.sock");
  client.pipe(upstream);
  upstream.pipe(client);
  client.on("error", () => upstream.destroy());
  upstream.on("error", () => client.destroy());
});
server.listen(Number(port), "127.0.0.1", () => {
  const agent = spawn(command[0], command.slice(1), { stdio: "inherit" });
  agent.on("error", (error) => {
    process.stderr.write("warden run: cannot start " + command[0] + ": " + error.message + "\\n");
    process.exit(error.code === "ENOENT" ? 127 : 126);
  });
  agent.on("exit", (code, signal) => process.exit(code ?? 128 + (require("node:os").constants.signals[signal] ?? 0)));
});
`;

export async function runAgent(command: string[], options: RunOptions): Promise<number> {
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new WardenError("usage", `--timeout must be a positive number of seconds, not ${options.timeout}`);
  const dataDir = dataDirFrom(options);
  let daemon: Awaited<ReturnType<typeof connectAsOperator>> | undefined;
  const relayDirectory = mkdtempSync(path.join(tmpdir(), "warden-run-"));
  let hostRelay: net.Server | undefined;
  try {
    daemon = await connectAsOperator(dataDir);
    const status = await daemon.call<{ httpUrl: string | null; mcpServers?: string[] }>("status");
    if (!status.httpUrl)
      throw new WardenError(
        "usage",
        "the running daemon has no HTTP listener (it was started with --socket-only); start `warden up` without it",
      );
    const upstream = new URL(status.httpUrl);
    const port = Number(upstream.port);
    const { token } = await daemon.call<{ token: string }>("tokens-create", { agentId: options.agent });

    const socketPath = path.join(relayDirectory, "gateway.sock");
    hostRelay = net.createServer((client) => {
      const connection = net.connect(port, upstream.hostname);
      client.pipe(connection);
      connection.pipe(client);
      client.on("error", () => connection.destroy());
      connection.on("error", () => client.destroy());
    });
    await new Promise<void>((resolve, reject) => {
      hostRelay?.once("error", reject);
      hostRelay?.listen(socketPath, resolve);
    });
    writeFileSync(path.join(relayDirectory, "relay.cjs"), relayScript);
    const insideUrl = `http://127.0.0.1:${port}`;
    const mcpServers = Object.fromEntries(
      (status.mcpServers ?? []).map((name) => [
        name,
        { type: "http", url: `${insideUrl}/mcp/${name}`, headers: { Authorization: `Bearer ${token}` } },
      ]),
    );
    writeFileSync(path.join(relayDirectory, "mcp.json"), `${JSON.stringify({ mcpServers }, null, 2)}\n`);

    const session = openSandboxSession({ workspace: options.workspace ?? process.cwd(), dataDir });
    const environment: Record<string, string> = {
      ...passedEnvironment(options.env),
      OPENAI_BASE_URL: `${insideUrl}/v1`,
      ANTHROPIC_BASE_URL: insideUrl,
      OPENAI_API_KEY: token,
      ANTHROPIC_API_KEY: token,
      WARDEN_URL: insideUrl,
      WARDEN_TOKEN: token,
      WARDEN_MCP_CONFIG: `${insideDirectory}/mcp.json`,
      WARDEN_NODE: nodeInside,
    };
    const execution = await session.execute(
      [nodeInside, `${insideDirectory}/relay.cjs`, String(port), ...command],
      {
        limits: { timeoutMs: seconds * 1000, cpuSeconds: Math.ceil(seconds) },
        environment,
        interactive: true,
        readOnlyBinds: [
          { source: relayDirectory, target: insideDirectory },
          { source: process.execPath, target: nodeInside },
        ],
      },
    );
    if (execution.timedOut)
      report(`timed out after ${seconds} s; the agent and everything it started were killed`);
    const code = execution.timedOut ? timedOutExitCode : execution.exitCode;
    const answer = await daemon.call("sandbox-change-set", {
      identity: {
        agentId: options.agent,
        sessionId: `run:${session.id}`,
        traceId: newTraceId(),
        spanId: newSpanId(),
      },
      workspace: session.workspace,
      sandboxSessionId: session.id,
      commandStartedAtCtimeNs: execution.commandStartedAtCtimeNs,
      run: {
        command,
        exitCode: code,
        timedOut: execution.timedOut,
        durationMs: execution.durationMs,
        stdoutBytes: 0,
        stderrBytes: 0,
        droppedBytes: 0,
      },
      review: false,
    });
    printChangeSetAnswer(answer as never, { diffs: false });
    return code;
  } catch (error) {
    if (!WardenError.isInstance(error)) throw error;
    report(error.message);
    return failedExitCode;
  } finally {
    hostRelay?.close();
    daemon?.close();
    rmSync(relayDirectory, { recursive: true, force: true });
  }
}

function passedEnvironment(specifications: readonly string[]): Record<string, string> {
  const environment: Record<string, string> = {};
  for (const specification of specifications) {
    const equals = specification.indexOf("=");
    if (equals > 0) environment[specification.slice(0, equals)] = specification.slice(equals + 1);
    else {
      const value = process.env[specification];
      if (value !== undefined) environment[specification] = value;
    }
  }
  return environment;
}

function report(text: string): void {
  process.stderr.write(`warden: ${text}\n`);
}
