import path from "node:path";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { WardenError } from "../../core/errors.js";
import { newSpanId, newTraceId } from "../../core/ids.js";
import { type ChangeSetVerdict, createSandboxToolsServer } from "../../mcp/sandbox-tools-server.js";
import { openSandboxSession } from "../../sandbox/index.js";
import { dataDirFrom } from "../common-options.js";
import { connectAsAgent } from "../daemon-connection.js";
import { plantDecoys } from "./sandbox-command.js";
import type { SandboxMcpOptions } from "./sandbox-mcp.js";

export async function runSandboxMcp(options: SandboxMcpOptions): Promise<void> {
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0)
    throw new WardenError("usage", `--timeout must be a positive number of seconds, not ${options.timeout}`);
  const dataDir = dataDirFrom(options);
  const session = openSandboxSession({ workspace: options.workspace, dataDir });
  const daemon = await connectAsAgent({
    dataDir,
    policyPath: options.policy ? path.resolve(options.policy) : null,
  });
  const traceId = newTraceId();
  const sessionId = `sandbox-mcp:${session.id}`;
  await plantDecoys(daemon, session, { agentId: options.agent, sessionId, traceId, spanId: newSpanId() });
  const server = createSandboxToolsServer({
    session,
    timeoutMs: seconds * 1000,
    decideChangeSet: (execution, command) =>
      daemon.call<ChangeSetVerdict>("sandbox-change-set", {
        identity: {
          agentId: options.agent,
          sessionId,
          traceId,
          spanId: newSpanId(),
        },
        workspace: session.workspace,
        sandboxSessionId: session.id,
        commandStartedAtCtimeNs: execution.commandStartedAtCtimeNs,
        run: {
          command: [...command],
          exitCode: execution.exitCode,
          timedOut: execution.timedOut,
          durationMs: execution.durationMs,
          stdoutBytes: execution.stdout.text.length + execution.stdout.droppedBytes,
          stderrBytes: execution.stderr.text.length + execution.stderr.droppedBytes,
          droppedBytes: execution.stdout.droppedBytes + execution.stderr.droppedBytes,
        },
        review: false,
        continuing: true,
      }),
  });
  const transport = new StdioServerTransport();
  await server.connect(transport);
  const closed = new Promise<void>((resolve) => {
    server.server.onclose = resolve;
  });
  process.stdin.on("end", () => void server.close());
  await closed;
  daemon.close();
}
