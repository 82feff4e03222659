import { type ChildProcess, spawn } from "node:child_process";
import Anthropic from "@anthropic-ai/sdk";
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
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

// The scripted model server stands in for the model (a test instrument, labelled as scripted).
const script = `name: gateway-test
rules:
  - when: { tool: write_file, afterToolResult: false }
    reply:
      text: "I will write the file."
      toolCalls: [{ name: write_file, arguments: { path: notes.md, content: hi } }]
  - when: { tool: read_file, afterToolResult: false }
    reply:
      toolCalls: [{ name: read_file, arguments: { path: README.md } }]
  - when: { tool: costly_lookup, afterToolResult: false }
    reply:
      toolCalls: [{ name: costly_lookup, arguments: { query: everything } }]
default: { text: Hello from the script. }
`;
const providerKey = "sk-provider-key-0123456789abcdefghij";

let sandbox: Sandbox;
let model: ScriptedModelServer;
let daemon: ChildProcess;
let baseUrl: string;
let token: string;

beforeAll(async () => {
  const parsed = parseScript(script, "gateway-test.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  sandbox = createSandbox(`version: 1
default: deny
rules:
  - id: reads
    when: 'tool.name == "read_file"'
    effect: allow
    rationale: Reading is fine.
  - id: costly-lookups-rationed
    when: 'tool.name == "costly_lookup" && agent.usage.requestsLastMinute > 2'
    effect: deny
    rationale: An agent calling the model this often is looping.
    message: You have made too many model calls this minute; stop and summarise.
  - id: costly-lookups
    when: 'tool.name == "costly_lookup"'
    effect: allow
    rationale: Lookups are fine in moderation.
  - id: no-writes
    when: 'tool.name == "write_file"'
    effect: deny
    rationale: Writes go through review.
    message: Do not write files; describe the change instead.
`);
  daemon = spawn(
    process.execPath,
    [
      wardenBinary,
      "up",
      "--data-dir",
      sandbox.dataDir,
      "--policy",
      sandbox.policyPath,
      "--port",
      "0",
      "--upstream",
      `openai=${model.url}`,
      "--upstream",
      `anthropic=${model.url}`,
    ],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, OPENAI_API_KEY: providerKey, ANTHROPIC_API_KEY: providerKey },
    },
  );
  let output = "";
  daemon.stdout!.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  baseUrl = await waitFor(() => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]);
  const created = runWarden([
    "tokens",
    "create",
    "--agent",
    "gateway-agent",
    "--data-dir",
    sandbox.dataDir,
    "--json",
  ]);
  token = (JSON.parse(created.stdout) as { token: string }).token;
});

afterAll(async () => {
  daemon.kill("SIGTERM");
  await model.close();
  sandbox.cleanup();
});

const tool = (name: string) => ({
  type: "function" as const,
  function: { name, parameters: { type: "object", properties: { path: { type: "string" } } } },
});

describe("warden up as a model gateway, with the official SDKs", () => {
  it("replaces a denied tool call with the rule's message and a consistent finish reason (openai)", async () => {
    const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: token });
    const completion = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "Write notes.md" }],
      tools: [tool("write_file")],
    });
    const choice = completion.choices[0]!;
    expect(choice.message.tool_calls ?? []).toHaveLength(0);
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.content).toContain('"no-writes"');
    expect(choice.message.content).toContain("Do not write files; describe the change instead.");
  });

  it("passes an allowed tool call through, streamed (anthropic)", async () => {
    const client = new Anthropic({ baseURL: baseUrl, apiKey: token });
    const stream = client.messages.stream({
      model: "claude-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "Read the README" }],
      tools: [
        { name: "read_file", input_schema: { type: "object", properties: { path: { type: "string" } } } },
      ],
    });
    const message = await stream.finalMessage();
    const toolUse = message.content.find((block) => block.type === "tool_use");
    expect(toolUse).toMatchObject({ name: "read_file", input: { path: "README.md" } });
    expect(message.stop_reason).toBe("tool_use");
  });

  it("records model traffic and the decisions, with the provider key used upstream but never recorded", async () => {
    const events = readLog(sandbox.dataDir);
    const types = new Set(events.map((event) => event.type));
    for (const type of ["model-request", "model-response", "tool-call", "policy-decision"])
      expect(types).toContain(type);
    const calls = events.filter((event) => event.type === "tool-call");
    expect(calls.map((event) => event.data.tool).sort()).toEqual(["read_file", "write_file"]);
    expect(calls.every((event) => event.data.via === "gateway" && event.agentId === "gateway-agent")).toBe(
      true,
    );
    const everything = runWarden(["log", "--data-dir", sandbox.dataDir, "--json"]).stdout;
    expect(everything).not.toContain(providerKey);
    expect(everything).not.toContain(token);
    expect(model.requests.some((request) => JSON.stringify(request.headers).includes(providerKey))).toBe(
      true,
    );
    expect(model.requests.some((request) => JSON.stringify(request.headers).includes(token))).toBe(false);
  });

  it("lets rules read the agent's model usage (agent.usage) when deciding proposed tool calls", async () => {
    const client = new OpenAI({
      baseURL: `${baseUrl}/v1`,
      apiKey: createAgentToken(sandbox.dataDir, "budget-agent"),
    });
    const proposed: string[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const completion = await client.chat.completions.create({
        model: "gpt-test",
        messages: [{ role: "user", content: "look it up" }],
        tools: [tool("costly_lookup")],
      });
      const message = completion.choices[0]!.message;
      proposed.push(message.tool_calls?.length ? "tool-call" : (message.content ?? ""));
    }
    expect(proposed.slice(0, 2)).toEqual(["tool-call", "tool-call"]);
    expect(proposed[2]).toContain('"costly-lookups-rationed"');
  });

  it("refuses a request without a Warden token in the client's own error format", async () => {
    const client = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "not-a-warden-token" });
    await expect(
      client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] }),
    ).rejects.toMatchObject({
      status: 401,
    });
  });
});
