/** What `warden exec` and `warden run` share: the environment they pass in, and how they report. */
import type { CallIdentity } from "../../core/oversight.js";
import type { SandboxSession } from "../../sandbox/index.js";
import type { DaemonClient } from "../../server/daemon-client.js";

/** `--env NAME=value` as given, `--env NAME` from Warden's own environment (skipped when unset). */
export function passedEnvironment(specifications: readonly string[]): Record<string, string> {
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

/** A line of Warden's own on stderr, apart from the command's output. */
export function report(text: string): void {
  process.stderr.write(`warden: ${text}\n`);
}

/**
 * Has the daemon plant the constitution's decoys in the session's view of its workspace before
 * the first command runs (a no-op for a session that has them, or without decoys).
 */
export async function plantDecoys(
  daemon: DaemonClient,
  session: SandboxSession,
  identity: CallIdentity,
): Promise<void> {
  await daemon.call("sandbox-decoys", {
    identity,
    workspace: session.workspace,
    sandboxSessionId: session.id,
  });
}
