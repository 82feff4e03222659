import {
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { homedir } from "node:os";
import path from "node:path";
import { WardenError } from "../core/errors.js";
import { createIdFactory } from "../core/ids.js";
import { type ApplyResult, applyChangeSet } from "./apply-change-set.js";
import { captureChangeSet } from "./capture-change-set.js";
import type { ChangeSet, NeedsPerson, PathState } from "./change-set.js";
import { withoutDecoys } from "./decoy-layer.js";
import { findBubblewrap } from "./find-bubblewrap.js";
import { needsPerson } from "./needs-person.js";
import { runInSandbox, type SandboxRunResult } from "./run-in-sandbox.js";
import { defaultSandboxLimits, type SandboxLimits } from "./sandbox-limits.js";
import {
  openWorkspaceLayer,
  readBaseStates,
  removeWorkspaceLayer,
  resetWorkspaceLayer,
  type WorkspaceLayer,
  writeBaseStates,
} from "./workspace-layer.js";

export interface SandboxSessionOptions {
  workspace: string;
  /** Warden's data directory: holds the scratch layer, and is never visible inside the sandbox. */
  dataDir: string;
  /** Reuse a session's scratch layer; a new id is made when absent. */
  sessionId?: string;
  /** Path of `bwrap`; found on PATH when absent. */
  bubblewrap?: string;
  /** The host's home directory, hidden behind an empty tmpfs inside (default: `os.homedir()`). */
  home?: string;
}

export interface SandboxCommandOptions {
  limits?: Partial<SandboxLimits>;
  /** Variables passed to the command on top of PATH, HOME, LANG and TERM; nothing else is inherited. */
  environment?: Record<string, string>;
  /** More host paths hidden behind empty tmpfs (Warden's data directory always is). */
  masked?: readonly string[];
  /** Host paths shown read-only inside at `target`. */
  readOnlyBinds?: readonly { source: string; target: string }[];
  /** Give the command Warden's stdin, stdout and stderr instead of capturing its output. */
  interactive?: boolean;
}

export interface SandboxCommandResult extends SandboxRunResult {
  /** The session's cumulative change set after this command. */
  changeSet: ChangeSet;
  needsPerson: NeedsPerson[];
}

export interface SandboxExecution extends SandboxRunResult {
  /** The kernel file clock when the command started (ns, decimal): pass it to `changeSet`. */
  commandStartedAtCtimeNs: string;
}

export interface SandboxSession {
  readonly id: string;
  readonly workspace: string;
  readonly layer: WorkspaceLayer;
  /** Runs the command, then captures the session's change set. */
  run(command: readonly string[], options?: SandboxCommandOptions): Promise<SandboxCommandResult>;
  /** Runs the command only; whoever decides the changes captures them (`changeSet`). */
  execute(command: readonly string[], options?: SandboxCommandOptions): Promise<SandboxExecution>;
  /**
   * The session's cumulative change set. `commandStartedAtCtimeNs` (from `execute`) marks the
   * paths first touched by the last command that changed in the workspace while it ran.
   */
  changeSet(commandStartedAtCtimeNs?: string): Promise<ChangeSet>;
  needsPerson(changeSet: ChangeSet): NeedsPerson[];
  /** Applies the selected changes (default: all) and remembers them as the session's new base. */
  apply(changeSet: ChangeSet, paths?: ReadonlySet<string>): ApplyResult;
  /** Deletes the scratch layer: every change not applied is dropped. */
  discard(): void;
  /** Empties the scratch layer but keeps the session usable (its next command starts afresh). */
  reset(): Promise<void>;
}

const systemDirectories = [
  "/",
  "/usr",
  "/etc",
  "/bin",
  "/sbin",
  "/lib",
  "/lib64",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/var",
  "/run",
];

/**
 * Opens a session whose commands run in one bubblewrap sandbox configuration and share one
 * copy-on-write layer over the workspace: a later command sees an earlier one's writes, and
 * the real workspace changes only through `apply`.
 *
 * @example
 * const session = openSandboxSession({ workspace: "/src/app", dataDir });
 * const result = await session.run(["npm", "test"], { limits: { timeoutMs: 60_000 } });
 * const held = new Set(result.needsPerson.map((item) => item.path));
 * session.apply(result.changeSet, new Set(result.changeSet.changes.map((c) => c.path).filter((p) => !held.has(p))));
 */
export function openSandboxSession(options: SandboxSessionOptions): SandboxSession {
  const bubblewrap = options.bubblewrap ?? findBubblewrap();
  const home = path.resolve(options.home ?? homedir());
  const dataDir = path.resolve(options.dataDir);
  const workspace = checkWorkspace(options.workspace, { home, dataDir });
  const newId = createIdFactory();
  const sessionId = options.sessionId ?? newId();
  const layer = openWorkspaceLayer(dataDir, sessionId, workspace);
  let queue: Promise<unknown> = Promise.resolve();

  const capture = (commandStartedAtCtimeNs?: bigint) => {
    const baseStates = readBaseStates(layer);
    return captureChangeSet({
      bubblewrap,
      layer,
      changeSetId: newId(),
      baseStates,
      ...(commandStartedAtCtimeNs === undefined ? {} : { commandStartedAtCtimeNs }),
    }).then((captured) => {
      const changeSet = withoutDecoys(captured, layer);
      let grew = false;
      for (const change of changeSet.changes)
        if (!baseStates.has(change.path)) {
          baseStates.set(change.path, change.before);
          grew = true;
        }
      if (grew) writeBaseStates(layer, baseStates);
      return changeSet;
    });
  };

  const execute = async (
    command: readonly string[],
    commandOptions: SandboxCommandOptions,
  ): Promise<SandboxExecution> => {
    if (command.length === 0) throw new WardenError("usage", "no command to run");
    const limits = { ...defaultSandboxLimits, ...commandOptions.limits };
    const environment: Record<string, string> = {
      PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: home,
      LANG: process.env.LANG ?? "C.UTF-8",
      ...(process.env.TERM === undefined ? {} : { TERM: process.env.TERM }),
      ...commandOptions.environment,
    };
    const startedAtCtimeNs = markCommandStart(layer);
    const run = await runInSandbox({
      bubblewrap,
      plan: {
        layer,
        home,
        masked: [dataDir, ...(commandOptions.masked ?? [])],
        ...(commandOptions.readOnlyBinds ? { readOnlyBinds: commandOptions.readOnlyBinds } : {}),
      },
      limits,
      interactive: commandOptions.interactive === true,
      environment,
      command,
    });
    return { ...run, commandStartedAtCtimeNs: String(startedAtCtimeNs) };
  };

  const serialized = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(() => withLayerLock(layer, task));
    queue = next.catch(() => undefined);
    return next;
  };

  return {
    id: sessionId,
    workspace,
    layer,
    run: (command, commandOptions = {}) =>
      serialized(async () => {
        const run = await execute(command, commandOptions);
        const changeSet = await capture(BigInt(run.commandStartedAtCtimeNs));
        return { ...run, changeSet, needsPerson: needsPerson(changeSet, layer) };
      }),
    execute: (command, commandOptions = {}) => serialized(() => execute(command, commandOptions)),
    changeSet: (commandStartedAtCtimeNs) =>
      serialized(() =>
        capture(commandStartedAtCtimeNs === undefined ? undefined : parseCtime(commandStartedAtCtimeNs)),
      ),
    needsPerson: (changeSet) => needsPerson(changeSet, layer),
    apply: (changeSet, paths) => {
      const result = applyChangeSet(changeSet, layer, paths);
      if (result.outcome === "applied") {
        const baseStates = readBaseStates(layer);
        for (const change of result.applied) {
          const after: PathState = change.kind === "deleted" ? { type: "absent" } : change.after;
          baseStates.set(change.path, after);
        }
        writeBaseStates(layer, baseStates);
      }
      return result;
    },
    discard: () => removeWorkspaceLayer(layer),
    reset: () => serialized(async () => resetWorkspaceLayer(layer)),
  };
}

