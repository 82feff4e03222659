import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import { dataDirFrom, dataDirOption, reviewerName } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printLine } from "../output.js";

export function registerKillSwitch(program: Command): void {
  program
    .command("kill-switch")
    .description("stop every agent action at once (engage), or let actions be decided again (release)")
    .argument("<engage|release>", "what to do")
    .option("--reason <text>", "why (recorded, and told to agents whose calls it denies)", "")
    .addOption(dataDirOption())
    .addHelpText(
      "after",
      '\nExample:\n  warden kill-switch engage --reason "agent is deleting the staging database"',
    )
    .action(async (action: string, options: { reason: string; dataDir?: string }) => {
      if (action !== "engage" && action !== "release") {
        throw new WardenError("usage", `expected engage or release, not "${action}"`);
      }
      const client = await connectAsOperator(dataDirFrom(options));
      await client.call("kill-switch", {
        engaged: action === "engage",
        reason: options.reason,
        reviewer: reviewerName(),
      });
      client.close();
      printLine(
        action === "engage" ? "kill switch engaged: every tool call is denied" : "kill switch released",
      );
    });
}
