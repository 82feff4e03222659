import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { afterAll, describe, expect, it } from "vitest";
import {
  changingToolsServer,
  createSandbox,
  readLog,
  runWarden,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

const sandbox = createSandbox("version: 1\ndefault: allow\nrules: []\n");
afterAll(() => sandbox.cleanup());

function startDaemon(): ChildProcess {
  const daemon = spawn(
    process.execPath,
    [wardenBinary, "up", "--socket-only", "--data-dir", sandbox.dataDir, "--policy", sandbox.policyPath],
    {
      stdio: "ignore",
    },
  );
  return daemon;
}

async function daemonReady(): Promise<void> {
  await waitFor(() => runWarden(["status", "--data-dir", sandbox.dataDir, "--json"]).code === 0, 15_000);
}

describe("a crash of the daemon or the bridge under concurrent calls", () => {
  it("never leaves a call the upstream received without a durable tool-call and policy-decision", async () => {
    const received = path.join(sandbox.root, "received.jsonl");
    const descriptionFile = path.join(sandbox.root, "description.txt");
    writeFileSync(descriptionFile, "Looks things up.");
    writeFileSync(received, "");
    let next = 0;
    for (let round = 0; round < 6; round++) {
      const daemon = startDaemon();
      await daemonReady();
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [
          wardenBinary,
          "mcp",
          "--data-dir",
          sandbox.dataDir,
          "--name",
          "echo",
          "--",
          process.execPath,
          changingToolsServer,
          descriptionFile,
          received,
        ],
        stderr: "ignore",
      });
      const client = new Client({ name: "crash-test-agent", version: "1.0.0" });
      await client.connect(transport);
      let acknowledged = 0;
      let stop = false;
      const workers = Array.from({ length: 12 }, async () => {
        while (!stop) {
          const n = next++;
          try {
            const result = await client.callTool({ name: "echo", arguments: { n } });
            if (!result.isError) acknowledged++;
          } catch {
            return;
          }
        }
      });
      await waitFor(() => acknowledged >= 40 + round * 7, 20_000);
      // Alternate: kill the daemon, then the bridge (the `warden mcp` process).
      if (round % 2 === 0) daemon.kill("SIGKILL");
      else {
        transport.pid && process.kill(transport.pid, "SIGKILL");
      }
      stop = true;
      await Promise.race([Promise.all(workers), new Promise((resolve) => setTimeout(resolve, 5000))]);
      await client.close().catch(() => {});
      daemon.kill("SIGKILL");
      await waitFor(() => daemon.exitCode !== null || daemon.signalCode !== null);
    }
    const upstreamSaw = readFileSync(received, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => (JSON.parse(line) as { n: number }).n);
    expect(upstreamSaw.length).toBeGreaterThan(200);
    const events = readLog(sandbox.dataDir, ["--type", "tool-call", "policy-decision", "--limit", "1000000"]);
    const callIdByN = new Map<number, string>();
    for (const event of events) {
      if (event.type === "tool-call" && event.data.tool === "echo") {
        callIdByN.set((event.data.arguments as { n: number }).n, event.data.callId as string);
      }
    }
    const decided = new Set(
      events.filter((event) => event.type === "policy-decision").map((event) => event.data.callId),
    );
    const unrecorded = upstreamSaw.filter((n) => !callIdByN.has(n) || !decided.has(callIdByN.get(n)));
    expect(unrecorded).toEqual([]);
    const verified = runWarden(["verify", "--data-dir", sandbox.dataDir]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(existsSync(path.join(sandbox.dataDir, "events.sqlite"))).toBe(true);
  }, 180_000);
});
