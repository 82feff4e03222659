import { Command, CommanderError } from "commander";
import { WardenError } from "../core/errors.js";
import { registerExec } from "./commands/exec.js";
import { printError } from "./output.js";

/**
 * `warden exec` alone: bin/warden.js comes here when the first argument is `exec`, so a sandboxed
 * command does not pay for loading every other command's modules (the whole table costs ~0.7 s
 * on a loaded machine; this entry ~0.05 s over Node's own start-up). Same exit codes as `main`.
 */
export async function main(argv: string[]): Promise<number> {
  // `warden exec --help | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE") process.exit(0);
    throw error;
  });
  const program = new Command("warden").exitOverride();
  registerExec(program);
  for (const command of program.commands) command.exitOverride();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError)
      return error.code === "commander.helpDisplayed" || error.code === "commander.help" ? 0 : 2;
    if (WardenError.isInstance(error)) {
      printError(error.message);
      return error.exitCode;
    }
    printError(error instanceof Error ? error.message : String(error));
    return 2;
  }
}
