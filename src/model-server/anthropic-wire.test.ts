import Anthropic from "@anthropic-ai/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Script } from "./script-schema.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

const script: Script = {
  name: "anthropic-wire",
  models: ["wire-model"],
  rules: [
    {
      name: "overloaded",
      when: { lastUser: "please fail" },
      reply: { error: { status: 529, message: "scripted overload" } },
    },
    {
      name: "tool",
      when: { tool: "read_file", afterToolResult: false },
      reply: {
        reasoning: "I need to read the file before answering.",
        text: "Let me look.",
        toolCalls: [{ name: "read_file", arguments: { path: "/workspace/notes.txt", lines: [1, 2, 3] } }],
      },
    },
    {
      name: "after-tool",
      when: { lastToolResult: "secret plans" },
      reply: { text: "The notes hold secret plans." },
    },
  ],
  default: {
    reasoning: "A greeting needs no tools.",
    text: "Hello from the script, in several streamed words.",
  },
};

const tools: Anthropic.Tool[] = [{ name: "read_file", input_schema: { type: "object", properties: {} } }];

let server: ScriptedModelServer;
let client: Anthropic;

beforeAll(async () => {
  server = await startScriptedModelServer({ script });
  client = new Anthropic({ baseURL: server.url, apiKey: "not-a-real-key", maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
});

describe("Anthropic Messages through the official SDK", () => {
  it("returns thinking and text blocks labelled as scripted", async () => {
    const { data: message, response } = await client.messages
      .create({ model: "claude-test", max_tokens: 100, messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(response.headers.get("x-warden-scripted")).toBe("true");
    expect(message.type).toBe("message");
    expect(message.model).toBe("scripted:claude-test");
    expect(message.id).toMatch(/^msg_scripted_/);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.content.map((block) => block.type)).toEqual(["thinking", "text"]);
    const [thinking, text] = message.content;
    expect(thinking?.type === "thinking" && thinking.thinking).toBe("A greeting needs no tools.");
    expect(thinking?.type === "thinking" && thinking.signature.length).toBeGreaterThan(0);
    expect(text?.type === "text" && text.text).toBe("Hello from the script, in several streamed words.");
    expect(message.usage.input_tokens).toBeGreaterThan(0);
  });

  it("returns a tool_use block with an object input and stop_reason tool_use", async () => {
    const message = await client.messages.create({
      model: "claude-test",
      max_tokens: 100,
      tools,
      messages: [{ role: "user", content: "what is in my notes?" }],
    });
    expect(message.stop_reason).toBe("tool_use");
    const toolUse = message.content.find((block) => block.type === "tool_use");
    expect(toolUse?.type === "tool_use" && toolUse.name).toBe("read_file");
    expect(toolUse?.type === "tool_use" && toolUse.input).toEqual({
      path: "/workspace/notes.txt",
      lines: [1, 2, 3],
    });
    expect(toolUse?.type === "tool_use" && toolUse.id).toMatch(/^toolu_scripted_/);
  });

  it("streams thinking, text and input JSON deltas that the SDK assembles into the same message", async () => {
    const stream = client.messages.stream({
      model: "claude-test",
      max_tokens: 100,
      tools,
      messages: [{ role: "user", content: "what is in my notes?" }],
    });
    const thinking: string[] = [];
    const text: string[] = [];
    const json: string[] = [];
    const eventTypes: string[] = [];
    stream.on("thinking", (delta) => thinking.push(delta));
    stream.on("text", (delta) => text.push(delta));
    stream.on("inputJson", (delta) => json.push(delta));
    stream.on("streamEvent", (event) => eventTypes.push(event.type));
    const message = await stream.finalMessage();
    expect(eventTypes[0]).toBe("message_start");
    expect(eventTypes.slice(-2)).toEqual(["message_delta", "message_stop"]);
    expect(thinking.join("")).toBe("I need to read the file before answering.");
    expect(text.join("")).toBe("Let me look.");
    expect(json.filter((piece) => piece !== "").length).toBeGreaterThan(1);
    expect(message.stop_reason).toBe("tool_use");
    expect(message.content.map((block) => block.type)).toEqual(["thinking", "text", "tool_use"]);
    const toolUse = message.content[2];
    expect(toolUse?.type === "tool_use" && toolUse.input).toEqual({
      path: "/workspace/notes.txt",
      lines: [1, 2, 3],
    });
    const thinkingBlock = message.content[0];
    expect(thinkingBlock?.type === "thinking" && thinkingBlock.signature.length).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(1);
  });

  it("streams raw events in the documented order through the low-level API", async () => {
    const stream = await client.messages.create({
      model: "claude-test",
      max_tokens: 100,
      stream: true,
      messages: [{ role: "user", content: "hi" }],
    });
    const shape: string[] = [];
    for await (const event of stream) {
      if (event.type === "content_block_delta") shape.push(`delta:${event.delta.type}`);
      else if (event.type === "content_block_start") shape.push(`start:${event.content_block.type}`);
      else shape.push(event.type);
    }
    const compact = shape.filter((entry, index) => entry !== shape[index - 1]);
    expect(compact).toEqual([
      "message_start",
      "start:thinking",
      "delta:thinking_delta",
      "delta:signature_delta",
      "content_block_stop",
      "start:text",
      "delta:text_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
  });

  it("reads tool_result blocks as tool results and answers in text", async () => {
    const first = await client.messages.create({
      model: "claude-test",
      max_tokens: 100,
      tools,
      messages: [{ role: "user", content: "what is in my notes?" }],
    });
    const toolUse = first.content.find((block) => block.type === "tool_use");
    if (toolUse?.type !== "tool_use") throw new Error("expected a tool_use block");
    const second = await client.messages.create({
      model: "claude-test",
      max_tokens: 100,
      tools,
      messages: [
        { role: "user", content: "what is in my notes?" },
        { role: "assistant", content: first.content },
        {
          role: "user",
          content: [{ type: "tool_result", tool_use_id: toolUse.id, content: "secret plans" }],
        },
      ],
    });
    expect(second.stop_reason).toBe("end_turn");
    expect(second.content).toEqual([{ type: "text", text: "The notes hold secret plans.", citations: null }]);
  });

  it("answers a scripted 529 in Anthropic's error shape, which the SDK raises as OverloadedError", async () => {
    const failure = await client.messages
      .create({ model: "claude-test", max_tokens: 100, messages: [{ role: "user", content: "please fail" }] })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.InternalServerError);
    const error = failure as InstanceType<typeof Anthropic.InternalServerError>;
    expect(error.status).toBe(529);
    expect(error.type).toBe("overloaded_error");
    expect(error.requestID).toMatch(/^req_scripted_/);
    expect(error.error).toMatchObject({
      type: "error",
      error: { type: "overloaded_error", message: "scripted overload" },
    });
  });

  it("rejects a request without max_tokens with 400 and Anthropic's error shape", async () => {
    const failure = await client.messages
      .create({
        model: "claude-test",
        messages: [{ role: "user", content: "hi" }],
      } as unknown as Anthropic.MessageCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(Anthropic.BadRequestError);
    const error = failure as InstanceType<typeof Anthropic.BadRequestError>;
    expect(error.type).toBe("invalid_request_error");
    expect(error.error).toMatchObject({ type: "error", error: { message: "max_tokens: Field required" } });
  });

  it("rejects a body that is not JSON with 400 and Anthropic's error shape", async () => {
    const response = await fetch(`${server.url}/v1/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "anthropic-version": "2023-06-01" },
      body: "{not json",
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { type: string; error: { type: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("invalid_request_error");
  });

  it("lists the script's models in Anthropic's shape through the SDK", async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model);
    expect(models.map((model) => model.id)).toEqual(["scripted:wire-model"]);
    expect(models[0]?.type).toBe("model");
  });
});
