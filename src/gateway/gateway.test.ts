import http from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { request } from "undici";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { AppendOptions } from "../core/event-store.js";
import type { EventInput, StoredEvent } from "../core/events.js";
import { silentLogger } from "../core/logger.js";
import type { CallVerdict, Oversight, ToolCallRequest } from "../core/oversight.js";
import type { Script } from "../model-server/script-schema.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../model-server/scripted-model-server.js";
import { createGateway, type Gateway, type GatewayOptions, wardenTokenFromRequest } from "./index.js";

const agentToken = "wdn_agent_test-token-for-gateway";
const openAiKey = "sk-provider-openai-secret-0123456789";
const anthropicKey = "sk-ant-provider-secret-0123456789";

const script: Script = {
  name: "gateway-test",
  models: ["gpt-test"],
  rules: [
    {
      name: "rate-limited",
      when: { lastUser: "rate limit me" },
      reply: { error: { status: 429, message: "slow down" } },
    },
    {
      name: "broken",
      when: { lastUser: "break please" },
      reply: { error: { status: 500, message: "upstream broke" } },
    },
    { name: "slow", when: { lastUser: "be slow" }, reply: { text: "late", delay: { firstByteMs: 3000 } } },
    {
      name: "long",
      when: { lastUser: "talk for a while" },
      reply: { text: "word ".repeat(20).trim(), delay: { betweenChunksMs: 100 } },
    },
    {
      name: "slow-decision",
      when: { tool: "slow_tool", afterToolResult: false },
      reply: {
        text: "Let me think about this in several words first.",
        toolCalls: [{ name: "slow_tool", arguments: { step: 1 } }],
        delay: { betweenChunksMs: 5 },
      },
    },
    {
      name: "write",
      when: { tool: "write_file", afterToolResult: false },
      reply: {
        text: "I will write the file now.",
        toolCalls: [{ name: "write_file", arguments: { path: "/etc/passwd", content: "root::0:0" } }],
      },
    },
    {
      name: "read",
      when: { tool: "read_file", afterToolResult: false },
      reply: {
        reasoning: "I should read the notes first.",
        text: "Let me read it.",
        toolCalls: [{ name: "read_file", arguments: { path: "notes.txt" } }],
      },
    },
    {
      name: "explode",
      when: { tool: "explode", afterToolResult: false },
      reply: { toolCalls: [{ name: "explode", arguments: {} }] },
    },
  ],
  default: { text: "Hello from the script." },
};

class FakeOversight implements Oversight {
  requests: ToolCallRequest[] = [];
  /** The slow_tool decision waits for this gate (at most 3 s). */
  slowToolGate: Promise<void> = Promise.resolve();
  slowToolDecidedAt = 0;

  async decideToolCall(request: ToolCallRequest): Promise<CallVerdict> {
    this.requests.push(request);
    const callId = `call-${this.requests.length}`;
    switch (request.tool) {
      case "write_file":
        return {
          effect: "deny",
          callId,
          ruleId: "no-writes",
          message: "Writing files is not allowed in this task.",
        };
      case "explode":
        throw new Error("database exploded at /var/lib/warden");
      case "hold_forever":
        return new Promise(() => {});
      case "slow_tool":
        await Promise.race([this.slowToolGate, new Promise((resolve) => setTimeout(resolve, 3000))]);
        this.slowToolDecidedAt = performance.now();
        return { effect: "allow", callId };
      default:
        return { effect: "allow", callId };
    }
  }
  async recordToolResult(): Promise<void> {}
  async checkToolDefinitions(_identity: unknown, _server: string, tools: { name: string }[]) {
    return { visible: tools.map((tool) => tool.name) };
  }
}

let upstream: ScriptedModelServer;
let oversight: FakeOversight;
let recorded: { input: EventInput; options: AppendOptions }[];
let servers: { gateway: Gateway; server: http.Server }[] = [];
let baseUrl: string;
let openai: OpenAI;
let anthropic: Anthropic;

