import type { Command } from "commander";
import { dataDirFrom, dataDirOption, jsonOption } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printJsonLine, printLine } from "../output.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description("show whether the daemon runs, its head and policy version")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .action(async (options: { dataDir?: string; json?: boolean }) => {
      const client = await connectAsOperator(dataDirFrom(options));
      const status = await client.call<Record<string, unknown>>("status");
      client.close();
      if (options.json) printJsonLine(status);
      else
        for (const [key, value] of Object.entries(status))
          printLine(`${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`);
    });
}
