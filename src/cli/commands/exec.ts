import { type Command, Option } from "commander";
import { WardenError } from "../../core/errors.js";
import {
  type ChangeSet,
  type FileChange,
  type NeedsPerson,
  openSandboxSession,
  type SandboxCommandResult,
  type SandboxSession,
} from "../../sandbox/index.js";
import { dataDirFrom, dataDirOption } from "../common-options.js";

/** `warden exec`'s own failures, as `env` and `timeout` use them; the command's code passes through. */
const sandboxFailedExitCode = 125;
const timedOutExitCode = 124;

interface ExecOptions {
  workspace?: string;
  allowDomain: string[];
  review?: boolean;
  timeout: string;
  env: string[];
  session?: string;
  dataDir?: string;
}

export function registerExec(program: Command): void {
  program
    .command("exec")
    .description(
      "run one command in the sandbox with the workspace as its working directory; its writes are staged and applied only if no person needs to see them",
    )
    .argument("<command...>", "the command and its arguments (after --)")
    .option("--workspace <dir>", "the workspace the command sees (default: the current directory)")
    .addOption(
      new Option(
        "--allow-domain <domain>",
        "let the command reach this domain (not implemented yet: refused)",
      )
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .option("--review", "show the changes and hold them all for a person; apply nothing")
    .option("--timeout <seconds>", "wall-time limit; the whole process tree is killed after it", "300")
    .addOption(
      new Option("--env <name[=value]>", "pass a variable (value from Warden's environment when omitted)")
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .option("--session <id>", "continue a session: see (and add to) its earlier commands' staged writes")
    .addOption(dataDirOption())
    .addHelpText(
      "after",
      [
        "",
        "The command runs under bubblewrap: no network, an empty $HOME, only system directories and the",
        "workspace visible, no inherited environment, limits on time, CPU, memory, processes and output.",
        "Its writes go to a copy-on-write layer; afterwards Warden applies the changes that do not need a",
        "person and holds back the rest (git hooks and config, .envrc, editor tasks, package.json scripts,",
        "MCP and agent configs, symlinks out of the workspace).",
        "",
        "Exit codes: the command's own; 124 it timed out; 125 the sandbox could not run it.",
        "",
        "Example:",
        "  warden exec --workspace ~/src/app -- npm test",
      ].join("\n"),
    )
    .action(async (command: string[], options: ExecOptions) => {
      process.exitCode = await execute(command, options);
    });
}

async function execute(command: string[], options: ExecOptions): Promise<number> {
  if (options.allowDomain.length > 0) {
    report(
      `--allow-domain is not implemented yet: the sandbox has no network at all, and Warden will not widen that without the egress proxy (refused: ${options.allowDomain.join(", ")})`,
    );
    return sandboxFailedExitCode;
  }
  const seconds = Number(options.timeout);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    report(`--timeout must be a positive number of seconds, not ${options.timeout}`);
    return sandboxFailedExitCode;
  }
  let session: SandboxSession;
  let result: SandboxCommandResult;
  try {
    session = openSandboxSession({
      workspace: options.workspace ?? process.cwd(),
      dataDir: dataDirFrom(options),
      ...(options.session ? { sessionId: options.session } : {}),
    });
    result = await session.run(command, {
      limits: { timeoutMs: seconds * 1000, cpuSeconds: Math.ceil(seconds) },
      environment: passedEnvironment(options.env),
    });
  } catch (error) {
    if (!WardenError.isInstance(error)) throw error;
    report(error.message);
    return sandboxFailedExitCode;
  }
  process.stdout.write(result.stdout.text);
  process.stderr.write(result.stderr.text);
  if (result.stdout.droppedBytes > 0) report(`stdout truncated: ${result.stdout.droppedBytes} bytes dropped`);
  if (result.stderr.droppedBytes > 0) report(`stderr truncated: ${result.stderr.droppedBytes} bytes dropped`);
  if (result.timedOut)
    report(`timed out after ${seconds} s; the command and everything it started were killed`);

  settleChanges(session, result.changeSet, result.needsPerson, options.review === true);
  return result.timedOut ? timedOutExitCode : result.exitCode;
}

function settleChanges(
  session: SandboxSession,
  changeSet: ChangeSet,
  held: NeedsPerson[],
  review: boolean,
): void {
  if (changeSet.changes.length === 0) {
    report("no changes to the workspace");
    if (!review) session.discard();
    return;
  }
  const heldReasons = new Map(held.map((item) => [item.path, item.reason]));
  report(`change set ${changeSet.id} (session ${session.id}): ${changeSet.changes.length} changes`);
  for (const change of changeSet.changes) {
    const reason = heldReasons.get(change.path);
    report(
      `  ${change.kind.padEnd(8)} ${change.path}${describeKind(change)}${reason ? `  [needs a person: ${reason}]` : ""}`,
    );
  }
  if (review) {
    for (const change of changeSet.changes) if (change.diff) process.stderr.write(change.diff);
    report(
      `--review: nothing applied; the changes stay staged in session ${session.id} (${session.layer.directory})`,
    );
    return;
  }
  const toApply = new Set(
    changeSet.changes.map((change) => change.path).filter((path) => !heldReasons.has(path)),
  );
  if (toApply.size > 0) {
    const applied = session.apply(changeSet, toApply);
    if (applied.outcome === "refused") {
      report("applied nothing: the workspace changed under these paths since the command started:");
      for (const conflict of applied.conflicts) report(`  ${conflict.path}: ${conflict.reason}`);
      report(`the changes stay staged in session ${session.id} (${session.layer.directory})`);
      return;
    }
    report(`applied ${applied.applied.length} changes`);
  }
  if (heldReasons.size === 0) {
    session.discard();
    return;
  }
  report(
    `held ${heldReasons.size} changes for a person; they stay staged in session ${session.id} (${session.layer.directory}); \`warden exec --session ${session.id} --review -- true\` shows them`,
  );
}

function describeKind(change: FileChange): string {
  const state = change.kind === "deleted" ? change.before : change.after;
  if (state.type === "directory") return "/";
  if (state.type === "symlink") return ` -> ${state.target}`;
  if (change.binary) return " (binary)";
  return "";
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