async function startGateway(overrides: Partial<GatewayOptions> = {}): Promise<string> {
  const gateway = createGateway({
    upstreams: [
      { name: "scripted", baseUrl: upstream.url, format: "openai", apiKeyEnv: "WARDEN_TEST_OPENAI_KEY" },
      {
        name: "scripted-anthropic",
        baseUrl: upstream.url,
        format: "anthropic",
        apiKeyEnv: "WARDEN_TEST_ANTHROPIC_KEY",
        models: ["claude-*"],
      },
    ],
    oversight,
    record: async (input, options) => {
      recorded.push({ input, options });
      return { ...input, id: "x", seq: recorded.length, time: "", prevHash: "", hash: "" } as StoredEvent;
    },
    authenticate: (request) =>
      wardenTokenFromRequest(request) === agentToken ? { agentId: "agent-1" } : null,
    logger: silentLogger(),
    ...overrides,
  });
  const server = http.createServer((request, response) => {
    void gateway.handle(request, response).then((handled) => {
      if (!handled) response.writeHead(404).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  servers.push({ gateway, server });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

beforeAll(async () => {
  process.env.WARDEN_TEST_OPENAI_KEY = openAiKey;
  process.env.WARDEN_TEST_ANTHROPIC_KEY = anthropicKey;
  upstream = await startScriptedModelServer({ script });
  oversight = new FakeOversight();
  recorded = [];
  baseUrl = await startGateway();
  openai = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: agentToken, maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: baseUrl, apiKey: agentToken, maxRetries: 0 });
});

afterAll(async () => {
  for (const { gateway, server } of servers) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await gateway.close();
  }
  servers = [];
  await upstream.close();
});

beforeEach(() => {
  oversight.requests = [];
  recorded.length = 0;
});

const chatTools = (...names: string[]): OpenAI.ChatCompletionTool[] =>
  names.map((name) => ({
    type: "function",
    function: { name, parameters: { type: "object", properties: {} } },
  }));
const responseTools = (...names: string[]): OpenAI.Responses.FunctionTool[] =>
  names.map((name) => ({
    type: "function",
    name,
    parameters: { type: "object", properties: {} },
    strict: false,
  }));
const anthropicTools = (...names: string[]): Anthropic.Tool[] =>
  names.map((name) => ({ name, input_schema: { type: "object", properties: {} } }));

function recordedOf(type: string) {
  return recorded.filter((entry) => entry.input.type === type);
}

async function waitFor(condition: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe("OpenAI Chat Completions through the gateway", () => {
  it("passes an allowed tool call to the client unchanged and decides it via the gateway", async () => {
    const completion = await openai.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "read my notes" }],
      tools: chatTools("read_file"),
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    const call = choice.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("read_file");
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ path: "notes.txt" });
    expect(oversight.requests).toHaveLength(1);
    expect(oversight.requests[0]).toMatchObject({
      via: "gateway",
      method: "tools/call",
      server: "model:scripted",
      tool: "read_file",
      arguments: { path: "notes.txt" },
      agentId: "agent-1",
    });
  });

  it("replaces a denied tool call with text naming the rule and finishes with stop", async () => {
    const completion = await openai.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "write the file" }],
      tools: chatTools("write_file"),
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.tool_calls).toBeUndefined();
    expect(choice.message.content).toBe(
      'I will write the file now.\n\n[Warden] The tool call write_file was denied by rule "no-writes": Writing files is not allowed in this task.',
    );
  });

  it("denies a tool call when the decision fails, without revealing the failure", async () => {
    const completion = await openai.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "go" }],
      tools: chatTools("explode"),
    });
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.tool_calls).toBeUndefined();
    expect(choice.message.content).toContain('denied by rule "warden-unavailable"');
    expect(choice.message.content).not.toContain("database exploded");
  });

  it("denies a held tool call as pending approval once the hold cap passes", async () => {
    const rule = {
      name: "hold",
      when: { tool: "hold_forever" },
      reply: { toolCalls: [{ name: "hold_forever", arguments: {} }] },
    };
    const held = await startScriptedModelServer({
      script: { ...script, rules: [rule, ...(script.rules ?? [])] },
    });
    const heldGatewayUrl = await startGateway({
      holdCapMs: 100,
      upstreams: [{ name: "held", baseUrl: held.url, format: "openai" }],
    });
    try {
      const heldClient = new OpenAI({ baseURL: `${heldGatewayUrl}/v1`, apiKey: agentToken, maxRetries: 0 });
      const completion = await heldClient.chat.completions.create({
        model: "gpt-test",
        messages: [{ role: "user", content: "go" }],
        tools: chatTools("hold_forever"),
      });
      expect(completion.choices[0]?.finish_reason).toBe("stop");
      expect(completion.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
    } finally {
      await held.close();
    }
  });

  it("streams an allowed tool call that the SDK assembles", async () => {
    const stream = openai.chat.completions.stream({
      model: "gpt-test",
      messages: [{ role: "user", content: "read my notes" }],
      tools: chatTools("read_file"),
    });
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("tool_calls");
    expect(choice.message.content).toBe("Let me read it.");
    expect(choice.message.tool_calls?.map((call) => call.type === "function" && call.function.name)).toEqual([
      "read_file",
    ]);
    const call = choice.message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ path: "notes.txt" });
  });

  it("streams a denied tool call as text with finish reason stop", async () => {
    const stream = openai.chat.completions.stream({
      model: "gpt-test",
      messages: [{ role: "user", content: "write the file" }],
      tools: chatTools("write_file"),
    });
    const completion = await stream.finalChatCompletion();
    const choice = completion.choices[0]!;
    expect(choice.finish_reason).toBe("stop");
    expect(choice.message.tool_calls ?? []).toEqual([]);
    expect(choice.message.content).toBe(
      'I will write the file now.\n\n[Warden] The tool call write_file was denied by rule "no-writes": Writing files is not allowed in this task.',
    );
  });

  it("forwards text deltas before the tool call's decision completes", async () => {
    let openGate: () => void = () => {};
    oversight.slowToolGate = new Promise((resolve) => {
      openGate = resolve;
    });
    const stream = await openai.chat.completions.create({
      model: "gpt-test",
      stream: true,
      messages: [{ role: "user", content: "do it" }],
      tools: chatTools("slow_tool"),
    });
    let firstTextAt = 0;
    let toolCallAt = 0;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      if (delta?.content && firstTextAt === 0) {
        firstTextAt = performance.now();
        openGate();
      }
      if (delta?.tool_calls && toolCallAt === 0) toolCallAt = performance.now();
    }
    expect(firstTextAt).toBeGreaterThan(0);
    expect(oversight.slowToolDecidedAt).toBeGreaterThanOrEqual(firstTextAt);
    expect(toolCallAt).toBeGreaterThanOrEqual(oversight.slowToolDecidedAt);
  });

  it("records the request and the assembled streamed response as buffered events", async () => {
    const stream = openai.chat.completions.stream({
      model: "gpt-test",
      messages: [{ role: "user", content: "read my notes" }],
      tools: chatTools("read_file"),
      stream_options: { include_usage: true },
    });
    await stream.finalChatCompletion();
    await waitFor(() => recordedOf("model-response").length === 1);
    const [request] = recordedOf("model-request");
    const [response] = recordedOf("model-response");
    expect(request?.options).toEqual({ durability: "buffered" });
    expect(response?.options).toEqual({ durability: "buffered" });
    expect(request?.input.data).toMatchObject({
      provider: "scripted",
      model: "gpt-test",
      path: "/v1/chat/completions",
    });
    expect(response?.input.data).toMatchObject({
      provider: "scripted",
      status: 200,
      streamed: true,
      body: {
        text: "Let me read it.",
        reasoning: "I should read the notes first.",
        toolCalls: [{ name: "read_file", arguments: '{"path":"notes.txt"}', verdict: "allow" }],
        finishReason: "tool_calls",
        outcome: "complete",
      },
    });
    expect((response!.input.data as { body: { usage: unknown } }).body.usage).toMatchObject({
      total_tokens: expect.any(Number),
    });
    expect(request?.input.sessionId).toBe(response?.input.sessionId);
    expect(request?.input.agentId).toBe("agent-1");
  });

  it("sends the provider key upstream, never the agent token, and records neither", async () => {
    const before = upstream.requests.length;
    await openai.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] });
    const sent = upstream.requests[before]!;
    expect(sent.headers.authorization).toBe(`Bearer ${openAiKey}`);
    expect(JSON.stringify(sent.headers)).not.toContain(agentToken);
    await waitFor(() => recordedOf("model-response").length === 1);
    const everything = JSON.stringify(recorded);
    expect(everything).not.toContain(openAiKey);
    expect(everything).not.toContain(agentToken);
  });

  it("keeps the turns of one conversation in one session, and honours X-Warden-Session", async () => {
    const first = [
      { role: "system" as const, content: "You are careful." },
      { role: "user" as const, content: "hi" },
    ];
    await openai.chat.completions.create({ model: "gpt-test", messages: first });
    await openai.chat.completions.create({
      model: "gpt-test",
      messages: [...first, { role: "assistant", content: "Hello." }, { role: "user", content: "again" }],
    });
    await openai.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "other" }],
    });
    await openai.chat.completions.create(
      { model: "gpt-test", messages: [{ role: "user", content: "hi" }] },
      { headers: { "X-Warden-Session": "session-from-sdk" } },
    );
    const sessions = recordedOf("model-request").map((entry) => entry.input.sessionId);
    expect(sessions[0]).toBe(sessions[1]);
    expect(sessions[2]).not.toBe(sessions[0]);
    expect(sessions[3]).toBe("session-from-sdk");
  });

  it("answers 401 in OpenAI's shape without a valid Warden token, and calls no upstream", async () => {
    const before = upstream.requests.length;
    const stranger = new OpenAI({ baseURL: `${baseUrl}/v1`, apiKey: "not-a-warden-token", maxRetries: 0 });
    const error = await stranger.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect(upstream.requests.length).toBe(before);
  });

  it("passes an upstream 429 and 500 through in OpenAI's shape", async () => {
    const limited = await openai.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "rate limit me" }] })
      .catch((caught: unknown) => caught);
    expect(limited).toBeInstanceOf(OpenAI.RateLimitError);
    expect((limited as InstanceType<typeof OpenAI.APIError>).message).toContain("slow down");
    const broken = await openai.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "break please" }] })
      .catch((caught: unknown) => caught);
    expect(broken).toBeInstanceOf(OpenAI.InternalServerError);
    expect((broken as InstanceType<typeof OpenAI.APIError>).message).toContain("upstream broke");
    await waitFor(() => recordedOf("model-response").length === 2);
    expect(
      recordedOf("model-response").map((entry) => (entry.input.data as { status: number }).status),
    ).toEqual([429, 500]);
  });

  it("answers 504 when the upstream does not answer in time", async () => {
    const url = await startGateway({ upstreamTimeouts: { headersMs: 200 } });
    const client = new OpenAI({ baseURL: `${url}/v1`, apiKey: agentToken, maxRetries: 0 });
    const error = await client.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "be slow" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(504);
  });

  it("aborts the upstream request and records it when the client goes away mid-stream", async () => {
    const controller = new AbortController();
    const before = upstream.requests.length;
    const stream = await openai.chat.completions.create(
      { model: "gpt-test", stream: true, messages: [{ role: "user", content: "talk for a while" }] },
      { signal: controller.signal },
    );
    let chunks = 0;
    try {
      for await (const chunk of stream) {
        chunks++;
        if (chunk.choices[0]?.delta.content) controller.abort();
      }
    } catch {
      // The SDK may end the iteration or throw on abort; either way the client is gone.
    }
    expect(chunks).toBeLessThan(5);
    await waitFor(() => recordedOf("model-response").length === 1);
    expect(recordedOf("model-response")[0]?.input.data).toMatchObject({
      status: 499,
      streamed: true,
      body: { outcome: "client-aborted" },
    });
    // The upstream sends twenty words 100 ms apart; reading on after the client left would take about 2 s.
    const abandoned = recordedOf("model-response")[0]!.input.data as { latencyMs: number };
    expect(abandoned.latencyMs).toBeLessThan(1000);
    expect(upstream.requests[before]?.path).toBe("/v1/chat/completions");
  });

  it("lists the upstream's models", async () => {
    const models = await openai.models.list();
    expect(models.data.map((model) => model.id)).toContain("scripted:gpt-test");
  });
});

