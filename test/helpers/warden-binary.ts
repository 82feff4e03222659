import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { dataFiles } from "../../src/core/data-dir.js";
import { DaemonClient } from "../../src/server/daemon-client.js";

export const projectRoot = fileURLToPath(new URL("../../", import.meta.url));
/** The real command line; it runs the compiled code in dist/ (`npm run build`). */
export const wardenBinary = path.join(projectRoot, "bin", "warden.js");

export const allowAllConstitution = "version: 1\ndefault: allow\nrules: []\n";

/** A JavaScript stack frame (`    at fn (file.js:1:2)`): it must never reach a user or a peer. */
export const stackFramePattern = /^\s*at\s.*:\d+:\d+\)?\s*$/m;

export interface WardenResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runWarden(args: string[], options: { env?: NodeJS.ProcessEnv } = {}): WardenResult {
  const result = spawnSync(process.execPath, [wardenBinary, ...args], {
    encoding: "utf8",
    input: "",
    env: { ...process.env, WARDEN_NO_PAGER: "1", ...options.env },
    timeout: 60_000,
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

export interface DaemonExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly socketPath: string;
  readonly logFile: string;
  readonly exited: Promise<DaemonExit>;
  hasExited(): boolean;
  /** Sends the signal and resolves once the process is gone. */
  kill(signal: NodeJS.Signals): Promise<DaemonExit>;
}

const runningDaemons = new Set<DaemonProcess>();

/**
 * Starts `warden up --socket-only` as its own process (stdout and stderr to `logFile`) and
 * resolves once that very process answers `status` on the socket.
 */
export async function startDaemonProcess(options: {
  dataDir: string;
  policyPath: string;
  logFile: string;
  extraArgs?: string[];
  timeoutMs?: number;
}): Promise<DaemonProcess> {
  const socketPath = path.join(options.dataDir, dataFiles.socket);
  const log = openSync(options.logFile, "a");
  const args = [
    wardenBinary,
    "up",
    "--data-dir",
    options.dataDir,
    "--policy",
    options.policyPath,
    "--socket-only",
  ];
  const child = spawn(process.execPath, [...args, ...(options.extraArgs ?? [])], {
    stdio: ["ignore", log, log],
  });
  closeSync(log);
  let exit: DaemonExit | null = null;
  const exited = new Promise<DaemonExit>((resolve) => {
    child.once("exit", (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const daemon: DaemonProcess = {
    child,
    pid: child.pid ?? -1,
    socketPath,
    logFile: options.logFile,
    exited,
    hasExited: () => exit !== null,
    async kill(signal) {
      if (exit === null) child.kill(signal);
      const result = await exited;
      runningDaemons.delete(daemon);
      return result;
    },
  };
  runningDaemons.add(daemon);
  void exited.then(() => runningDaemons.delete(daemon));

  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  for (;;) {
    if (exit !== null) {
      throw new Error(
        `warden up exited (${JSON.stringify(exit)}) before it served the socket:\n${readLog(options.logFile)}`,
      );
    }
    if (existsSync(socketPath)) {
      const client = new DaemonClient({ socketPath, role: "agent" });
      try {
        const status = await client.call<{ pid: number }>("status");
        if (status.pid === daemon.pid) return daemon;
      } catch {
        // Not listening yet, or the socket file is a dead daemon's.
      } finally {
        client.close();
      }
    }
    if (Date.now() > deadline) {
      await daemon.kill("SIGKILL");
      throw new Error(`warden up did not serve the socket in time:\n${readLog(options.logFile)}`);
    }
    await sleep(25);
  }
}

/** Kills every daemon process started by this file that is still running (for afterEach/afterAll). */
export async function killAllDaemonProcesses(): Promise<void> {
  await Promise.all([...runningDaemons].map((daemon) => daemon.kill("SIGKILL")));
}

export function sleep(milliseconds: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, milliseconds));
}

export async function waitUntil(probe: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error("timed out waiting for a condition");
    await sleep(5);
  }
}

function readLog(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "(no log)";
  }
}
