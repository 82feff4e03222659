import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect } from "vitest";
import {
  parseScript,
  type ScriptedModelServer,
  startScriptedModelServer,
} from "../src/model-server/index.js";
import { createSandbox, readLog, type Sandbox, startWardenUp, wardenBinary } from "./helpers/mcp-client.js";
import { sandboxIt } from "./helpers/sandbox.js";
import { allowAllConstitution } from "./helpers/warden-binary.js";

// Full path: `warden run` starts an agent process in bubblewrap with the real daemon's gateway
// relayed in; the scripted model server stands in for the model (a test instrument).
const script = `name: run-test
default: { text: Hello through Warden. }
`;
const providerKey = "sk-provider-key-for-run-0123456789";

let sandbox: Sandbox;
let model: ScriptedModelServer;
let daemon: ChildProcess;

beforeAll(async () => {
  const parsed = parseScript(script, "run-test.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  sandbox = createSandbox(allowAllConstitution);
  ({ daemon } = await startWardenUp(sandbox, ["--upstream", `openai=${model.url}`], {
    OPENAI_API_KEY: providerKey,
  }));
});

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await model?.close();
  sandbox?.cleanup();
});

/** `warden run` as its own process; asynchronous, because the model server lives in this one. */
function wardenRun(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [wardenBinary, "run", "--data-dir", sandbox.dataDir, ...args], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, SECRET_OF_THE_HOST: "host-secret-value" },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const agentScript = `
import { readFileSync, writeFileSync } from "node:fs";
const report = {};
const reply = await fetch(process.env.OPENAI_BASE_URL + "/chat/completions", {
  method: "POST",
  headers: { authorization: "Bearer " + process.env.OPENAI_API_KEY, "content-type": "application/json" },
  body: JSON.stringify({ model: "scripted", messages: [{ role: "user", content: "hi" }] }),
});
report.gatewayStatus = reply.status;
report.gatewayText = (await reply.json()).choices?.[0]?.message?.content;
try {
  await fetch(process.env.DIRECT_UPSTREAM + "/v1/models", { signal: AbortSignal.timeout(3000) });
  report.direct = "reached";
} catch (error) {
  report.direct = "blocked";
}
try {
  await fetch("https://api.openai.com/v1/models", { signal: AbortSignal.timeout(3000) });
  report.internet = "reached";
} catch {
  report.internet = "blocked";
}
for (const name of ["operator.token", "signing-key.pem", "events.sqlite"]) {
  try {
    readFileSync(process.env.DATA_DIR + "/" + name);
    report[name] = "read";
  } catch {
    report[name] = "blocked";
  }
}
report.hostSecret = process.env.SECRET_OF_THE_HOST ?? null;
report.providerKeySeen = JSON.stringify(process.env).includes("${providerKey}");
writeFileSync("agent-output.txt", "written by the agent\\n");
console.log(JSON.stringify(report));
process.exit(7);
`;

describe("warden run", () => {
  sandboxIt(
    "lets the agent reach the gateway, but not the upstream directly, the internet or Warden's data directory",
    async () => {
      writeFileSync(path.join(sandbox.workspace, "agent.mjs"), agentScript);
      const result = await wardenRun([
        "--agent",
        "runner",
        "--workspace",
        sandbox.workspace,
        "--env",
        `DIRECT_UPSTREAM=${model.url}`,
        "--env",
        `DATA_DIR=${sandbox.dataDir}`,
        "--",
        "/run/warden-node",
        "agent.mjs",
      ]);
      expect(result.code, result.stderr).toBe(7);
      const report = JSON.parse(result.stdout.trim().split("\n").at(-1) ?? "{}");
      expect(report).toEqual({
        gatewayStatus: 200,
        gatewayText: "Hello through Warden.",
        direct: "blocked",
        internet: "blocked",
        "operator.token": "blocked",
        "signing-key.pem": "blocked",
        "events.sqlite": "blocked",
        hostSecret: null,
        providerKeySeen: false,
      });
      // Its writes were staged and decided like any sandbox change set.
      expect(result.stderr).toContain("applied 1 changes");
      expect(readFileSync(path.join(sandbox.workspace, "agent-output.txt"), "utf8")).toBe(
        "written by the agent\n",
      );
      const events = readLog(sandbox.dataDir);
      const request = events.find((event) => event.type === "model-request");
      expect(request?.agentId).toBe("runner");
      expect(events.some((event) => event.type === "change-set-outcome")).toBe(true);
    },
  );

  sandboxIt("refuses with 125 when no daemon runs, and starts nothing", async () => {
    const other = createSandbox(allowAllConstitution);
    try {
      const child = spawn(
        process.execPath,
        [
          wardenBinary,
          "run",
          "--data-dir",
          other.dataDir,
          "--workspace",
          other.workspace,
          "--",
          "touch",
          "ran",
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      const code = await new Promise((resolve) => child.on("close", resolve));
      expect(code).toBe(125);
      expect(stderr).toContain("no Warden daemon is running");
      expect(existsSync(path.join(other.workspace, "ran"))).toBe(false);
    } finally {
      other.cleanup();
    }
  });
});
