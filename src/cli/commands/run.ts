import { type Command, Option } from "commander";
import { dataDirOption } from "../common-options.js";

export interface RunOptions {
  agent: string;
  workspace?: string;
  timeout: string;
  env: string[];
  dataDir?: string;
}

export function registerRun(program: Command): void {
  program
    .command("run")
    .description(
      "start a whole agent under Warden: sandboxed, with Warden's gateway and MCP servers as its only way out",
    )
    .argument("<command...>", "the agent command and its arguments (after --)")
    .option("--agent <name>", "the agent's name (its Warden token is minted for it)", "agent")
    .option("--workspace <dir>", "the workspace the agent sees (default: the current directory)")
    .option(
      "--timeout <seconds>",
      "wall-time limit; the agent and everything it started are killed after it",
      "86400",
    )
    .addOption(
      new Option("--env <name[=value]>", "pass a variable (value from Warden's environment when omitted)")
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .addOption(dataDirOption())
    .addHelpText(
      "after",
      [
        "",
        "Needs a running `warden up` with its HTTP listener. The agent runs in bubblewrap with no network",
        "of its own: 127.0.0.1:PORT inside is relayed (over a Unix socket) to Warden's listener and",
        "nowhere else, Warden's data directory and $HOME are hidden, and its writes to the workspace are",
        "staged and decided like `warden exec`'s when it exits. It gets OPENAI_BASE_URL, ANTHROPIC_BASE_URL,",
        "OPENAI_API_KEY and ANTHROPIC_API_KEY (its Warden token), WARDEN_URL, WARDEN_TOKEN,",
        "WARDEN_MCP_CONFIG (a JSON file of Warden's MCP servers) and WARDEN_NODE (a Node binary).",
        "",
        "Exit codes: the agent's own; 124 it timed out; 125 Warden or the sandbox failed.",
        "",
        "Example:",
        "  warden run --agent coder -- sh -c '\"$WARDEN_NODE\" agent.mjs'",
      ].join("\n"),
    )
    .action(async (command: string[], options: RunOptions) => {
      const { runAgent } = await import("./run-action.js");
      process.exitCode = await runAgent(command, options);
    });
}
