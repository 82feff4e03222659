import { type Command, Option } from "commander";
import { dataDirOption, policyOption } from "../common-options.js";

export interface ExecOptions {
  workspace?: string;
  allowDomain: string[];
  allowInternalNetwork?: boolean;
  review?: boolean;
  timeout: string;
  env: string[];
  session?: string;
  dataDir?: string;
  policy?: string;
  /** Path of bwrap (default: found on PATH). */
  bubblewrap?: string;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function registerExec(program: Command): void {
  program
    .command("exec")
    .description(
      "run one command in the sandbox with the workspace as its working directory; the constitution decides its staged changes (apply, discard or hold for a person)",
    )
    .argument("<command...>", "the command and its arguments (after --)")
    .option("--workspace <dir>", "the workspace the command sees (default: the current directory)")
    .addOption(
      new Option(
        "--allow-domain <domain>",
        "let the command reach this domain (or *.domain) through Warden's CONNECT proxy; repeatable",
      )
        .argParser(collect)
        .default([]),
    )
    .option(
      "--allow-internal-network",
      "let allowed domains resolve to this machine or its private network (refused by default: an allowed name is a way out, not back in)",
    )
    .option("--review", "hold the changes for a person whatever the constitution says")
    .option("--timeout <seconds>", "wall-time limit; the whole process tree is killed after it", "300")
    .addOption(
      new Option("--env <name[=value]>", "pass a variable (value from Warden's environment when omitted)")
        .argParser(collect)
        .default([]),
    )
    .option("--session <id>", "continue a session: see (and add to) its earlier commands' staged writes")
    .addOption(dataDirOption())
    .addOption(policyOption().argParser((value: string) => value))
    .addOption(new Option("--bubblewrap <path>", "the bwrap binary (default: bwrap on PATH)").hideHelp())
    .addHelpText(
      "after",
      [
        "",
        "The command runs under bubblewrap: no network, an empty $HOME, only system directories and the",
        "workspace visible, no inherited environment, limits on time, CPU, memory, processes and output.",
        "Its writes go to a copy-on-write layer. The daemon (started in the background if none runs;",
        "--policy names its constitution) decides the change set as the call sandbox/change-set:",
        "apply, discard, or hold it in the approval queue. Files that run code on the host later",
        "(git hooks and config, .envrc, editor tasks, package.json scripts, MCP configs, shell rc files)",
        "are always held for a person. Held change sets: `warden changes list|show|apply|discard`.",
        "",
        "Exit codes: the command's own; 124 it timed out; 125 Warden or the sandbox failed;",
        "126 the command cannot be run; 127 it was not found.",
        "",
        "Example:",
        "  warden exec --workspace ~/src/app -- npm test",
      ].join("\n"),
    )
    .action(async (command: string[], options: ExecOptions) => {
      const { runExec } = await import("./exec-action.js");
      process.exitCode = await runExec(command, options);
    });
}
