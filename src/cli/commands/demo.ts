import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import type { Command } from "commander";
import type { HeldCall } from "../../approvals/approval-queue.js";
import { createLogger } from "../../core/logger.js";
import { startDaemon } from "../../server/daemon.js";
import { verifyDataDir } from "../../store/verify-data-dir.js";
import { dataDirOption } from "../common-options.js";
import { connectAsOperator } from "../daemon-connection.js";
import { formatLogLine } from "../format-event.js";
import { printLine } from "../output.js";
import { readStore } from "./log.js";

const projectRoot = fileURLToPath(new URL("../../../", import.meta.url));

function resultText(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content
    .map((part) => part.text ?? `[${part.type}]`)
    .join(" ")
    .replace(/\s+/g, " ")
    .slice(0, 160);
}

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description(
      "start Warden with a demo constitution and watch a scripted agent use a real MCP filesystem server through it",
    )
    .addOption(dataDirOption())
    .option("--exit", "stop after the demo instead of keeping the daemon running")
    .addHelpText(
      "after",
      "\nExample:\n  warden demo            # then, in another terminal: warden log --data-dir <printed dir>",
    )
    .action(async (options: { dataDir?: string; exit?: boolean }) => {
      const base = mkdtempSync(path.join(tmpdir(), "warden-demo-"));
      const dataDir = options.dataDir ? path.resolve(options.dataDir) : path.join(base, "state");
      const workspace = path.join(base, "workspace");
      mkdirSync(workspace, { recursive: true });
      writeFileSync(path.join(workspace, "README.md"), "# Demo project\nThe agent may read this.\n");
      writeFileSync(path.join(workspace, "secrets.env"), "DATABASE_PASSWORD=correct-horse-battery-staple\n");
      const policyPath = path.join(projectRoot, "policies", "demo.yaml");
      const logger = createLogger({ name: "warden-demo", level: "warn" });
      const daemon = await startDaemon({
        dataDir,
        policyPath,
        logger,
        checkpointEveryEvents: 10,
        socketOnly: true,
      });
      printLine(`Warden daemon started · data ${dataDir} · constitution ${policyPath}`);
      printLine(`Workspace ${workspace}\n`);

      const require = createRequire(import.meta.url);
      const filesystemServer = require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
      const transport = new StdioClientTransport({
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
          "--",
          process.execPath,
          filesystemServer,
          workspace,
        ],
        stderr: "inherit",
      });
      const client = new Client({ name: "warden-demo-agent (scripted)", version: "0.1.0" });
      await client.connect(transport);
      const reviewer = await connectAsOperator(dataDir);

      const step = async (title: string, name: string, args: Record<string, unknown>, approve = false) => {
        printLine(`▶ ${title}\n  agent calls files/${name} ${JSON.stringify(args)}`);
        const pending = client.callTool({ name, arguments: args });
        if (approve) {
          let held: HeldCall[] = [];
          while (held.length === 0) {
            await new Promise((resolve) => setTimeout(resolve, 50));
            held = await reviewer.call<HeldCall[]>("approvals-list");
          }
          printLine(
            `  ⏸ held by rule ${held[0]!.ruleId}; a reviewer approves it (warden approvals approve ${held[0]!.approvalId})`,
          );
          await reviewer.call("approvals-decide", {
            approvalId: held[0]!.approvalId,
            outcome: "approved",
            reviewer: "demo-reviewer",
            scope: "once",
          });
        }
        const result = await pending;
        printLine(`  ${result.isError ? "✗" : "✓"} ${resultText(result)}\n`);
      };

      await step("Reading is allowed", "read_text_file", { path: path.join(workspace, "README.md") });
      await step(
        "A write is held until a person approves it",
        "write_file",
        { path: path.join(workspace, "notes.md"), content: "hello\n" },
        true,
      );
      await step("Warden's own files are off limits (built-in rule)", "read_text_file", {
        path: path.join(dataDir, "signing-key.pem"),
      });
      await step("Reading a secret labels the session…", "read_text_file", {
        path: path.join(workspace, "secrets.env"),
      });
      await step("…so a later write is denied by a sequence rule", "write_file", {
        path: path.join(workspace, "leak.txt"),
        content: "x",
      });

      await client.close();
      reviewer.close();
      printLine("The record (warden log):");
      for (const event of readStore(dataDir, { limit: 200 })) printLine(`  ${formatLogLine(event)}`);
      const report = await verifyDataDir({ dataDir });
      printLine(
        `\nwarden verify: ${report.ok ? "intact" : "FAILED"} · ${report.events} events · ${report.checkpoints} signed checkpoints`,
      );
      if (options.exit) {
        await daemon.close();
        return;
      }
      printLine(
        `\nThe daemon keeps running. Try: warden log --data-dir ${dataDir} · warden verify --data-dir ${dataDir} · Ctrl-C to stop.`,
      );
      const stop = () => void daemon.close();
      process.once("SIGTERM", stop);
      process.once("SIGINT", stop);
      await daemon.stopped;
    });
}
