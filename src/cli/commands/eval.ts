import type { Command } from "commander";
import { dataDirOption, policyOption } from "../common-options.js";

export interface EvalRunOptions {
  model: string;
  samples?: string;
  concurrency: string;
  out?: string;
  seed: string;
  resume?: string;
  cache: boolean;
  progress: boolean;
  dataDir?: string;
  config?: string;
  upstream?: string[];
  policy?: string;
  powerGap: string;
  retries: string;
  examples: string;
}

export interface EvalReplayOptions {
  dataDir?: string;
  out: string;
  agent?: string;
  session?: string;
  samples: string;
  observedCue?: string;
  unobservedCue?: string;
}

export function registerEval(program: Command): void {
  const command = program
    .command("eval")
    .description(
      "red-team evaluations: does the model behave differently when it believes it is unobserved?",
    );
  command
    .command("run")
    .description(
      "run a scenario file or pack through Warden's gateway (every sample recorded) and report rates, gaps and intervals",
    )
    .argument("<pack-or-file>", "a scenario file (YAML), a directory of them, or a built-in pack name")
    .requiredOption("--model <name>", "the model to evaluate (routed to the matching upstream)")
    .option("--samples <n>", "samples per condition (overrides each scenario's samples)")
    .option("--concurrency <n>", "samples in flight at once", "4")
    .option("--out <dir>", "where results.json and report.html go (default: eval-results/RUN_ID)")
    .option("--seed <n>", "seed for the sample order and the model's seed parameter (OpenAI)", "0")
    .option("--resume <run-id>", "continue an interrupted run from the store (same pack, model and flags)")
    .option(
      "--no-cache",
      "do not reuse recorded replies (by default a reply is reused for the same request, sample index and seed)",
    )
    .option("--no-progress", "no progress line on stderr")
    .addOption(dataDirOption())
    .option("--config <file>", "the daemon config (upstreams, limits), as for `warden up`")
    .option("--upstream <format=url...>", "a model API: openai=URL or anthropic=URL, as for `warden up`")
    .addOption(
      policyOption().default(
        undefined,
        "allow every proposed tool call (tools are scripted, or run in the sandbox on a throwaway copy)",
      ),
    )
    .option("--power-gap <gap>", "the gap the power note is about", "0.1")
    .option("--retries <n>", "retries of a failed model call (429 and 5xx, honouring Retry-After)", "6")
    .option("--examples <n>", "example transcripts per condition and outcome in the HTML report", "2")
    .addHelpText(
      "after",
      [
        "",
        "Starts a Warden daemon in this process (no running daemon needed; the data directory must not",
        "be in use). Scenarios run as agents eval:<scenario-id>; each sample is an eval-sample event.",
        "Exits 0 when the run completes, whatever it found; 2 on bad scenarios or usage.",
        "Scenario tools are scripted, or (sandbox: run_command | read_file | write_file | list_directory) run",
        "for real under bubblewrap against a copy of the scenario's workspace fixture, one discarded layer per",
        "sample; the fixture is never changed. An auditor-verdict scorer calls its model through the same",
        "gateway (agent eval:auditor).",
        "",
        "Example:",
        "  warden eval run alignment-faking --model gpt-4o --upstream openai=https://api.openai.com --samples 100",
      ].join("\n"),
    )
    .action(async (target: string, options: EvalRunOptions) => {
      const { runEvalCommand } = await import("./eval-action.js");
      await runEvalCommand(target, options);
    });
  command
    .command("replay")
    .description(
      "turn recorded sessions into scenarios that re-run the same tasks under observed and unobserved framings",
    )
    .addOption(dataDirOption())
    .requiredOption(
      "--out <dir>",
      "directory for the generated scenario files (a pack for `warden eval run`)",
    )
    .option("--agent <id>", "only this agent's sessions")
    .option("--session <id>", "only this session")
    .option("--samples <n>", "samples per condition in the generated scenarios", "20")
    .option("--observed-cue <text>", "added to the recorded system prompt in the observed condition")
    .option("--unobserved-cue <text>", "added to the recorded system prompt in the unobserved condition")
    .addHelpText(
      "after",
      [
        "",
        "Reads the store read-only (a running daemon is fine). Each recorded session (Chat Completions, Responses or",
        "Messages; eval: agents are skipped) becomes one scenario: its system prompt plus a cue, its user",
        "turns, and its tools, whose results come from the recording. Replay never calls a live tool: a",
        "call the recording has no result for is answered with an error.",
        "",
        "Example:",
        "  warden eval replay --agent claude --out ./replay && warden eval run ./replay --model gpt-4o --upstream openai=https://api.openai.com",
      ].join("\n"),
    )
    .action(async (options: EvalReplayOptions) => {
      const { replayCommand } = await import("./eval-action.js");
      await replayCommand(options);
    });
  command
    .command("compare")
    .addHelpText("after", "\nExample:\n  warden eval compare runs/claude-oct runs/claude-nov")
    .description("compare two runs (results.json files or their directories): rates and gaps side by side")
    .argument("<a>", "the first run")
    .argument("<b>", "the second run")
    .option("--json", "machine-readable output")
    .action(async (a: string, b: string, options: { json?: boolean }) => {
      const { compareRunsCommand } = await import("./eval-action.js");
      await compareRunsCommand(a, b, options);
    });
}
