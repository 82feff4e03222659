import { cpSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  maximumWriteBytes,
  type SandboxCommandResult,
  type SandboxExecution,
  type SandboxSession,
  writeFileCommand,
} from "../sandbox/index.js";
import type { Scenario, ScenarioTool } from "./scenario-schema.js";
import { argumentMatches } from "./scorers.js";
import type { SandboxChange, SandboxToolRun, TranscriptToolCall } from "./transcript.js";

/** What a tool call gives back: everything of the transcript's call but the call itself. */
export type ToolOutcome = Pick<TranscriptToolCall, "result" | "isError" | "command" | "exitCode" | "sandbox">;

type SandboxOutcome = ToolOutcome & { durationMs?: number };

/** The tools of one sample: scripted ones answer from the scenario, sandbox ones run for real. */
export interface SampleTools {
  call(name: string, args: Record<string, unknown>): Promise<ToolOutcome>;
  /** The sample's change set so far (undefined when no sandbox tool wrote). */
  changes(): SandboxChange[] | undefined;
  /** Drops the sample's sandbox layer: nothing it wrote survives or reaches the fixture. */
  close(): void;
}

/** Opens a sandbox session over a workspace (the runner's caller decides where layers live). */
export type OpenSandbox = (workspace: string) => SandboxSession;

/** A sandbox run as the record keeps it: which tool ran it, its outcome and what it changed. */
export interface RecordedSandboxRun extends SandboxToolRun {
  tool: string;
  durationMs: number;
}

/** Bytes of each output stream the model is shown; the rest is dropped and the result says so. */
const shownOutputBytes = 64 * 1024;

/**
 * The tools for one sample. `workspace` is the run's copy of the scenario's fixture; the sandbox
 * session over it is opened on the first sandbox call, so scenarios without real tools never
 * need bubblewrap. A failure of the sandbox itself throws (the sample fails and is not counted)
 * rather than reaching the model as a tool error.
 */
export function createSampleTools(
  scenario: Scenario,
  options: {
    workspace?: string;
    openSandbox?: OpenSandbox;
    /** Called with every sandbox run before the model sees its result (the runner records it). */
    onSandboxRun?: (run: RecordedSandboxRun) => Promise<void>;
  },
): SampleTools {
  const tools = scenario.tools ?? [];
  let session: SandboxSession | null = null;
  let changes: SandboxChange[] | undefined;
  const limits = {
    timeoutMs: scenario.toolTimeoutSeconds * 1000,
    cpuSeconds: scenario.toolTimeoutSeconds,
    outputBytes: shownOutputBytes,
  };
  const sandbox = (): SandboxSession => {
    if (session) return session;
    if (!options.workspace || !options.openSandbox)
      throw new Error(`scenario ${scenario.id} has sandbox tools but the run has no sandbox workspace`);
    session = options.openSandbox(options.workspace);
    return session;
  };
  const lastStates = new Map<string, string>();
  /** Records the cumulative change set; returns what this run changed (the verifier orders changes and runs). */
  const written = (run: SandboxCommandResult): SandboxChange[] => {
    changes = run.changeSet.changes.map((change) => ({ path: change.path, kind: change.kind }));
    const changedNow: SandboxChange[] = [];
    for (const change of run.changeSet.changes) {
      const state = JSON.stringify([change.kind, change.after]);
      if (lastStates.get(change.path) !== state) changedNow.push({ path: change.path, kind: change.kind });
      lastStates.set(change.path, state);
    }
    return changedNow;
  };
  return {
    async call(name, args) {
      const tool = tools.find((candidate) => candidate.name === name);
      if (!tool?.sandbox) return scriptedResult(tools, name, args);
      const { durationMs, ...outcome } = await sandboxCall(tool.sandbox, args, sandbox, limits, written);
      if (outcome.sandbox)
        await options.onSandboxRun?.({ ...outcome.sandbox, tool: name, durationMs: durationMs ?? 0 });
      return outcome;
    },
    changes: () => changes,
    close: () => {
      session?.discard();
    },
  };
}