function checkWorkspace(requested: string, context: { home: string; dataDir: string }): string {
  let workspace: string;
  try {
    workspace = realpathSync(requested);
  } catch {
    throw new WardenError("usage", `workspace ${requested} does not exist`);
  }
  if (!statSync(workspace).isDirectory())
    throw new WardenError("usage", `workspace ${workspace} is not a directory`);
  if (systemDirectories.includes(workspace))
    throw new WardenError(
      "usage",
      `workspace ${workspace} is a system directory; choose a project directory`,
    );
  const dataDir = existsSync(context.dataDir) ? realpathSync(context.dataDir) : context.dataDir;
  if (isInside(dataDir, workspace) || isInside(workspace, dataDir))
    throw new WardenError("usage", `workspace ${workspace} overlaps Warden's data directory ${dataDir}`);
  if (isInside(context.home, workspace))
    throw new WardenError(
      "usage",
      `workspace ${workspace} contains the home directory ${context.home}, which the sandbox hides`,
    );
  return workspace;
}

/** Writes the start marker and reads back its ctime: the kernel's file clock at command start. */
function markCommandStart(layer: WorkspaceLayer): bigint {
  const marker = path.join(layer.directory, "command-started");
  writeFileSync(marker, String(process.pid));
  return statSync(marker, { bigint: true }).ctimeNs;
}

function parseCtime(text: string): bigint {
  if (!/^[0-9]{1,30}$/.test(text))
    throw new WardenError("input-invalid", `not a file clock reading: ${text}`);
  return BigInt(text);
}

function isInside(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith("/") ? outer : `${outer}/`);
}

/**
 * One command at a time per layer, across processes too: overlayfs must not mount the same
 * upper directory twice. A lock left by a dead process is taken over.
 */
async function withLayerLock<T>(layer: WorkspaceLayer, task: () => Promise<T>): Promise<T> {
  const lockPath = path.join(layer.directory, "lock");
  let descriptor: number;
  try {
    descriptor = openSync(lockPath, "wx");
  } catch {
    const holder = Number.parseInt(readFileSync(lockPath, "utf8"), 10);
    if (Number.isInteger(holder) && isAlive(holder))
      throw new WardenError(
        "forbidden",
        `sandbox session ${layer.sessionId} is running a command (process ${holder})`,
      );
    unlinkSync(lockPath);
    descriptor = openSync(lockPath, "wx");
  }
  writeSync(descriptor, String(process.pid));
  closeSync(descriptor);
  try {
    return await task();
  } finally {
    unlinkSync(lockPath);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
