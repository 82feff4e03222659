import { type ChildProcess, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import path from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  parseScript,
  type ScriptedModelServer,
  startScriptedModelServer,
} from "../src/model-server/index.js";
import {
  createSandbox,
  readLog,
  runWarden,
  type Sandbox,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

// `warden up --config FILE` with the gateway's tool-decision and traffic-limit settings, against
// the scripted model server (a test instrument standing in for the model).
const script = `name: gateway-config
rules:
  - when: { tool: write_file, afterToolResult: false }
    reply:
      toolCalls: [{ name: write_file, arguments: { path: notes.md, content: hi } }]
  - when: { tool: delete_file, afterToolResult: false }
    reply:
      toolCalls: [{ name: delete_file, arguments: { path: notes.md } }]
default: { text: Hello from the script. }
`;

let sandbox: Sandbox;
let model: ScriptedModelServer;
let daemon: ChildProcess;
let baseUrl: string;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  const parsed = parseScript(script, "gateway-config.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  sandbox = createSandbox(`version: 1
default: allow
rules:
  - id: no-file-changes
    when: 'tool.name in ["write_file", "delete_file"]'
    effect: deny
    rationale: Files are changed only through the MCP proxy, where the call is decided.
`);
  const configPath = path.join(sandbox.root, "warden.yaml");
  writeFileSync(
    configPath,
    `version: 1
upstreams:
  - { name: scripted, baseUrl: "${model.url}", format: openai }
  - { name: scripted-anthropic, baseUrl: "${model.url}", format: anthropic }
gateway:
  mcpExecutedTools: [write_*]
limits:
  default: { requestsPerMinute: 1000 }
  agents:
    limited: { requestsPerMinute: 2 }
    frugal: { tokensPerMinute: 1 }
`,
  );
  daemon = spawn(
    process.execPath,
    [
      wardenBinary,
      "up",
      "--data-dir",
      sandbox.dataDir,
      "--policy",
      sandbox.policyPath,
      "--config",
      configPath,
      "--port",
      "0",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  daemon.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  daemon.stderr!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  baseUrl = await waitFor(() => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]);
  for (const agent of ["limited", "frugal", "worker"]) {
    const created = runWarden([
      "tokens",
      "create",
      "--agent",
      agent,
      "--data-dir",
      sandbox.dataDir,
      "--json",
    ]);
    tokens[agent] = (JSON.parse(created.stdout) as { token: string }).token;
  }
});

afterAll(async () => {
  daemon.kill("SIGTERM");
  await model.close();
  sandbox.cleanup();
});

const openAiFor = (agent: string) =>
  new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: tokens[agent]!, maxRetries: 0 });
const hello = { model: "gpt-test", messages: [{ role: "user" as const, content: "hi" }] };
const fileTool = (name: string) => ({
  type: "function" as const,
  function: { name, parameters: { type: "object", properties: {} } },
});

describe("the gateway's tool decisions and traffic limits from the config file", () => {
  it("answers an agent over its request rate with OpenAI's own 429, and records it", async () => {
    const client = openAiFor("limited");
    await client.chat.completions.create(hello);
    await client.chat.completions.create(hello);
    const refused = await client.chat.completions.create(hello).catch((caught: unknown) => caught);
    expect(refused).toBeInstanceOf(OpenAI.RateLimitError);
    const error = refused as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.error).toMatchObject({ type: "requests", code: "rate_limit_exceeded" });
    expect(error.message).toContain("2 requests per minute");
    expect(Number(error.headers?.get("retry-after"))).toBeGreaterThan(0);
    // Other agents are not affected.
    await expect(openAiFor("worker").chat.completions.create(hello)).resolves.toBeDefined();
    await waitFor(() =>
      readLog(sandbox.dataDir, ["--type", "model-response"]).some(
        (event) => event.agentId === "limited" && event.data.status === 429,
      ),
    );
  });

  it("refuses an agent whose token budget is used up, in Anthropic's own 429 shape", async () => {
    const client = new Anthropic({ baseURL: baseUrl, apiKey: tokens.frugal!, maxRetries: 0 });
    const request = {
      model: "claude-test",
      max_tokens: 50,
      messages: [{ role: "user" as const, content: "hi" }],
    };
    await client.messages.create(request);
    // Usage is charged once the response is recorded (off the request path).
    let refused: unknown;
    for (let attempt = 0; attempt < 50 && !(refused instanceof Anthropic.RateLimitError); attempt++) {
      refused = await client.messages.create(request).catch((caught: unknown) => caught);
      if (!(refused instanceof Anthropic.RateLimitError))
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(refused).toBeInstanceOf(Anthropic.RateLimitError);
    expect((refused as InstanceType<typeof Anthropic.RateLimitError>).error).toMatchObject({
      type: "error",
      error: { type: "rate_limit_error" },
    });
  });

  it("passes a tool executed through the MCP proxy and records its proposal without deciding it", async () => {
    const completion = await openAiFor("worker").chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "write notes" }],
      tools: [fileTool("write_file")],
    });
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("write_file");
    const response = await waitFor(() =>
      readLog(sandbox.dataDir, ["--type", "model-response"]).find((event) =>
        JSON.stringify(event.data).includes('"record-only"'),
      ),
    );
    expect(response.data.toolCalls).toEqual([
      { id: expect.any(String), name: "write_file", verdict: "record-only" },
    ]);
    const decided = readLog(sandbox.dataDir, ["--type", "tool-call"]).filter(
      (event) => event.data.tool === "write_file",
    );
    expect(decided).toHaveLength(0);
  });

  it("still decides, at proposal, every tool not listed as executed through the MCP proxy", async () => {
    const completion = await openAiFor("worker").chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "delete notes" }],
      tools: [fileTool("delete_file")],
    });
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]?.message.content).toContain('"no-file-changes"');
  });

  it("reports a bad limits section one line per problem", () => {
    const badConfig = path.join(sandbox.root, "bad.yaml");
    writeFileSync(badConfig, "version: 1\nlimits:\n  default: { requestsPerMinute: 0, tokensPerHour: 5 }\n");
    const result = runWarden([
      "up",
      "--data-dir",
      path.join(sandbox.root, "other"),
      "--config",
      badConfig,
      "--port",
      "0",
    ]);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("limits.default.requestsPerMinute:");
    expect(result.stderr).toContain("limits.default.tokensPerHour: unknown key (");
  });
});
