import { Command, CommanderError } from "commander";
import { WardenError } from "../core/errors.js";
import { registerApprovals, registerTools } from "./commands/approvals.js";
import { registerAudit } from "./commands/audit.js";
import { registerChanges } from "./commands/changes.js";
import { registerClassify } from "./commands/classify.js";
import { registerDecoys } from "./commands/decoys.js";
import { registerDemo } from "./commands/demo.js";
import { registerDown } from "./commands/down.js";
import { registerEval } from "./commands/eval.js";
import { registerExec } from "./commands/exec.js";
import { registerExport } from "./commands/export.js";
import { registerKillSwitch } from "./commands/kill-switch.js";
import { registerLog } from "./commands/log.js";
import { registerMcp } from "./commands/mcp.js";
import { registerPolicy } from "./commands/policy.js";
import { registerRun } from "./commands/run.js";
import { registerSandboxMcp } from "./commands/sandbox-mcp.js";
import { registerScan } from "./commands/scan.js";
import { registerStatus } from "./commands/status.js";
import { registerTokens } from "./commands/tokens.js";
import { registerTrace } from "./commands/trace.js";
import { registerUp } from "./commands/up.js";
import { registerUsers } from "./commands/users.js";
import { registerVerify } from "./commands/verify.js";
import { printError } from "./output.js";

export function createProgram(): Command {
  const program = new Command("warden")
    .description(
      "Warden: an oversight layer for AI agents. Every tool call decided by a constitution and recorded in a tamper-evident log.",
    )
    .version("0.1.0")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerUp(program);
  registerDown(program);
  registerStatus(program);
  registerMcp(program);
  registerVerify(program);
  registerLog(program);
  registerTrace(program);
  registerPolicy(program);
  registerApprovals(program);
  registerTools(program);
  registerTokens(program);
  registerKillSwitch(program);
  registerExec(program);
  registerDemo(program);
  registerClassify(program);
  registerExport(program);
  registerUsers(program);
  registerDecoys(program);
  registerEval(program);
  registerChanges(program);
  registerSandboxMcp(program);
  registerAudit(program);
  registerScan(program);
  registerRun(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

/** Runs the CLI; resolves to the exit code (0 ok, 1 a check failed, 2 usage or configuration). */
export async function main(argv: string[]): Promise<number> {
  // `warden log | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  const program = createProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version are not errors; commander has already printed them.
      if (
        error.code === "commander.helpDisplayed" ||
        error.code === "commander.version" ||
        error.code === "commander.help"
      )
        return 0;
      return 2;
    }
    if (WardenError.isInstance(error)) {
      printError(error.message);
      return error.exitCode;
    }
    printError(error instanceof Error ? error.message : String(error));
    return 2;
  }
}
