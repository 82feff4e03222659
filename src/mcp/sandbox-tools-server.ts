import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { z } from "zod";
import {
  maximumWriteBytes,
  type SandboxExecution,
  type SandboxSession,
  writeFileCommand,
} from "../sandbox/index.js";

/** What the daemon answered about a change set (the fields this server reports). */
export interface ChangeSetVerdict {
  outcome: "empty" | "applied" | "discarded" | "held" | "refused";
  changeSetId?: string;
  ruleId?: string | null;
  reason?: string;
  conflicts?: { path: string; reason: string }[];
  changes?: { path: string; kind: string; needsPerson?: string }[];
}

export interface SandboxToolsServerOptions {
  session: SandboxSession;
  /** Sends the session's change set after a command to the daemon, which decides it. */
  decideChangeSet(execution: SandboxExecution, command: readonly string[]): Promise<ChangeSetVerdict>;
  timeoutMs: number;
}

/**
 * An MCP server whose tools act only through the sandbox: `shell` runs a command under
 * bubblewrap in the session's copy-on-write workspace, `write_file` writes there, and after
 * each the daemon decides the session's change set (apply, discard, hold for a person).
 * `read_file` and `list_directory` read the merged view, so the agent sees its staged writes.
 */
export function createSandboxToolsServer(options: SandboxToolsServerOptions): McpServer {
  const { session } = options;
  const server = new McpServer({ name: "warden-sandbox", version: "0.1.0" });
  let queue: Promise<unknown> = Promise.resolve();
  const oneAtATime = <T>(task: () => Promise<T>): Promise<T> => {
    const next = queue.then(task);
    queue = next.catch(() => undefined);
    return next;
  };
  const limits = { timeoutMs: options.timeoutMs, cpuSeconds: Math.ceil(options.timeoutMs / 1000) };

  const runAndDecide = (command: string[]) =>
    oneAtATime(async () => {
      const execution = await session.execute(command, { limits });
      const verdict = await options.decideChangeSet(execution, command);
      return { execution, verdict };
    });

  server.registerTool(
    "shell",
    {
      description:
        "Run a shell command (sh -c) in the workspace, inside Warden's sandbox: no network, no access outside the workspace. Writes are staged; Warden's constitution decides whether they reach the real workspace (applied, discarded, or held for a person), and the result says which.",
      inputSchema: { command: z.string().min(1).describe("The shell command line") },
      outputSchema: {
        exitCode: z
          .number()
          .int()
          .describe("The command's exit status (128 + signal when a signal ended it)"),
        timedOut: z.boolean().describe("Whether the time limit killed it"),
      },
    },
    async ({ command }) => {
      const { execution, verdict } = await runAndDecide(["sh", "-c", command]);
      const text = [
        `exit code: ${execution.timedOut ? "timed out" : execution.exitCode}`,
        execution.stdout.text.length > 0 ? `stdout:\n${execution.stdout.text.toString("utf8")}` : "",
        execution.stderr.text.length > 0 ? `stderr:\n${execution.stderr.text.toString("utf8")}` : "",
        describeVerdict(verdict),
      ].filter(Boolean);
      return {
        content: [{ type: "text", text: text.join("\n") }],
        // The exit code as a field: claim verification trusts it, never digits the command printed.
        structuredContent: { exitCode: execution.exitCode, timedOut: execution.timedOut },
        isError: execution.timedOut || execution.exitCode !== 0,
      };
    },
  );

  server.registerTool(
    "write_file",
    {
      description: `Write a text file in the workspace (at most ${maximumWriteBytes} bytes), through Warden's sandbox. The write is staged and decided like any other change.`,
      inputSchema: {
        path: z.string().min(1).describe("Path relative to the workspace"),
        content: z.string().describe("The whole new content"),
      },
    },
    async ({ path, content }) => {
      if (Buffer.byteLength(content) > maximumWriteBytes)
        return errorResult(`content is larger than ${maximumWriteBytes} bytes; write it in parts with shell`);
      const { execution, verdict } = await runAndDecide(writeFileCommand(path, content));
      if (execution.exitCode !== 0) return errorResult(execution.stderr.text.toString("utf8").trim());
      return { content: [{ type: "text", text: `wrote ${path}\n${describeVerdict(verdict)}` }] };
    },
  );

  server.registerTool(
    "read_file",
    {
      description: "Read a file of the workspace as the sandbox sees it (staged writes included).",
      inputSchema: { path: z.string().min(1).describe("Path relative to the workspace") },
    },
    async ({ path }) => {
      const execution = await oneAtATime(() => session.execute(["cat", "--", path], { limits }));
      if (execution.exitCode !== 0) return errorResult(execution.stderr.text.toString("utf8").trim());
      return { content: [{ type: "text", text: execution.stdout.text.toString("utf8") }] };
    },
  );

  server.registerTool(
    "list_directory",
    {
      description: "List a directory of the workspace as the sandbox sees it (staged writes included).",
      inputSchema: { path: z.string().default(".").describe("Path relative to the workspace") },
    },
    async ({ path }) => {
      const execution = await oneAtATime(() => session.execute(["ls", "-lA", "--", path], { limits }));
      if (execution.exitCode !== 0) return errorResult(execution.stderr.text.toString("utf8").trim());
      return { content: [{ type: "text", text: execution.stdout.text.toString("utf8") }] };
    },
  );
  return server;
}

function describeVerdict(verdict: ChangeSetVerdict): string {
  const rule = verdict.ruleId ? ` (rule ${verdict.ruleId})` : "";
  const count = verdict.changes?.length ?? 0;
  switch (verdict.outcome) {
    case "empty":
      return "changes: none";
    case "applied":
      return `changes: ${count} applied to the workspace${rule}`;
    case "discarded":
      return `changes: discarded${rule}${verdict.reason ? `: ${verdict.reason}` : ""}`;
    case "held": {
      const waiting = (verdict.changes ?? [])
        .filter((change) => change.needsPerson)
        .map((change) => change.path);
      return `changes: held for a person's review${rule}, not applied yet (change set ${verdict.changeSetId})${waiting.length > 0 ? `; needs a person: ${waiting.join(", ")}` : ""}`;
    }
    case "refused":
      return `changes: not applied, the workspace changed meanwhile: ${(verdict.conflicts ?? []).map((conflict) => conflict.path).join(", ")}`;
  }
}

function errorResult(text: string) {
  return { content: [{ type: "text" as const, text }], isError: true };
}
