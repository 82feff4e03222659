import type { Command } from "commander";
import { dataDirOption, policyOption } from "../common-options.js";

export interface SandboxMcpOptions {
  workspace: string;
  agent: string;
  timeout: string;
  dataDir?: string;
  policy?: string;
}

export function registerSandboxMcp(program: Command): void {
  program
    .command("sandbox-mcp")
    .description(
      "an MCP server (stdio) with shell, write_file, read_file and list_directory tools that act only through Warden's sandbox; the constitution decides every change set",
    )
    .requiredOption("--workspace <dir>", "the workspace the tools see")
    .option("--agent <id>", "the agent's identity in rules and the log", "agent")
    .option("--timeout <seconds>", "wall-time limit of each command", "300")
    .addOption(dataDirOption())
    .addOption(policyOption())
    .addHelpText(
      "after",
      `
All tools of one server process share one sandbox session: a later command sees the earlier
ones' staged writes. Put it behind \`warden mcp\` as well to have each tool call decided first.

Example (.mcp.json of an MCP client):

  { "mcpServers": { "sandbox": { "command": "warden",
      "args": ["mcp", "--name", "sandbox", "--agent", "claude", "--",
               "warden", "sandbox-mcp", "--agent", "claude", "--workspace", "/work/project"] } } }`,
    )
    .action(async (options: SandboxMcpOptions) => {
      const { runSandboxMcp } = await import("./sandbox-mcp-action.js");
      await runSandboxMcp(options);
    });
}
