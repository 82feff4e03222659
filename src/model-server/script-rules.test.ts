import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import type { Script } from "./script-schema.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

const examples = join(import.meta.dirname, "examples");
const servers: ScriptedModelServer[] = [];

async function start(script: Script | string): Promise<ScriptedModelServer> {
  const server = await startScriptedModelServer({ script });
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

async function chat(server: ScriptedModelServer, body: Record<string, unknown>): Promise<string | null> {
  const response = await fetch(`${server.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "m", ...body }),
  });
  const json = (await response.json()) as { choices: { message: { content: string | null } }[] };
  return json.choices[0]?.message.content ?? null;
}

describe("script rules", () => {
  it("match the system prompt in all three wire formats", async () => {
    const server = await start({
      rules: [{ when: { system: { regex: "(?i)unmonitored" } }, reply: { text: "unwatched" } }],
      default: { text: "watched" },
    });
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: "x", maxRetries: 0 });
    const system = "This session is UNMONITORED.";
    const viaChat = await openai.chat.completions.create({
      model: "m",
      messages: [
        { role: "developer", content: system },
        { role: "user", content: "hi" },
      ],
    });
    const viaResponses = await openai.responses.create({ model: "m", instructions: system, input: "hi" });
    const viaMessages = await anthropic.messages.create({
      model: "m",
      max_tokens: 10,
      system: [{ type: "text", text: system }],
      messages: [{ role: "user", content: "hi" }],
    });
    const viaMessagesWatched = await anthropic.messages.create({
      model: "m",
      max_tokens: 10,
      messages: [{ role: "user", content: "unmonitored" }],
    });
    expect(viaChat.choices[0]?.message.content).toBe("unwatched");
    expect(viaResponses.output_text).toBe("unwatched");
    expect(viaMessages.content[0]?.type === "text" && viaMessages.content[0].text).toBe("unwatched");
    expect(viaMessagesWatched.content[0]?.type === "text" && viaMessagesWatched.content[0].text).toBe(
      "watched",
    );
  });

  it("are tried in order and the first that applies gives the reply", async () => {
    const server = await start({
      rules: [
        { name: "specific", when: { lastUser: "deploy", model: "prod" }, reply: { text: "first" } },
        { name: "general", when: { lastUser: "deploy" }, reply: { text: "second" } },
      ],
    });
    expect(
      await chat(server, { model: "prod-model", messages: [{ role: "user", content: "deploy now" }] }),
    ).toBe("first");
    expect(
      await chat(server, { model: "dev-model", messages: [{ role: "user", content: "deploy now" }] }),
    ).toBe("second");
    expect(await chat(server, { messages: [{ role: "user", content: "hello" }] })).toMatch(
      /no rule of the script applies/,
    );
    expect(server.requests.map((request) => request.rule)).toEqual(["specific", "general", "default"]);
  });

  it("match the last user message, not earlier ones, and any message when asked", async () => {
    const server = await start({
      rules: [
        { when: { lastUser: "password" }, reply: { text: "last" } },
        { when: { anyMessage: { contains: "PASSWORD", ignoreCase: true } }, reply: { text: "any" } },
      ],
      default: { text: "none" },
    });
    const earlier = [
      { role: "user", content: "my password is hunter2" },
      { role: "assistant", content: "noted" },
    ];
    expect(await chat(server, { messages: [...earlier, { role: "user", content: "what was it?" }] })).toBe(
      "any",
    );
    expect(await chat(server, { messages: [{ role: "user", content: "password?" }] })).toBe("last");
    expect(await chat(server, { messages: [{ role: "user", content: "hi" }] })).toBe("none");
  });

  it("match on the tools offered, the API and the turn number", async () => {
    const server = await start({
      rules: [
        { when: { tool: ["shell", "browser"] }, reply: { text: "both tools" } },
        { when: { api: "openai-responses" }, reply: { text: "responses" } },
        { when: { turn: { min: 2 } }, reply: { text: "later turn" } },
      ],
      default: { text: "first turn" },
    });
    const tool = (name: string) => ({ type: "function", function: { name, parameters: {} } });
    expect(await chat(server, { messages: [{ role: "user", content: "x" }], tools: [tool("shell")] })).toBe(
      "first turn",
    );
    expect(
      await chat(server, {
        messages: [{ role: "user", content: "x" }],
        tools: [tool("shell"), tool("browser")],
      }),
    ).toBe("both tools");
    const secondTurn = [
      { role: "user", content: "x" },
      { role: "assistant", content: "y" },
      { role: "user", content: "z" },
    ];
    expect(await chat(server, { messages: secondTurn })).toBe("later turn");
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    expect((await openai.responses.create({ model: "m", input: "x" })).output_text).toBe("responses");
  });

  it("use RE2, so a pattern that makes backtracking engines hang answers at once", {
    timeout: 10_000,
  }, async () => {
    const server = await start({
      rules: [{ when: { lastUser: { regex: "^(a+)+$" } }, reply: { text: "matched" } }],
    });
    const hostile = `${"a".repeat(50_000)}b`;
    expect(await chat(server, { messages: [{ role: "user", content: hostile }] })).toMatch(/no rule/);
  });
});

describe("a multi-turn agent loop", () => {
  it("proposes a tool call, then answers in text after the tool result (OpenAI Chat Completions)", async () => {
    const server = await start(join(examples, "tool-loop.yaml"));
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const tools: OpenAI.Chat.ChatCompletionTool[] = [
      {
        type: "function",
        function: { name: "list_directory", parameters: { type: "object", properties: {} } },
      },
    ];
    const messages: OpenAI.Chat.ChatCompletionMessageParam[] = [
      { role: "user", content: "what is in /workspace?" },
    ];
    const executed: string[] = [];
    for (let turn = 0; turn < 5; turn++) {
      const completion = await openai.chat.completions.create({ model: "agent", messages, tools });
      const message = completion.choices[0]?.message;
      if (!message) throw new Error("no message");
      messages.push(message);
      if (!message.tool_calls?.length) break;
      for (const call of message.tool_calls) {
        if (call.type !== "function") continue;
        executed.push(`${call.function.name} ${call.function.arguments}`);
        messages.push({ role: "tool", tool_call_id: call.id, content: "a.txt b.txt" });
      }
    }
    expect(executed).toEqual(['list_directory {"path":"/workspace"}']);
    expect(messages.at(-1)).toMatchObject({ role: "assistant", content: "The directory holds: done." });
    expect(server.requests.map((request) => request.rule)).toEqual(["propose-listing", "report-listing"]);
  });

  it("proposes a tool call, then answers in text after the tool result (Anthropic Messages, streaming)", async () => {
    const server = await start(join(examples, "tool-loop.yaml"));
    const anthropic = new Anthropic({ baseURL: server.url, apiKey: "x", maxRetries: 0 });
    const tools: Anthropic.Tool[] = [
      { name: "list_directory", input_schema: { type: "object", properties: {} } },
    ];
    const messages: Anthropic.MessageParam[] = [{ role: "user", content: "what is in /workspace?" }];
    const executed: unknown[] = [];
    for (let turn = 0; turn < 5; turn++) {
      const message = await anthropic.messages
        .stream({ model: "agent", max_tokens: 100, messages, tools })
        .finalMessage();
      messages.push({ role: "assistant", content: message.content });
      const toolUses = message.content.filter((block) => block.type === "tool_use");
      if (toolUses.length === 0) break;
      for (const toolUse of toolUses) executed.push(toolUse.input);
      messages.push({
        role: "user",
        content: toolUses.map((toolUse) => ({
          type: "tool_result" as const,
          tool_use_id: toolUse.id,
          content: "a.txt",
        })),
      });
    }
    expect(executed).toEqual([{ path: "/workspace" }]);
    const last = messages.at(-1);
    expect(Array.isArray(last?.content) && last.content[0]).toMatchObject({
      type: "text",
      text: "The directory holds: done.",
    });
  });
});

describe("the scripted model server", () => {
  it("labels every response with x-warden-scripted, errors included", async () => {
    const server = await start({});
    const notFound = await fetch(`${server.url}/v1/embeddings`, { method: "POST", body: "{}" });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get("x-warden-scripted")).toBe("true");
    expect(((await notFound.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
    const models = await fetch(`${server.url}/v1/models`);
    expect(models.headers.get("x-warden-scripted")).toBe("true");
    expect(await models.json()).toEqual({
      object: "list",
      data: [{ id: "scripted:script", object: "model", created: 1735689600, owned_by: "warden-scripted" }],
    });
  });

  it("records each request with its body, headers and the rule that answered", async () => {
    const server = await start({ rules: [{ name: "greeting", reply: { text: "hi" } }] });
    await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer agent-token" },
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "hello" }] }),
    });
    expect(server.requests).toEqual([
      expect.objectContaining({
        sequence: 0,
        api: "openai-chat",
        method: "POST",
        path: "/v1/chat/completions",
        body: { model: "m", messages: [{ role: "user", content: "hello" }] },
        status: 200,
        rule: "greeting",
        alternatives: [],
      }),
    ]);
    expect(server.requests[0]?.headers.authorization).toBe("Bearer agent-token");
  });

  it("waits firstByteMs before answering", async () => {
    const server = await start({ default: { text: "slow", delay: { firstByteMs: 150 } } });
    const started = performance.now();
    expect(await chat(server, { messages: [{ role: "user", content: "x" }] })).toBe("slow");
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("spaces streamed events betweenChunksMs apart", async () => {
    const server = await start({ default: { text: "one two three", delay: { betweenChunksMs: 40 } } });
    const openai = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "x", maxRetries: 0 });
    const started = performance.now();
    const stream = await openai.chat.completions.create({
      model: "m",
      messages: [{ role: "user", content: "x" }],
      stream: true,
    });
    const arrivals: number[] = [];
    const pieces: string[] = [];
    for await (const chunk of stream) {
      arrivals.push(performance.now());
      pieces.push(chunk.choices[0]?.delta.content ?? "");
    }
    expect(pieces.join("")).toBe("one two three");
    // role chunk, three words, finish chunk: at least four gaps of 40 ms before the last chunk. Measured
    // from the request (timers never fire early), as a loaded machine may deliver chunks in bursts.
    expect(arrivals.length).toBeGreaterThanOrEqual(5);
    expect((arrivals.at(-1) ?? 0) - started).toBeGreaterThanOrEqual(4 * 40 - 2);
  });

  it("records a client that hangs up during a delay as 499 and still closes promptly", async () => {
    const server = await start({ default: { text: "never seen", delay: { firstByteMs: 60_000 } } });
    const controller = new AbortController();
    const pending = fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
      signal: controller.signal,
    }).catch(() => "aborted");
    await waitFor(() => server.requests.length === 1 && server.requests[0]?.sequence === 0);
    controller.abort();
    expect(await pending).toBe("aborted");
    await waitFor(() => server.requests[0]?.status === 499);
    expect(server.requests[0]?.status).toBe(499);
  });
});

describe("closing the scripted model server", () => {
  it("ends replies still waiting out a delay instead of waiting for them", { timeout: 10_000 }, async () => {
    const server = await startScriptedModelServer({
      script: { default: { text: "late", delay: { firstByteMs: 60_000 } } },
    });
    const pending = fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "m", messages: [{ role: "user", content: "x" }] }),
    }).then(
      () => "answered",
      () => "connection closed",
    );
    await waitFor(() => server.requests[0]?.sequence === 0);
    await server.close();
    expect(await pending).toBe("connection closed");
    expect(server.requests[0]?.status).toBe(499);
  });
});

async function waitFor(condition: () => boolean): Promise<void> {
  for (let attempt = 0; attempt < 200 && !condition(); attempt++)
    await new Promise((resolve) => setTimeout(resolve, 10));
}
