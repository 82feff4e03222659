import { spawn } from "node:child_process";
import { existsSync, openSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dataFiles } from "../core/data-dir.js";
import { WardenError } from "../core/errors.js";
import { DaemonClient } from "../server/daemon-client.js";
import { ensureDataDir, readOperatorToken } from "../server/daemon-files.js";

export function socketPathOf(dataDir: string): string {
  return path.join(dataDir, dataFiles.socket);
}

/** A reviewer's connection: needs the operator token, so only the daemon's user has one. */
export async function connectAsOperator(dataDir: string): Promise<DaemonClient> {
  if (!existsSync(socketPathOf(dataDir))) {
    throw new WardenError(
      "daemon-unreachable",
      `no Warden daemon is running for ${dataDir} (start one with "warden up")`,
    );
  }
  const client = new DaemonClient({
    socketPath: socketPathOf(dataDir),
    role: "operator",
    token: readOperatorToken(dataDir),
  });
  await client.call("status");
  return client;
}

export async function isDaemonRunning(dataDir: string): Promise<boolean> {
  if (!existsSync(socketPathOf(dataDir))) return false;
  const client = new DaemonClient({ socketPath: socketPathOf(dataDir), role: "agent" });
  try {
    await client.call("status");
    return true;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/**
 * Connects as an agent bridge, starting a daemon in the background (socket only, no TCP
 * port) when none runs for this data directory.
 */
export async function connectAsAgent(options: {
  dataDir: string;
  policyPath: string | null;
}): Promise<DaemonClient> {
  await ensureDaemon(options);
  const client = new DaemonClient({ socketPath: socketPathOf(options.dataDir), role: "agent" });
  await warnAboutOtherPolicy(client, options);
  return client;
}

/** An operator's connection, starting a daemon in the background when none runs (`warden exec`). */
export async function connectAsOperatorStartingDaemon(options: {
  dataDir: string;
  policyPath: string | null;
}): Promise<DaemonClient> {
  await ensureDaemon(options);
  const client = await connectAsOperator(options.dataDir);
  await warnAboutOtherPolicy(client, options);
  return client;
}

async function warnAboutOtherPolicy(
  client: DaemonClient,
  options: { dataDir: string; policyPath: string | null },
): Promise<void> {
  const status = await client.call<{ policyPath: string | null }>("status");
  if (options.policyPath && status.policyPath !== options.policyPath) {
    // The running daemon decides with its own constitution; say so rather than surprise anyone.
    process.stderr.write(
      `warden: the daemon for ${options.dataDir} already runs with ${status.policyPath ?? "no constitution"}; --policy ${options.policyPath} is not used\n`,
    );
  }
}

async function ensureDaemon(options: { dataDir: string; policyPath: string | null }): Promise<void> {
  const { dataDir } = options;
  if (await isDaemonRunning(dataDir)) return;
  ensureDataDir(dataDir);
  const binary = fileURLToPath(new URL("../../bin/warden.js", import.meta.url));
  const log = openSync(path.join(dataDir, dataFiles.daemonLog), "a", 0o600);
  const args = [binary, "up", "--data-dir", dataDir, "--socket-only"];
  if (options.policyPath) args.push("--policy", options.policyPath);
  const child = spawn(process.execPath, args, { detached: true, stdio: ["ignore", log, log] });
  let exitedAt: number | null = null;
  child.on("exit", () => {
    exitedAt = Date.now();
  });
  child.unref();
  const deadline = Date.now() + 15_000;
  while (!(await isDaemonRunning(dataDir))) {
    // A daemon that lost the start-up race exits at once while the winner comes up.
    const gaveUp = exitedAt !== null && Date.now() - exitedAt > 2000;
    if (Date.now() > deadline || gaveUp) {
      throw new WardenError(
        "daemon-unreachable",
        `the Warden daemon did not start within 15 s; see ${path.join(dataDir, dataFiles.daemonLog)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