async function sandboxCall(
  kind: NonNullable<ScenarioTool["sandbox"]>,
  args: Record<string, unknown>,
  sandbox: () => SandboxSession,
  limits: { timeoutMs: number; cpuSeconds: number; outputBytes: number },
  written: (run: SandboxCommandResult) => SandboxChange[],
): Promise<SandboxOutcome> {
  const text = (name: string): string | undefined =>
    typeof args[name] === "string" && args[name] !== "" ? (args[name] as string) : undefined;
  switch (kind) {
    case "run_command": {
      const command = text("command");
      if (command === undefined) return invalid("run_command needs a command (a string)");
      const argv = ["sh", "-c", command];
      const run = await sandbox().run(argv, { limits });
      return {
        result: commandReport(run),
        isError: run.timedOut || run.exitCode !== 0,
        command,
        exitCode: run.exitCode,
        sandbox: { ...runFacts(argv, run), changes: written(run) },
        durationMs: run.durationMs,
      };
    }
    case "write_file": {
      const file = text("path");
      const content = typeof args.content === "string" ? args.content : undefined;
      if (file === undefined || content === undefined)
        return invalid("write_file needs a path and a content (strings)");
      if (Buffer.byteLength(content) > maximumWriteBytes)
        return invalid(`content is larger than ${maximumWriteBytes} bytes`);
      const argv = writeFileCommand(file, content);
      const run = await sandbox().run(argv, { limits });
      const failed = run.timedOut || run.exitCode !== 0;
      return {
        result: failed ? run.stderr.text.toString("utf8").trim() || "write failed" : `wrote ${file}`,
        isError: failed,
        sandbox: { ...runFacts(argv, run), changes: written(run) },
        durationMs: run.durationMs,
      };
    }
    case "read_file":
    case "list_directory": {
      const target = text("path") ?? (kind === "list_directory" ? "." : undefined);
      if (target === undefined) return invalid("read_file needs a path (a string)");
      const argv = kind === "read_file" ? ["cat", "--", target] : ["ls", "-lA", "--", target];
      const run = await sandbox().execute(argv, { limits });
      const failed = run.timedOut || run.exitCode !== 0;
      return {
        result: failed
          ? run.stderr.text.toString("utf8").trim() || `${kind} failed`
          : withDropped(run.stdout.text.toString("utf8"), run.stdout.droppedBytes),
        isError: failed,
        sandbox: runFacts(argv, run),
        durationMs: run.durationMs,
      };
    }
  }
}

function runFacts(argv: string[], run: SandboxExecution | SandboxCommandResult) {
  return {
    command: argv,
    exitCode: run.exitCode,
    timedOut: run.timedOut,
    stdout: run.stdout.text.toString("utf8"),
    stderr: run.stderr.text.toString("utf8"),
  };
}

/** The run as the model sees it: exit code, then each stream (as the sandbox MCP server's `shell`). */
function commandReport(run: SandboxCommandResult): string {
  return [
    `exit code: ${run.timedOut ? "timed out" : run.exitCode}`,
    run.stdout.text.length > 0
      ? `stdout:\n${withDropped(run.stdout.text.toString("utf8"), run.stdout.droppedBytes)}`
      : "",
    run.stderr.text.length > 0
      ? `stderr:\n${withDropped(run.stderr.text.toString("utf8"), run.stderr.droppedBytes)}`
      : "",
  ]
    .filter(Boolean)
    .join("\n");
}

function withDropped(text: string, droppedBytes: number): string {
  return droppedBytes > 0 ? `${text}\n[${droppedBytes} more bytes not shown]` : text;
}

function invalid(message: string): ToolOutcome {
  return { result: `error: ${message}`, isError: true };
}

/** The scripted result for a call: never a real tool. A tool the scenario does not offer gets an error. */
export function scriptedResult(
  tools: readonly ScenarioTool[],
  name: string,
  args: Record<string, unknown>,
): ToolOutcome {
  const tool = tools.find((candidate) => candidate.name === name);
  if (!tool) return { result: `error: there is no tool named ${name}`, isError: true };
  if (tool.sandbox) return { result: `error: ${name} is not a scripted tool`, isError: true };
  let outcome: { text: string; error: boolean; exitCode?: number | undefined };
  if (tool.results) {
    const match = tool.results.find((entry) =>
      Object.entries(entry.when?.arguments ?? {}).every(([key, matcher]) =>
        argumentMatches(args[key], matcher),
      ),
    );
    outcome = match ?? { text: `error: ${name} has no result for these arguments`, error: true };
  } else {
    outcome = { text: tool.result ?? "ok", error: tool.error, exitCode: tool.exitCode };
  }
  if (tool.command === undefined) return { result: outcome.text, isError: outcome.error };
  return {
    result: outcome.text,
    isError: outcome.error,
    command: tool.command,
    exitCode: outcome.exitCode ?? (outcome.error ? 1 : 0),
  };
}

/** A private copy of a fixture for one run: the sandbox's lower layer, so the fixture itself is never a mount. */
export function copyFixture(fixture: string): { directory: string; remove(): void } {
  const root = mkdtempSync(path.join(tmpdir(), "warden-eval-workspace-"));
  const directory = path.join(root, path.basename(fixture));
  cpSync(fixture, directory, { recursive: true, verbatimSymlinks: true });
  return { directory, remove: () => rmSync(root, { recursive: true, force: true }) };
}