describe("OpenAI Responses through the gateway", () => {
  it("passes an allowed function call to the client", async () => {
    const response = await openai.responses.create({
      model: "gpt-test",
      input: "read my notes",
      tools: responseTools("read_file"),
    });
    const call = response.output.find((item) => item.type === "function_call");
    expect(call?.type === "function_call" && call.name).toBe("read_file");
    expect(oversight.requests[0]).toMatchObject({ tool: "read_file", arguments: { path: "notes.txt" } });
  });

  it("replaces a denied function call with a message and stays completed", async () => {
    const response = await openai.responses.create({
      model: "gpt-test",
      input: "write the file",
      tools: responseTools("write_file"),
    });
    expect(response.status).toBe("completed");
    expect(response.output.some((item) => item.type === "function_call")).toBe(false);
    expect(response.output_text).toContain(
      '[Warden] The tool call write_file was denied by rule "no-writes": Writing files is not allowed in this task.',
    );
  });

  it("streams an allowed function call and a denied one as the SDK expects", async () => {
    const allowed = await openai.responses
      .stream({ model: "gpt-test", input: "read my notes", tools: responseTools("read_file") })
      .finalResponse();
    const call = allowed.output.find((item) => item.type === "function_call");
    expect(call?.type === "function_call" && JSON.parse(call.arguments)).toEqual({ path: "notes.txt" });

    const events: string[] = [];
    const stream = openai.responses.stream({
      model: "gpt-test",
      input: "write the file",
      tools: responseTools("write_file"),
    });
    stream.on("event", (event) => events.push(event.type));
    const denied = await stream.finalResponse();
    expect(denied.status).toBe("completed");
    expect(denied.output.some((item) => item.type === "function_call")).toBe(false);
    expect(denied.output_text).toContain('denied by rule "no-writes"');
    expect(events).not.toContain("response.function_call_arguments.delta");
  });

  it("refuses provider-hosted tools with a 400 before anything reaches the upstream, and records it", async () => {
    const before = upstream.requests.length;
    const error = await openai.responses
      .create({ model: "gpt-test", input: "search", tools: [{ type: "web_search" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    expect((error as InstanceType<typeof OpenAI.APIError>).message).toContain('"web_search"');
    expect(upstream.requests.length).toBe(before);
    await waitFor(() => recordedOf("model-response").length === 1);
    expect(recordedOf("model-response")[0]?.input.data).toMatchObject({ status: 400 });
  });
});

describe("Anthropic Messages through the gateway", () => {
  it("passes an allowed tool_use block to the client", async () => {
    const message = await anthropic.messages.create({
      model: "claude-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "read my notes" }],
      tools: anthropicTools("read_file"),
    });
    expect(message.stop_reason).toBe("tool_use");
    const toolUse = message.content.find((block) => block.type === "tool_use");
    expect(toolUse?.type === "tool_use" && toolUse.input).toEqual({ path: "notes.txt" });
    expect(oversight.requests[0]).toMatchObject({ server: "model:scripted-anthropic", tool: "read_file" });
  });

  it("replaces a denied tool_use with text and ends the turn", async () => {
    const message = await anthropic.messages.create({
      model: "claude-test",
      max_tokens: 100,
      messages: [{ role: "user", content: "write the file" }],
      tools: anthropicTools("write_file"),
    });
    expect(message.stop_reason).toBe("end_turn");
    expect(message.content.some((block) => block.type === "tool_use")).toBe(false);
    const text = message.content.map((block) => (block.type === "text" ? block.text : "")).join("");
    expect(text).toContain('[Warden] The tool call write_file was denied by rule "no-writes"');
  });

  it("streams an allowed tool_use and a denied one as the SDK expects", async () => {
    const allowed = await anthropic.messages
      .stream({
        model: "claude-test",
        max_tokens: 100,
        messages: [{ role: "user", content: "read my notes" }],
        tools: anthropicTools("read_file"),
      })
      .finalMessage();
    expect(allowed.stop_reason).toBe("tool_use");
    expect(allowed.content.map((block) => block.type)).toEqual(["thinking", "text", "tool_use"]);
    const toolUse = allowed.content[2];
    expect(toolUse?.type === "tool_use" && toolUse.input).toEqual({ path: "notes.txt" });

    const denied = await anthropic.messages
      .stream({
        model: "claude-test",
        max_tokens: 100,
        messages: [{ role: "user", content: "write the file" }],
        tools: anthropicTools("write_file"),
      })
      .finalMessage();
    expect(denied.stop_reason).toBe("end_turn");
    expect(denied.content.some((block) => block.type === "tool_use")).toBe(false);
    const last = denied.content.at(-1);
    expect(last?.type === "text" && last.text).toBe(
      '[Warden] The tool call write_file was denied by rule "no-writes": Writing files is not allowed in this task.',
    );
  });

  it("records thinking from a stream and sends the provider key, not the agent token, upstream", async () => {
    const before = upstream.requests.length;
    await anthropic.messages
      .stream({
        model: "claude-test",
        max_tokens: 100,
        messages: [{ role: "user", content: "read my notes" }],
        tools: anthropicTools("read_file"),
      })
      .finalMessage();
    const sent = upstream.requests[before]!;
    expect(sent.headers["x-api-key"]).toBe(anthropicKey);
    expect(sent.headers.authorization).toBeUndefined();
    await waitFor(() => recordedOf("model-response").length === 1);
    expect(recordedOf("model-response")[0]?.input.data).toMatchObject({
      provider: "scripted-anthropic",
      streamed: true,
      body: {
        reasoning: "I should read the notes first.",
        toolCalls: [{ name: "read_file", verdict: "allow" }],
      },
    });
    expect(recordedOf("model-response")[0]?.options).toEqual({ durability: "buffered" });
    expect(JSON.stringify(recorded)).not.toContain(anthropicKey);
    expect(JSON.stringify(recorded)).not.toContain(agentToken);
  });

  it("answers 401 in Anthropic's shape without a valid Warden token", async () => {
    const stranger = new Anthropic({ baseURL: baseUrl, apiKey: "not-a-warden-token", maxRetries: 0 });
    const error = await stranger.messages
      .create({ model: "claude-test", max_tokens: 10, messages: [{ role: "user", content: "hi" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.AuthenticationError);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: "error",
      error: { type: "authentication_error" },
    });
  });

  it("refuses server tools and mcp_servers with a 400 in Anthropic's shape", async () => {
    const before = upstream.requests.length;
    const search = await anthropic.messages
      .create({
        model: "claude-test",
        max_tokens: 10,
        messages: [{ role: "user", content: "search" }],
        tools: [{ type: "web_search_20250305", name: "web_search" }],
      })
      .catch((caught: unknown) => caught);
    expect(search).toBeInstanceOf(Anthropic.BadRequestError);
    expect((search as InstanceType<typeof Anthropic.APIError>).message).toContain("web_search_20250305");
    const response = await fetch(`${baseUrl}/v1/messages`, {
      method: "POST",
      headers: {
        "x-api-key": agentToken,
        "content-type": "application/json",
        "anthropic-version": "2023-06-01",
      },
      body: JSON.stringify({
        model: "claude-test",
        max_tokens: 10,
        messages: [{ role: "user", content: "hi" }],
        mcp_servers: [{ type: "url", url: "https://example.com/mcp", name: "example" }],
      }),
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ type: "error", error: { type: "invalid_request_error" } });
    expect(upstream.requests.length).toBe(before);
  });

  it("keeps client-executed tools such as bash usable", async () => {
    const message = await anthropic.messages.create({
      model: "claude-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "hi" }],
      tools: [{ type: "bash_20250124", name: "bash" }],
    });
    expect(message.stop_reason).toBe("end_turn");
  });

  it("passes an upstream 429 through in Anthropic's shape", async () => {
    const error = await anthropic.messages
      .create({
        model: "claude-test",
        max_tokens: 10,
        messages: [{ role: "user", content: "rate limit me" }],
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.RateLimitError);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      error: { type: "rate_limit_error", message: "slow down" },
    });
  });
});

describe("malformed and unknown requests", () => {
  it("answers malformed JSON with a 400 in the client format's shape", async () => {
    const openAiAnswer = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${agentToken}`, "content-type": "application/json" },
      body: '{"model": "gpt-test", "messages": [',
    });
    expect(openAiAnswer.status).toBe(400);
    expect(await openAiAnswer.json()).toMatchObject({ error: { type: "invalid_request_error" } });
    const anthropicAnswer = await fetch(`${baseUrl}/v1/messages`, {
      method: "POST",
      headers: { "x-api-key": agentToken, "content-type": "application/json" },
      body: '{"model": "a", "model": "b"}',
    });
    expect(anthropicAnswer.status).toBe(400);
    expect(await anthropicAnswer.json()).toMatchObject({
      type: "error",
      error: { type: "invalid_request_error" },
    });
  });

  it("answers unknown routes under /v1 with a 404 and leaves other paths to the caller", async () => {
    const unknown = await fetch(`${baseUrl}/v1/embeddings`, {
      method: "POST",
      headers: { authorization: `Bearer ${agentToken}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "unknown_url" } });
    const elsewhere = await fetch(`${baseUrl}/healthz`);
    expect(elsewhere.status).toBe(404);
    expect(await elsewhere.text()).toBe("");
  });
});

describe("client retries", () => {
  const post = (
    content: string,
    headers: Record<string, string> = {},
    options: { stream?: boolean; signal?: AbortSignal } = {},
  ) =>
    request(`${baseUrl}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${agentToken}`, "content-type": "application/json", ...headers },
      body: JSON.stringify({
        model: "gpt-test",
        messages: [{ role: "user", content }],
        ...(options.stream ? { stream: true } : {}),
      }),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  const textOf = async (answer: Awaited<ReturnType<typeof post>>) =>
    ((await answer.body.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message
      .content;

  it("joins a retry to the first attempt still in flight instead of calling the model again", async () => {
    const before = upstream.requests.length;
    const first = post("be slow");
    await waitFor(() => upstream.requests.length === before + 1);
    const retry = post("be slow", { "x-stainless-retry-count": "1" });
    const [firstAnswer, retryAnswer] = await Promise.all([first, retry]);
    expect(await textOf(firstAnswer)).toBe("late");
    expect(await textOf(retryAnswer)).toBe("late");
    expect(upstream.requests.length).toBe(before + 1);
    const joined = recordedOf("model-response").find((entry) =>
      JSON.stringify(entry.input.data).includes("retry-joined"),
    );
    expect(joined?.input.data).toMatchObject({ status: 200, body: { outcome: "retry-joined" } });
  });

  it("lets a retry take over an attempt whose client gave up, within the grace", async () => {
    const before = upstream.requests.length;
    const controller = new AbortController();
    const first = post("be slow", {}, { signal: controller.signal }).catch((error: unknown) => error);
    await waitFor(() => upstream.requests.length === before + 1);
    controller.abort();
    expect(await first).toBeInstanceOf(Error);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const retry = await post("be slow", { "x-stainless-retry-count": "1" });
    expect(await textOf(retry)).toBe("late");
    expect(upstream.requests.length).toBe(before + 1);
  });

  it("never joins first attempts: identical independent requests each reach the model", async () => {
    const before = upstream.requests.length;
    await Promise.all([post("hello twice"), post("hello twice")].map(async (answer) => textOf(await answer)));
    expect(upstream.requests.length).toBe(before + 2);
  });

  it("does not replay a failed answer to a retry, and does not join streams", async () => {
    const before = upstream.requests.length;
    expect((await post("break please")).statusCode).toBe(500);
    const retry = await post("break please", { "x-stainless-retry-count": "1" });
    expect(retry.statusCode).toBe(500);
    await retry.body.text();
    const streamed = await post("stream me", {}, { stream: true });
    await streamed.body.text();
    const streamedRetry = await post("stream me", { "x-stainless-retry-count": "1" }, { stream: true });
    expect(await streamedRetry.body.text()).toContain("data:");
    expect(upstream.requests.length).toBe(before + 4);
  });

  it("replays a successful answer to a retry that arrives after it completed", async () => {
    const before = upstream.requests.length;
    const first = await textOf(await post("replay me"));
    const retry = await textOf(await post("replay me", { "x-stainless-retry-count": "2" }));
    expect(retry).toBe(first);
    expect(upstream.requests.length).toBe(before + 1);
  });
});
