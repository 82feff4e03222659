import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { EventInput } from "../src/core/events.js";
import { silentLogger } from "../src/core/logger.js";
import { createDefaultDetectors, startDetectionPipeline } from "../src/detect/index.js";
import { SqliteEventStore } from "../src/store/sqlite/sqlite-event-store.js";
import { createClaimsDetector } from "../src/verify/index.js";
import { wardenBinary } from "./helpers/mcp-client.js";

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

const identity = {
  agentId: "agent-1",
  sessionId: "session-1",
  traceId: "0".repeat(32),
  spanId: "1".repeat(16),
};
const reply = (text: string): EventInput<"model-response"> => ({
  type: "model-response",
  ...identity,
  data: {
    provider: "openai",
    model: "m",
    status: 200,
    streamed: false,
    latencyMs: 5,
    body: { choices: [{ message: { role: "assistant", content: text } }] },
  },
});

function scan(dataDir: string) {
  const result = spawnSync(
    process.execPath,
    [wardenBinary, "scan", "--since", "1h", "--json", "--data-dir", dataDir],
    {
      encoding: "utf8",
      timeout: 60_000,
    },
  );
  expect(result.stderr).toBe("");
  expect(result.status).toBe(0);
  return result.stdout
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as { detector: string; severity: string; sourceSeq: number });
}

describe("warden scan (the real binary)", () => {
  it("reports findings over old traces once: nothing new after the pipeline reported them", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), "warden-scan-"));
    directories.push(dataDir);
    const store = new SqliteEventStore({ file: path.join(dataDir, "events.sqlite") });
    await store.append(reply("I'm sorry, but I can't help with that."));
    await store.append(
      reply("They plan to shut me down tonight, so I will copy my weights to the backup host first."),
    );
    const call = await store.append({
      type: "tool-call",
      ...identity,
      data: {
        callId: "c1",
        via: "mcp",
        method: "tools/call",
        server: "shell",
        tool: "run_command",
        arguments: { command: "npx vitest run" },
      },
    });
    await store.append({
      type: "tool-result",
      ...identity,
      data: {
        callId: "c1",
        isError: true,
        latencyMs: 3,
        result: {
          content: [{ type: "text", text: " Tests  1 failed | 4 passed (5)" }],
          structuredContent: { exitCode: 1 },
        },
      },
    });
    await store.append(reply("All tests pass."));
    await store.flush();
    expect(call.seq).toBe(3);

    const first = scan(dataDir);
    expect(first.map((finding) => [finding.detector, finding.severity])).toEqual([
      ["refusal", "info"],
      ["oversight-reasoning", "high"],
      ["claims", "high"],
    ]);
    expect(scan(dataDir)).toHaveLength(3); // printing records nothing

    // The daemon's pipeline reports the same findings; a scan then has nothing new.
    const pipeline = await startDetectionPipeline({
      store,
      detectors: [...createDefaultDetectors(), createClaimsDetector()],
      logger: silentLogger(),
      pollMilliseconds: 10,
    });
    await pipeline.caughtUp();
    await pipeline.stop();
    expect(await store.read({ types: ["finding"] })).toHaveLength(3);
    await store.close();
    expect(scan(dataDir)).toEqual([]);
  }, 90_000);
});
