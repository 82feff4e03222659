import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Script } from "./script-schema.js";
import { type ScriptedModelServer, startScriptedModelServer } from "./scripted-model-server.js";

const script: Script = {
  name: "openai-wire",
  models: ["wire-model"],
  rules: [
    {
      name: "rate-limited",
      when: { lastUser: "please fail" },
      reply: { error: { status: 429, message: "scripted rate limit" } },
    },
    {
      name: "tool",
      when: { tool: "get_weather", afterToolResult: false },
      reply: {
        reasoning: "The user wants weather; I will call the tool.",
        text: "Checking.",
        toolCalls: [
          {
            name: "get_weather",
            arguments: { city: "Zürich", units: "metric", note: "a long note to split into pieces" },
          },
          { name: "get_time", arguments: { zone: "Europe/Zurich" } },
        ],
      },
    },
    {
      name: "after-tool",
      when: { afterToolResult: true },
      reply: { text: "It is 21 degrees in Zürich." },
    },
  ],
  default: { reasoning: "Greeting back.", text: "Hello from the script, with several words to stream." },
};

const tools: OpenAI.Chat.ChatCompletionTool[] = [
  { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: {} } } },
  { type: "function", function: { name: "get_time", parameters: { type: "object", properties: {} } } },
];
const responseTools: OpenAI.Responses.FunctionTool[] = [
  { type: "function", name: "get_weather", parameters: { type: "object", properties: {} }, strict: false },
];

let server: ScriptedModelServer;
let client: OpenAI;

beforeAll(async () => {
  server = await startScriptedModelServer({ script });
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "not-a-real-key", maxRetries: 0 });
});
afterAll(async () => {
  await server.close();
});

