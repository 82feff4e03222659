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
    .option("--agent <name>", "halt or resume only this agent")
    .option("--session <id>", "halt or resume only this session")
    .addOption(dataDirOption())
    .addHelpText(
      "after",
      '\nExample:\n  warden kill-switch engage --reason "agent is deleting the staging database"',
    )
    .action(
      async (
        action: string,
        options: { reason: string; dataDir?: string; agent?: string; session?: string },
      ) => {
        if (action !== "engage" && action !== "release") {
          throw new WardenError("usage", `expected engage or release, not "${action}"`);
        }
        if (options.agent && options.session)
          throw new WardenError("usage", "give --agent or --session, not both");
        const scope = options.agent ? "agent" : options.session ? "session" : "all";
        const target = options.agent ?? options.session;
        const client = await connectAsOperator(dataDirFrom(options));
        await client.call("kill-switch", {
          engaged: action === "engage",
          reason: options.reason,
          reviewer: reviewerName(),
          scope,
          ...(target ? { target } : {}),
        });
        client.close();
        const what = scope === "all" ? "every tool call" : `every tool call of ${scope} ${target}`;
        printLine(
          action === "engage"
            ? `kill switch engaged: ${what} is denied`
            : `kill switch released (${scope}${target ? ` ${target}` : ""})`,
        );
      },
    );
}
