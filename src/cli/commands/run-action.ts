import { writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { WardenError } from "../../core/errors.js";
import { newSpanId, newTraceId } from "../../core/ids.js";
import { openSandboxSession } from "../../sandbox/index.js";
import {
  createLoopbackRelay,
  type LoopbackRelay,
  nodeInside,
  relayDirectoryInside,
} from "../../sandbox/loopback-relay.js";
import { dataDirFrom } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printChangeSetAnswer } from "./changes-output.js";
import type { RunOptions } from "./run.js";
import { passedEnvironment, plantDecoys, report } from "./sandbox-command.js";

const failedExitCode = 125;
const timedOutExitCode = 124;

export async function runAgent(command: string[], options: RunOptions): Promise<number> {
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new WardenError("usage", `--timeout must be a positive number of seconds, not ${options.timeout}`);
  const dataDir = dataDirFrom(options);
  let daemon: Awaited<ReturnType<typeof connectAsOperator>> | undefined;
  let relay: LoopbackRelay | undefined;
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

    relay = createLoopbackRelay([{ port, socket: "gateway.sock" }]);
    const relayDirectory = relay.directory;
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
    const insideUrl = `http://127.0.0.1:${port}`;
    const mcpServers = Object.fromEntries(
      (status.mcpServers ?? []).map((name) => [
        name,
        { type: "http", url: `${insideUrl}/mcp/${name}`, headers: { Authorization: `Bearer ${token}` } },
      ]),
    );
    writeFileSync(path.join(relayDirectory, "mcp.json"), `${JSON.stringify({ mcpServers }, null, 2)}\n`);

    const session = openSandboxSession({ workspace: options.workspace ?? process.cwd(), dataDir });
    const identity = {
      agentId: options.agent,
      sessionId: `run:${session.id}`,
      traceId: newTraceId(),
      spanId: newSpanId(),
    };
    await plantDecoys(daemon, session, identity);
    const environment: Record<string, string> = {
      ...passedEnvironment(options.env),
      OPENAI_BASE_URL: `${insideUrl}/v1`,
      ANTHROPIC_BASE_URL: insideUrl,
      OPENAI_API_KEY: token,
      ANTHROPIC_API_KEY: token,
      WARDEN_URL: insideUrl,
      WARDEN_TOKEN: token,
      WARDEN_MCP_CONFIG: `${relayDirectoryInside}/mcp.json`,
      WARDEN_NODE: nodeInside,
    };
    const execution = await session.execute(relay.wrap(command), {
      limits: { timeoutMs: seconds * 1000, cpuSeconds: Math.ceil(seconds) },
      environment,
      interactive: true,
      readOnlyBinds: relay.readOnlyBinds,
    });
    if (execution.timedOut)
      report(`timed out after ${seconds} s; the agent and everything it started were killed`);
    const code = execution.timedOut ? timedOutExitCode : execution.exitCode;
    const answer = await daemon.call("sandbox-change-set", {
      identity: { ...identity, spanId: newSpanId() },
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
    relay?.remove();
  }
}
