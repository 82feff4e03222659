import type { Command } from "commander";
import { dataDirOption } from "../common-options.js";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "start Warden and watch an agent (official openai SDK, SCRIPTED model) use a real MCP filesystem server through it",
    )
    .addOption(dataDirOption())
    .option(
      "--interactive",
      "do not approve held calls automatically: approve or deny them from another terminal",
    )
    .option("--exit", "stop after the demo instead of keeping the daemon running")
    .addHelpText(
      "after",
      "\nExample:\n  warden demo --interactive   # then, in another terminal: warden approvals list --data-dir <printed dir>",
    )
    .action(async (options: { dataDir?: string; exit?: boolean; interactive?: boolean }) => {
      const { runDemo } = await import("./demo-action.js");
      await runDemo(options);
    });
}
