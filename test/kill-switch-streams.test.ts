import type { ChildProcess } from "node:child_process";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseScript,
  type ScriptedModelServer,
  startScriptedModelServer,
} from "../src/model-server/index.js";
import {
  createAgentToken,
  createSandbox,
  readLog,
  runWarden,
  type Sandbox,
  startWardenUp,
  waitFor,
} from "./helpers/mcp-client.js";

// The scripted model server stands in for a slow model (a test instrument, labelled as scripted).
const words = Array.from({ length: 80 }, (_, index) => `word${index}`).join(" ");
const script = `name: slow-stream
default: { text: "${words}", delay: { betweenChunksMs: 100 } }
`;

let sandbox: Sandbox;
let model: ScriptedModelServer;
let daemon: ChildProcess;
let baseUrl: string;
let reviewerToken: string;

beforeAll(async () => {
  const parsed = parseScript(script, "slow-stream.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  sandbox = createSandbox("version: 1\ndefault: allow\nrules: []\n");
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--upstream", `openai=${model.url}`], {
    OPENAI_API_KEY: "sk-provider-key-for-the-scripted-model",
  }));
  reviewerToken = runWarden([
    "users",
    "add",
    "oncall",
    "--role",
    "reviewer",
    "--data-dir",
    sandbox.dataDir,
  ]).stdout.trim();
}, 60_000);

afterAll(async () => {
  daemon?.kill("SIGTERM");
  await model?.close();
  sandbox?.cleanup();
});

interface StreamRead {
  text: string;
  error: Error | null;
  /** Resolves once some text has arrived. */
  firstChunk: Promise<void>;
  /** Resolves when the stream has ended, normally or with an error. */
  done: Promise<void>;
}

async function streamText(agent: string): Promise<StreamRead> {
  const client = new OpenAI({
    baseURL: `${baseUrl}/v1`,
    apiKey: createAgentToken(sandbox.dataDir, agent),
    maxRetries: 0,
  });
  const stream = await client.chat.completions.create({
    model: "gpt-test",
    stream: true,
    messages: [{ role: "user", content: "talk slowly" }],
  });
  let resolveFirst: () => void = () => {};
  const firstChunk = new Promise<void>((resolve) => {
    resolveFirst = resolve;
  });
  const result: StreamRead = { text: "", error: null, firstChunk, done: Promise.resolve() };
  result.done = (async () => {
    try {
      for await (const chunk of stream) {
        result.text += chunk.choices[0]?.delta?.content ?? "";
        if (result.text.length > 0) resolveFirst();
      }
    } catch (error) {
      result.error = error as Error;
    }
    resolveFirst();
  })();
  return result;
}

describe("the kill switch and open model streams", () => {
  it("ends the streams of a halted agent with an error event naming the kill switch; other streams go on", async () => {
    const halted = await streamText("streaming-agent");
    const other = await streamText("other-agent");
    await halted.firstChunk;
    const engaged = await fetch(`${baseUrl}/api/kill-switch/engage`, {
      method: "POST",
      headers: { authorization: `Bearer ${reviewerToken}`, "content-type": "application/json" },
      body: JSON.stringify({ scope: "agent", target: "streaming-agent", reason: "runaway output" }),
    });
    expect(engaged.status).toBe(200);
    await halted.done;
    expect(halted.error).not.toBeNull();
    expect(halted.error!.message).toContain("Stopped by the kill switch: runaway output");
    expect(halted.text.split(" ").length).toBeLessThan(80);
    await other.done;
    expect(other.error).toBeNull();
    expect(other.text).toBe(words);
    const responses = await waitFor(() => {
      const found = readLog(sandbox.dataDir, ["--type", "model-response"]).filter(
        (event) => event.agentId === "streaming-agent",
      );
      return found.length > 0 ? found : undefined;
    });
    expect((responses[0]!.data.body as { outcome: string }).outcome).toBe("kill-switch");
  }, 60_000);
});
