import path from "node:path";
import type { Command } from "commander";
import { WardenError } from "../../core/errors.js";
import { dataDirFrom, dataDirOption, policyOption } from "../common-options.js";

export function registerMcp(program: Command): void {
  program
    .command("mcp")
    .description(
      "put an MCP server behind Warden: speak MCP on stdio, decide and record every call, forward what is allowed",
    )
    .addOption(dataDirOption())
    .addOption(policyOption().makeOptionMandatory(false))
    .option("--name <name>", "the server's name in rules and the log (default: the command's base name)")
    .option("--agent <id>", "the agent's identity in rules and the log", "agent")
    .option("--session <id>", "a fixed session id (default: from _meta, else one per connection)")
    .argument("<command...>", "the upstream MCP server command, after --")
    .addHelpText(
      "after",
      `
Starts a daemon in the background (socket only) if none runs for the data directory; --policy
is used only then.

Example (.mcp.json of an MCP client):

  { "mcpServers": { "files": { "command": "warden",
      "args": ["mcp", "--name", "files", "--agent", "claude", "--",
               "npx", "@modelcontextprotocol/server-filesystem", "/work/project"] } } }`,
    )
    .action(
      async (
        command: string[],
        options: { dataDir?: string; policy?: string; name?: string; agent: string; session?: string },
      ) => {
        const [upstream, ...args] = command;
        if (!upstream) throw new WardenError("usage", "give the upstream server command after --");
        const [{ createLogger }, { createStdioBridge }, { connectAsAgent }] = await Promise.all([
          import("../../core/logger.js"),
          import("../../mcp/index.js"),
          import("../daemon-connection.js"),
        ]);
        const logger = createLogger({ name: "warden-mcp", level: process.env.WARDEN_LOG_LEVEL ?? "warn" });
        const oversight = await connectAsAgent({
          dataDir: dataDirFrom(options),
          policyPath: options.policy ? path.resolve(options.policy) : null,
        });
        const bridge = createStdioBridge({
          serverName: options.name ?? path.basename(upstream),
          command: upstream,
          args,
          agentId: options.agent,
          ...(options.session ? { sessionId: options.session } : {}),
          oversight,
          logger,
        });
        await bridge.start();
        await bridge.closed;
        oversight.close();
      },
    );
}
