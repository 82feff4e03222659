import type { Command } from "commander";
import { dataDirFrom, dataDirOption, jsonOption } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { printJsonLine, printLine } from "../output.js";

export function registerTokens(program: Command): void {
  const tokens = program.command("tokens").description("agent credentials for Warden's HTTP endpoints");
  tokens
    .command("create")
    .description(
      "create a token for an agent; it is printed once, alone on stdout, and only its hash is kept",
    )
    .requiredOption("--agent <name>", "the agent's identity in rules and the log")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      '\nExample:\n  TOKEN=$(warden tokens create --agent claude)\n  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:7400/mcp/files',
    )
    .action(async (options: { agent: string; dataDir?: string; json?: boolean }) => {
      const client = await connectAsOperator(dataDirFrom(options));
      const { token } = await client.call<{ token: string }>("tokens-create", { agentId: options.agent });
      client.close();
      if (options.json) printJsonLine({ token });
      else printLine(token);
    });
}
