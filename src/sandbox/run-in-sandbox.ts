import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { constants as osConstants } from "node:os";
import type { Readable } from "node:stream";
import { bubblewrapArguments, type SandboxMountPlan, setupArguments } from "./bubblewrap-arguments.js";
import { createPidsCgroup, type PidsCgroup } from "./pids-cgroup.js";
import { enableUserNamespacesHint, installBubblewrapHint, SandboxUnavailableError } from "./sandbox-error.js";
import type { SandboxLimits } from "./sandbox-limits.js";

export interface CapturedOutput {
  text: Buffer;
  /** Bytes the command wrote beyond the limit, which were dropped. */
  droppedBytes: number;
}

export interface SandboxRunResult {
  /** The command's exit status; 128 + signal number when a signal ended it. */
  exitCode: number;
  timedOut: boolean;
  stdout: CapturedOutput;
  stderr: CapturedOutput;
  durationMs: number;
  /** Wall-clock time just before bubblewrap started, in ms since the epoch. */
  startedAt: number;
}

export interface RunInSandboxOptions {
  bubblewrap: string;
  plan: SandboxMountPlan;
  limits: SandboxLimits;
  /** The command's whole environment: nothing of Warden's own environment is inherited. */
  environment: Record<string, string>;
  command: readonly string[];
  /** Inherit stdin, stdout and stderr (the captured output is then empty). */
  interactive?: boolean;
}

/**
 * Runs one command under bubblewrap. On timeout the outer bwrap process is killed; bwrap's
 * init in the sandbox's PID namespace then dies (`--die-with-parent`), and the kernel kills every
 * process left in that namespace, so nothing the command forked survives.
 */
export function runInSandbox(options: RunInSandboxOptions): Promise<SandboxRunResult> {
  const { limits } = options;
  const args = [
    ...bubblewrapArguments(options.plan),
    "--",
    ...setupArguments(options.plan.layer, limits, options.command),
  ];
  try {
    accessSync(options.bubblewrap, constants.X_OK);
  } catch {
    return Promise.reject(
      new SandboxUnavailableError(
        `cannot run ${options.bubblewrap}, and Warden never runs commands unsandboxed: ${installBubblewrapHint}`,
      ),
    );
  }
  let cgroup: PidsCgroup | null = null;
  let executable = options.bubblewrap;
  if (process.getuid?.() === 0) {
    cgroup = createPidsCgroup(
      `warden-sandbox-${process.pid}-${randomBytes(4).toString("hex")}`,
      limits.processes,
    );
    if (cgroup === null)
      return Promise.reject(
        new SandboxUnavailableError(
          "Warden runs as root, where the kernel ignores the process limit (RLIMIT_NPROC), and no writable pids cgroup was found; run Warden under its own user (recommended) or give it a pids cgroup",
        ),
      );
    // A trusted host shell joins the cgroup first, so bwrap and everything it forks are inside.
    args.unshift(
      "-c",
      'echo $$ > "$1" && shift && exec "$@"',
      "warden-join-cgroup",
      cgroup.procsFile,
      options.bubblewrap,
    );
    executable = "/bin/sh";
  }
  const startedAt = Date.now();
  const started = performance.now();
  const result = new Promise<SandboxRunResult>((resolve, reject) => {
    const child = spawn(executable, args, {
      env: options.environment,
      stdio: options.interactive
        ? ["inherit", "inherit", "inherit", "pipe"]
        : ["ignore", "pipe", "pipe", "pipe"],
      detached: true,
    });
    const stdout = capture(child.stdout, limits.outputBytes);
    const stderr = capture(child.stderr, limits.outputBytes);
    let ready = false;
    const readiness = child.stdio[3] as Readable;
    readiness.on("data", (chunk: Buffer) => {
      if (chunk.toString().includes("ready")) ready = true;
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killTree(child.pid);
    }, limits.timeoutMs);
    child.on("error", (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        error.code === "ENOENT"
          ? new SandboxUnavailableError(`cannot start ${options.bubblewrap}: ${installBubblewrapHint}`)
          : error,
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (!ready && !timedOut) {
        reject(setupFailure(stderr.result().text.toString("utf8")));
        return;
      }
      resolve({
        exitCode: code ?? 128 + signalNumber(signal),
        timedOut,
        stdout: stdout.result(),
        stderr: stderr.result(),
        durationMs: performance.now() - started,
        startedAt,
      });
    });
  });
  // The kernel releases an emptied cgroup a few ms after the last process is reaped; removing it
  // off the command's path keeps that wait out of every command's latency.
  return cgroup === null ? result : result.finally(() => void cgroup.remove());
}

function killTree(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    // The negative pid is bwrap's process group (spawned detached); bwrap itself leads it.
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
}

function capture(stream: Readable | null, limit: number): { result: () => CapturedOutput } {
  const chunks: Buffer[] = [];
  let kept = 0;
  let droppedBytes = 0;
  stream?.on("data", (chunk: Buffer) => {
    const room = limit - kept;
    if (room >= chunk.length) {
      chunks.push(chunk);
      kept += chunk.length;
    } else {
      if (room > 0) chunks.push(chunk.subarray(0, room));
      kept += Math.max(room, 0);
      droppedBytes += chunk.length - Math.max(room, 0);
    }
  });
  return { result: () => ({ text: Buffer.concat(chunks), droppedBytes }) };
}

function setupFailure(stderr: string): SandboxUnavailableError {
  const detail = stderr.trim().split("\n").slice(0, 3).join("; ");
  if (/bwrap:/.test(stderr) && /namespace|uid map|Operation not permitted|Permission denied/i.test(stderr))
    return new SandboxUnavailableError(
      `bubblewrap cannot create the sandbox's namespaces (${detail}); Warden never runs commands unsandboxed: ${enableUserNamespacesHint}`,
    );
  if (/mount:/.test(stderr))
    return new SandboxUnavailableError(
      `the sandbox cannot mount its copy-on-write workspace (${detail}); it needs overlayfs in user namespaces (Linux 5.11 or later) and a data directory on a file system with user extended attributes (ext4, xfs, btrfs, tmpfs 6.6+)`,
    );
  return new SandboxUnavailableError(`the sandbox failed to start (${detail || "no message"})`);
}

function signalNumber(signal: NodeJS.Signals | null): number {
  return signal === null ? 0 : osConstants.signals[signal];
}
