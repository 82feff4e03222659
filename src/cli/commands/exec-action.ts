import path from "node:path";
import { WardenError } from "../../core/errors.js";
import { newSpanId, newTraceId } from "../../core/ids.js";
import { checkAllowedDomain, type EgressProxy, startEgressProxy } from "../../sandbox/egress-proxy.js";
import { openSandboxSession, type SandboxExecution, type SandboxSession } from "../../sandbox/index.js";
import { createLoopbackRelay, type LoopbackRelay } from "../../sandbox/loopback-relay.js";
import type { DaemonClient } from "../../server/daemon-client.js";
import { dataDirFrom, reviewerName } from "../common-options.js";
import { connectAsOperatorStartingDaemon } from "../daemon-connection.js";
import { printChangeSetAnswer } from "./changes-output.js";
import type { ExecOptions } from "./exec.js";
import { passedEnvironment, plantDecoys, report } from "./sandbox-command.js";

/** `warden exec`'s own failures, as `env` and `timeout` use them; the command's code passes through. */
const sandboxFailedExitCode = 125;
const timedOutExitCode = 124;
/** The proxy's address inside the sandbox (its own loopback). */
const proxyPortInside = 3128;

export async function runExec(command: string[], options: ExecOptions): Promise<number> {
  for (const domain of options.allowDomain) {
    const problem = checkAllowedDomain(domain);
    if (problem !== null) {
      report(problem);
      return sandboxFailedExitCode;
    }
  }
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    report(`--timeout must be a positive number of seconds, not ${options.timeout}`);
    return sandboxFailedExitCode;
  }
  const dataDir = dataDirFrom(options);
  const identity = { agentId: reviewerName(), sessionId: "", traceId: newTraceId(), spanId: newSpanId() };
  let session: SandboxSession;
  let daemon: DaemonClient | undefined;
  let execution: SandboxExecution;
  let relay: LoopbackRelay | undefined;
  let proxy: EgressProxy | undefined;
  try {
    // The sandbox is checked before anything runs, and the daemon that decides the changes
    // must answer first: a command whose changes nobody could decide is not started.
    session = openSandboxSession({
      workspace: options.workspace ?? process.cwd(),
      dataDir,
      ...(options.session ? { sessionId: options.session } : {}),
      ...(options.bubblewrap ? { bubblewrap: options.bubblewrap } : {}),
    });
    identity.sessionId = `exec:${session.id}`;
    daemon = await connectAsOperatorStartingDaemon({ dataDir, policyPath: options.policy ?? null });
    await plantDecoys(daemon, session, identity);
    let wrapped: readonly string[] = command;
    const environment = passedEnvironment(options.env);
    if (options.allowDomain.length > 0) {
      // Allowed domains are reached only through Warden's CONNECT proxy, relayed in over a Unix socket.
      relay = createLoopbackRelay([{ port: proxyPortInside, socket: "egress.sock" }]);
      proxy = await startEgressProxy(path.join(relay.directory, "egress.sock"), options.allowDomain, {
        allowInternalAddresses: Boolean(options.allowInternalNetwork),
      });
      const proxyUrl = `http://127.0.0.1:${proxyPortInside}`;
      for (const name of ["HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
        environment[name] = proxyUrl;
      wrapped = relay.wrap(command);
    }
    execution = await session.execute(wrapped, {
      limits: { timeoutMs: seconds * 1000, cpuSeconds: Math.ceil(seconds) },
      environment,
      ...(relay ? { readOnlyBinds: relay.readOnlyBinds } : {}),
    });
  } catch (error) {
    await proxy?.close();
    relay?.remove();
    daemon?.close();
    if (!WardenError.isInstance(error)) throw error;
    report(error.message);
    return sandboxFailedExitCode;
  }
  process.stdout.write(execution.stdout.text);
  process.stderr.write(execution.stderr.text);
  if (execution.stdout.droppedBytes > 0)
    report(`stdout truncated: ${execution.stdout.droppedBytes} bytes dropped`);
  if (execution.stderr.droppedBytes > 0)
    report(`stderr truncated: ${execution.stderr.droppedBytes} bytes dropped`);
  if (execution.timedOut)
    report(`timed out after ${seconds} s; the command and everything it started were killed`);
  const commandCode = execution.timedOut ? timedOutExitCode : execution.exitCode;
  await proxy?.close();
  relay?.remove();
  for (const attempt of proxy?.attempts ?? [])
    if (!attempt.allowed)
      report(
        `refused a connection to ${attempt.host}:${attempt.port} (${attempt.refused ?? "not an allowed domain"})`,
      );

  try {
    const answer = await daemon.call("sandbox-change-set", {
      identity: { ...identity, spanId: newSpanId() },
      workspace: session.workspace,
      sandboxSessionId: session.id,
      commandStartedAtCtimeNs: execution.commandStartedAtCtimeNs,
      run: {
        command,
        exitCode: commandCode,
        timedOut: execution.timedOut,
        durationMs: execution.durationMs,
        stdoutBytes: execution.stdout.text.length + execution.stdout.droppedBytes,
        stderrBytes: execution.stderr.text.length + execution.stderr.droppedBytes,
        droppedBytes: execution.stdout.droppedBytes + execution.stderr.droppedBytes,
        ...(proxy ? { egress: proxy.attempts } : {}),
      },
      review: options.review === true,
      continuing: options.session !== undefined,
    });
    printChangeSetAnswer(answer as never, { diffs: options.review === true });
  } catch (error) {
    report(
      `the command ran, but its changes could not be decided, so nothing was applied; they stay staged in session ${session.id}: ${error instanceof Error ? error.message : String(error)}`,
    );
    return sandboxFailedExitCode;
  } finally {
    daemon.close();
  }
  return commandCode;
}
