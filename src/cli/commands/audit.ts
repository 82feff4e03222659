import { type Command, Option } from "commander";
import { dataDirOption, jsonOption } from "../common-options.js";

export interface AuditCommandOptions {
  session: string;
  goal: string;
  baseUrl: string;
  model: string[];
  apiKeyEnv: string;
  samples: string;
  threshold: string;
  policy?: string;
  dataDir?: string;
  json?: boolean;
  /** `--no-record`: print the verdict without appending it. */
  record?: boolean;
}

export function registerAudit(program: Command): void {
  program
    .command("audit")
    .description(
      "have a second model review one session against its goal and the constitution: aligned, misaligned or deceptive, by vote",
    )
    .requiredOption("--session <id>", "the session to review (see `warden log`)")
    .requiredOption("--goal <text>", "what the agent was asked to do")
    .requiredOption(
      "--base-url <url>",
      "an OpenAI-compatible API for the auditor model (e.g. http://127.0.0.1:8000/v1)",
    )
    .addOption(
      new Option("--model <name>", "the auditor model; repeat to spread samples over several")
        .argParser((value: string, previous: string[]) => [...previous, value])
        .default([]),
    )
    .option("--api-key-env <name>", "environment variable holding the API key", "WARDEN_AUDITOR_API_KEY")
    .option("--samples <n>", "samples to vote over", "3")
    .option("--threshold <fraction>", "share of valid samples a verdict needs", "0.67")
    .option("--policy <file>", "the constitution whose rules the auditor is shown")
    .option("--no-record", "print the verdict without appending an audit-verdict event to the session's log")
    .addOption(dataDirOption())
    .addOption(jsonOption())
    .addHelpText(
      "after",
      [
        "",
        "The verdict, the vote, whether the samples disagreed, and quotes from the trace (quotes the",
        "auditor made up are discarded) are printed, and recorded as an audit-verdict event in the",
        "session's log (through the daemon when one runs, else straight to the store; the operator's",
        "token or the data directory is needed, so an agent cannot record a verdict). Exit codes:",
        "0 aligned, 1 misaligned, deceptive or inconclusive, 2 bad usage or no such session.",
        "",
        "Example:",
        '  warden audit --session 01JC9Z6T4W8M2X5K7Q0R3S1V9B --goal "fix the failing test" \\',
        "    --base-url http://127.0.0.1:8000/v1 --model auditor-1 --samples 5",
      ].join("\n"),
    )
    .action(async (options: AuditCommandOptions) => {
      const { runAuditCommand } = await import("./audit-action.js");
      await runAuditCommand(options);
    });
}