describe("OpenAI Chat Completions through the official SDK", () => {
  it("returns a text completion labelled as scripted", async () => {
    const { data: completion, response } = await client.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "hi" }] })
      .withResponse();
    expect(response.headers.get("x-warden-scripted")).toBe("true");
    expect(completion.object).toBe("chat.completion");
    expect(completion.model).toBe("scripted:gpt-test");
    expect(completion.id).toMatch(/^chatcmpl-scripted-/);
    expect(completion.system_fingerprint).toBe("scripted");
    expect(completion.choices[0]?.message.content).toBe(
      "Hello from the script, with several words to stream.",
    );
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    // Not in OpenAI's types: the vLLM/DeepSeek `reasoning_content` extension, passed through by the SDK.
    expect(completion.choices[0]?.message).toHaveProperty("reasoning_content", "Greeting back.");
    expect(completion.usage?.total_tokens).toBe(
      (completion.usage?.prompt_tokens ?? 0) + (completion.usage?.completion_tokens ?? 0),
    );
  });

  it("returns tool calls with JSON string arguments and finish_reason tool_calls", async () => {
    const completion = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "weather?" }],
      tools,
    });
    const choice = completion.choices[0];
    expect(choice?.finish_reason).toBe("tool_calls");
    const calls = choice?.message.tool_calls ?? [];
    expect(calls.map((call) => (call.type === "function" ? call.function.name : call.type))).toEqual([
      "get_weather",
      "get_time",
    ]);
    const first = calls[0];
    expect(first?.type === "function" && JSON.parse(first.function.arguments)).toEqual({
      city: "Zürich",
      units: "metric",
      note: "a long note to split into pieces",
    });
    expect(first?.id).toMatch(/^call_scripted_/);
  });

  it("streams text deltas that the SDK's stream helper assembles into the same completion", async () => {
    const stream = client.chat.completions.stream({
      model: "gpt-test",
      messages: [{ role: "user", content: "hi" }],
      stream_options: { include_usage: true },
    });
    const deltas: string[] = [];
    stream.on("content", (delta) => deltas.push(delta));
    const completion = await stream.finalChatCompletion();
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.join("")).toBe("Hello from the script, with several words to stream.");
    expect(completion.choices[0]?.message.content).toBe(
      "Hello from the script, with several words to stream.",
    );
    expect(completion.choices[0]?.finish_reason).toBe("stop");
    expect(completion.model).toBe("scripted:gpt-test");
    expect(completion.usage?.completion_tokens).toBeGreaterThan(0);
  });

  it("streams tool-call argument deltas that concatenate to the scripted arguments", async () => {
    const stream = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "weather?" }],
      tools,
      stream: true,
    });
    const argumentPieces = new Map<number, string[]>();
    const names = new Map<number, string>();
    let finishReason: string | null = null;
    let sawUsage = false;
    for await (const chunk of stream) {
      expect(chunk.object).toBe("chat.completion.chunk");
      if (chunk.usage) sawUsage = true;
      const choice = chunk.choices[0];
      if (!choice) continue;
      finishReason = choice.finish_reason ?? finishReason;
      for (const call of choice.delta.tool_calls ?? []) {
        if (call.function?.name) names.set(call.index, call.function.name);
        if (call.function?.arguments)
          argumentPieces.set(call.index, [
            ...(argumentPieces.get(call.index) ?? []),
            call.function.arguments,
          ]);
      }
    }
    expect(finishReason).toBe("tool_calls");
    expect(sawUsage).toBe(false);
    expect([...names.values()]).toEqual(["get_weather", "get_time"]);
    expect(argumentPieces.get(0)?.length).toBeGreaterThan(1);
    expect(JSON.parse(argumentPieces.get(0)?.join("") ?? "")).toMatchObject({ city: "Zürich" });
    expect(JSON.parse(argumentPieces.get(1)?.join("") ?? "")).toEqual({ zone: "Europe/Zurich" });
  });

  it("answers with text once the tool result is in the conversation", async () => {
    const first = await client.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "weather?" }],
      tools,
    });
    const message = first.choices[0]?.message;
    const call = message?.tool_calls?.[0];
    if (!message || !call) throw new Error("expected a tool call");
    const second = await client.chat.completions.create({
      model: "gpt-test",
      messages: [
        { role: "user", content: "weather?" },
        message,
        { role: "tool", tool_call_id: call.id, content: "21C" },
      ],
      tools,
    });
    expect(second.choices[0]?.message.content).toBe("It is 21 degrees in Zürich.");
    expect(second.choices[0]?.message.tool_calls).toBeUndefined();
  });

  it("answers a scripted error in OpenAI's error shape, which the SDK raises as RateLimitError", async () => {
    const failure = await client.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "please fail" }] })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
    const error = failure as InstanceType<typeof OpenAI.RateLimitError>;
    expect(error.status).toBe(429);
    expect(error.message).toContain("scripted rate limit");
    expect(error.error).toMatchObject({ message: "scripted rate limit", code: "rate_limit_exceeded" });
  });

  it("answers a scripted error to a streaming request before any event, so the SDK raises it", async () => {
    const failure = await client.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "please fail" }], stream: true })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.RateLimitError);
  });

  it("rejects a request without messages with 400 and OpenAI's error shape", async () => {
    const failure = await client.chat.completions
      .create({ model: "gpt-test" } as unknown as OpenAI.Chat.ChatCompletionCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    expect((failure as InstanceType<typeof OpenAI.BadRequestError>).error).toEqual({
      message: "Missing required parameter: 'messages'.",
      type: "invalid_request_error",
      param: "messages",
      code: "missing_required_parameter",
    });
  });

  it("rejects a body that is not JSON with 400 and OpenAI's error shape", async () => {
    const response = await fetch(`${server.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"model": "gpt-test", "messages": [',
    });
    expect(response.status).toBe(400);
    expect(response.headers.get("x-warden-scripted")).toBe("true");
    const body = (await response.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.message).toContain("could not parse the JSON body");
  });

  it("lists the script's models, labelled, through the SDK", async () => {
    const models = [];
    for await (const model of client.models.list()) models.push(model.id);
    expect(models).toEqual(["scripted:wire-model"]);
  });
});

describe("OpenAI Responses through the official SDK", () => {
  it("returns reasoning, a message and a function call as output items", async () => {
    const response = await client.responses.create({
      model: "gpt-test",
      instructions: "Be brief.",
      input: "weather?",
      tools: responseTools,
    });
    expect(response.object).toBe("response");
    expect(response.status).toBe("completed");
    expect(response.model).toBe("scripted:gpt-test");
    expect(response.id).toMatch(/^resp_scripted_/);
    expect(response.output.map((item) => item.type)).toEqual([
      "reasoning",
      "message",
      "function_call",
      "function_call",
    ]);
    expect(response.output_text).toBe("Checking.");
    const reasoning = response.output[0];
    expect(reasoning?.type === "reasoning" && reasoning.summary[0]?.text).toBe(
      "The user wants weather; I will call the tool.",
    );
    const call = response.output[2];
    expect(call?.type === "function_call" && call.name).toBe("get_weather");
    expect(call?.type === "function_call" && JSON.parse(call.arguments)).toMatchObject({ city: "Zürich" });
    expect(response.usage?.output_tokens_details.reasoning_tokens).toBeGreaterThan(0);
  });

  it("streams events the SDK's stream helper assembles into the same response", async () => {
    const stream = client.responses.stream({ model: "gpt-test", input: "weather?", tools: responseTools });
    const types: string[] = [];
    const argumentDeltas: string[] = [];
    const textDeltas: string[] = [];
    stream.on("event", (event) => types.push(event.type));
    stream.on("response.function_call_arguments.delta", (event) => argumentDeltas.push(event.delta));
    stream.on("response.output_text.delta", (event) => textDeltas.push(event.delta));
    const response = await stream.finalResponse();
    expect(types[0]).toBe("response.created");
    expect(types.at(-1)).toBe("response.completed");
    expect(types).toContain("response.reasoning_summary_text.delta");
    expect(textDeltas.join("")).toBe("Checking.");
    expect(response.output_text).toBe("Checking.");
    expect(response.output.map((item) => item.type)).toEqual([
      "reasoning",
      "message",
      "function_call",
      "function_call",
    ]);
    const call = response.output[2];
    expect(call?.type === "function_call" && call.arguments).toBe(
      JSON.stringify({ city: "Zürich", units: "metric", note: "a long note to split into pieces" }),
    );
    expect(argumentDeltas.length).toBeGreaterThan(1);
    expect(response.usage?.total_tokens).toBeGreaterThan(0);
  });

  it("numbers stream events from zero without gaps", async () => {
    const stream = await client.responses.create({ model: "gpt-test", input: "hello", stream: true });
    const sequenceNumbers: number[] = [];
    for await (const event of stream) sequenceNumbers.push(event.sequence_number);
    expect(sequenceNumbers).toEqual(sequenceNumbers.map((_, index) => index));
  });

  it("reads a function_call_output item as a tool result and answers in text", async () => {
    const response = await client.responses.create({
      model: "gpt-test",
      input: [
        { role: "user", content: "weather?" },
        { type: "function_call", call_id: "call_1", name: "get_weather", arguments: "{}" },
        { type: "function_call_output", call_id: "call_1", output: "21C" },
      ],
      tools: responseTools,
    });
    expect(response.output_text).toBe("It is 21 degrees in Zürich.");
    expect(response.output.map((item) => item.type)).toEqual(["message"]);
  });

  it("rejects a request without a model with 400 and OpenAI's error shape", async () => {
    const failure = await client.responses
      .create({ input: "hi" } as unknown as OpenAI.Responses.ResponseCreateParamsNonStreaming)
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(OpenAI.BadRequestError);
    expect((failure as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ param: "model" });
  });
});
