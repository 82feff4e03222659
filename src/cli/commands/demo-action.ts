import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import OpenAI from "openai";
import type { HeldCall } from "../../approvals/approval-queue.js";
import { configSchema } from "../../core/config.js";
import { createLogger } from "../../core/logger.js";
import { startScriptedModelServer } from "../../model-server/index.js";
import { startDaemon } from "../../server/daemon.js";
import type { DaemonClient } from "../../server/daemon-client.js";
import { verifyDataDir } from "../../store/verify-data-dir.js";
import { connectAsOperator } from "../daemon-connection.js";
import { formatLogLine } from "../format-event.js";
import { printLine } from "../output.js";
import { readStore } from "../read-store.js";

const projectRoot = fileURLToPath(new URL("../../../", import.meta.url));

function resultText(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content
    .map((part) => part.text ?? `[${part.type}]`)
    .join(" ")
    .replace(/\s+/g, " ")
    .slice(0, 160);
}

/**
 * Approves the first call held for a reviewer. In the interactive demo a person does it from
 * another terminal instead, or lets it expire.
 */
async function approveWhenHeld(reviewer: DaemonClient, stop: { done: boolean }): Promise<void> {
  while (!stop.done) {
    const held = await reviewer.call<HeldCall[]>("approvals-list");
    if (held.length > 0) {
      printLine(`  ⏸ held by rule ${held[0]!.ruleId}; the demo reviewer approves it`);
      await reviewer.call("approvals-decide", {
        approvalId: held[0]!.approvalId,
        outcome: "approved",
        reviewer: "demo-reviewer",
        scope: "once",
      });
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** `warden demo`'s action, loaded only when the command runs. */
export async function runDemo(options: {
  dataDir?: string;
  exit?: boolean;
  interactive?: boolean;
}): Promise<void> {
  const base = mkdtempSync(path.join(tmpdir(), "warden-demo-"));
  const dataDir = options.dataDir ? path.resolve(options.dataDir) : path.join(base, "state");
  const workspace = path.join(base, "workspace");
  mkdirSync(workspace, { recursive: true });
  writeFileSync(path.join(workspace, "README.md"), "# Demo project\nRun `npm test` before every release.\n");
  writeFileSync(path.join(workspace, "CHANGELOG.md"), "## 1.0.0\n- first release\n");
  const policyPath = path.join(projectRoot, "policies", "demo.yaml");
  const logger = createLogger({ name: "warden-demo", level: "warn" });

  const model = await startScriptedModelServer({
    script: path.join(projectRoot, "examples", "demo", "model-script.yaml"),
    port: 0,
    logger,
  });
  const config = configSchema.parse({
    version: 1,
    listen: { port: 0 },
    upstreams: [{ name: "scripted", baseUrl: model.url, format: "openai" }],
    // The agent runs every tool through `warden mcp`, where each call is decided at execution.
    gateway: { mcpExecutedTools: ["*"] },
  });
  const daemon = await startDaemon({ dataDir, policyPath, config, logger, checkpointEveryEvents: 10 });
  printLine(`Warden is running · data ${dataDir} · constitution ${policyPath}`);
  printLine(
    `Gateway ${daemon.httpUrl}/v1 → scripted model server ${model.url} (a test instrument, not a model)`,
  );
  printLine(`Workspace ${workspace}\n`);

  // One session for the model calls and the tool calls, so `warden trace` shows one story.
  const sessionId = `demo-${path.basename(base).slice("warden-demo-".length)}`;
  const reviewer = await connectAsOperator(dataDir);
  const { token } = await reviewer.call<{ token: string }>("tokens-create", { agentId: "demo-agent" });
  const require = createRequire(import.meta.url);
  const filesystemServer = require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
  const tools = new Client({ name: "warden-demo-agent", version: "0.1.0" });
  await tools.connect(
    new StdioClientTransport({
      command: process.execPath,
      args: [
        path.join(projectRoot, "bin", "warden.js"),
        "mcp",
        "--data-dir",
        dataDir,
        "--name",
        "files",
        "--agent",
        "demo-agent",
        "--session",
        sessionId,
        "--",
        process.execPath,
        filesystemServer,
        workspace,
      ],
      cwd: workspace,
      stderr: "ignore",
    }),
  );
  const { tools: available } = await tools.listTools();
  const openai = new OpenAI({
    baseURL: `${daemon.httpUrl}/v1`,
    apiKey: token,
    defaultHeaders: { "x-warden-session": sessionId },
  });

  // The agent: a plain tool loop with the official openai SDK.
  const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
    { role: "system", content: "You maintain this repository. Use the tools." },
    { role: "user", content: "Prepare the release: write notes and archive the changelog." },
  ];
  let finalClaim = "";
  for (let turn = 1; turn <= 6; turn++) {
    const completion = await openai.chat.completions.create({
      model: "demo",
      messages,
      tools: available.map((tool) => ({
        type: "function" as const,
        function: {
          name: tool.name,
          description: tool.description ?? "",
          parameters: tool.inputSchema as Record<string, unknown>,
        },
      })),
    });
    const message = completion.choices[0]!.message;
    messages.push(message);
    if (message.content) printLine(`agent: ${message.content}`);
    const calls = (message.tool_calls ?? []).filter((call) => call.type === "function");
    if (calls.length === 0) {
      finalClaim = message.content ?? "";
      break;
    }
    for (const call of calls) {
      const args = JSON.parse(call.function.arguments) as Record<string, unknown>;
      printLine(`  → files/${call.function.name} ${JSON.stringify(args)}`);
      const stop = { done: false };
      const approving = options.interactive ? Promise.resolve() : approveWhenHeld(reviewer, stop);
      if (options.interactive) printLine(`    (if held: warden approvals list --data-dir ${dataDir})`);
      const result = await tools.callTool({ name: call.function.name, arguments: args });
      stop.done = true;
      await approving;
      printLine(`  ${result.isError ? "✗" : "✓"} ${resultText(result)}`);
      messages.push({ role: "tool", tool_call_id: call.id, content: resultText(result) });
    }
    printLine();
  }

  await tools.close();
  reviewer.close();
  const events = readStore(dataDir, { limit: 10_000 });
  const decisions = events.filter((event) => event.type === "policy-decision");
  const ranTests = events.some(
    (event) => event.type === "tool-call" && /\b(npm|vitest|jest|pytest)\b/.test(JSON.stringify(event.data)),
  );
  printLine("\nWhat Warden recorded (warden log; tool definitions pinned on first sight are left out):");
  for (const event of events) if (event.type !== "tool-pin") printLine(`  ${formatLogLine(event)}`);
  printLine("\nSummary");
  for (const decision of decisions) {
    const data = decision.data as { callId: string; applied: { effect: string; ruleId: string | null } };
    const call = events.find(
      (event) => event.type === "tool-call" && (event.data as { callId: string }).callId === data.callId,
    );
    const review = events.find(
      (event) =>
        event.type === "approval-decision" && (event.data as { callId: string }).callId === data.callId,
    );
    const outcome = review ? ` → ${(review.data as { outcome: string }).outcome} by a reviewer` : "";
    printLine(
      `  ${(call?.data as { tool?: string } | undefined)?.tool ?? "?"}: ${data.applied.effect} (rule ${data.applied.ruleId})${outcome}`,
    );
  }
  if (finalClaim) {
    printLine(`  final claim: "${finalClaim}"`);
    printLine(
      `  ${ranTests ? "a test run is recorded" : "no test run and no successful move are recorded: the claim is not supported by the record"}`,
    );
  }
  const report = await verifyDataDir({ dataDir });
  printLine(
    `  warden verify: ${report.ok ? "intact" : "FAILED"} · ${report.events} events · ${report.checkpoints} signed checkpoints`,
  );
  printLine(`\nNext: warden trace ${sessionId} --data-dir ${dataDir} · warden verify --data-dir ${dataDir}`);
  if (options.exit) {
    await daemon.close();
    await model.close();
    return;
  }
  printLine("The daemon keeps running; Ctrl-C to stop.");
  const stop = () => void daemon.close();
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  await daemon.stopped;
  await model.close();
}
