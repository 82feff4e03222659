import http from "node:http";
import type { AddressInfo } from "node:net";
import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import type { EventInput } from "../src/core/events.js";
import { silentLogger } from "../src/core/logger.js";
import type { CallVerdict, Oversight } from "../src/core/oversight.js";
import { createGateway, type Gateway } from "../src/gateway/index.js";

// A raw node:http upstream that misbehaves on purpose, chosen by the last user message.
type Behaviour = (response: http.ServerResponse) => void;

const sse = (response: http.ServerResponse) =>
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
const chatChunk = (content: string) =>
  `data: ${JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion.chunk",
    created: 1,
    model: "gpt-test",
    choices: [{ index: 0, delta: { content }, finish_reason: null }],
  })}\n\n`;
const anthropicEvent = (event: string, data: unknown) => `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
const messageStart = anthropicEvent("message_start", {
  type: "message_start",
  message: {
    id: "msg_1",
    type: "message",
    role: "assistant",
    model: "claude-test",
    content: [],
    stop_reason: null,
    stop_sequence: null,
    usage: { input_tokens: 3, output_tokens: 1 },
  },
});
const oneMiB = 1024 * 1024;

const behaviours: Record<string, Behaviour> = {
  "broken sse": (response) => {
    sse(response);
    response.write(chatChunk("Hello"));
    response.write('data: {"choices": [{"delta": \n\n');
    response.end(chatChunk(" never seen"));
  },
  "close mid-stream": (response) => {
    sse(response);
    response.write(messageStart);
    response.write(
      anthropicEvent("content_block_start", {
        type: "content_block_start",
        index: 0,
        content_block: { type: "text", text: "" },
      }),
    );
    response.write(
      anthropicEvent("content_block_delta", {
        type: "content_block_delta",
        index: 0,
        delta: { type: "text_delta", text: "Half a sent" },
      }),
      () => setTimeout(() => response.socket?.destroy(), 20),
    );
  },
  "responses cut short": (response) => {
    sse(response);
    const event = (type: string, data: Record<string, unknown>, sequence: number) =>
      `event: ${type}\ndata: ${JSON.stringify({ type, ...data, sequence_number: sequence })}\n\n`;
    response.write(
      event(
        "response.created",
        { response: { id: "resp_1", object: "response", status: "in_progress", output: [] } },
        0,
      ),
    );
    response.write(
      event(
        "response.output_text.delta",
        { item_id: "msg_1", output_index: 0, content_index: 0, delta: "Par" },
        1,
      ),
    );
    response.end();
  },
  "upstream error event": (response) => {
    sse(response);
    response.write(messageStart);
    response.end(
      anthropicEvent("error", { type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
    );
  },
  "end without finishing": (response) => {
    sse(response);
    response.write(chatChunk("Hello"));
    response.end();
  },
  "slow drip": (response) => {
    sse(response);
    response.write(chatChunk("Hel"));
    const timer = setInterval(() => {
      if (response.destroyed) return clearInterval(timer);
      response.write(":\n");
    }, 600);
    response.on("close", () => clearInterval(timer));
  },
  "endless event": (response) => {
    sse(response);
    response.write(`data: "${"x".repeat(2 * oneMiB)}`);
    setTimeout(() => response.end('"\n\n'), 200);
  },
  "truncated json": (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end('{"id":"chatcmpl-1","object":"chat.completion","choices":[{"index":0,"mess');
  },
  "close mid-body": (response) => {
    response.writeHead(200, { "content-type": "application/json", "content-length": "1000" });
    response.write('{"id":"chatcmpl-1","object":"chat.');
    setTimeout(() => response.socket?.destroy(), 20);
  },
  "huge body": (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        id: "msg_1",
        type: "message",
        content: [{ type: "text", text: "y".repeat(2 * oneMiB) }],
      }),
    );
  },
  fine: (response) => {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        id: "chatcmpl-2",
        object: "chat.completion",
        created: 1,
        model: "gpt-test",
        choices: [{ index: 0, message: { role: "assistant", content: "all well" }, finish_reason: "stop" }],
      }),
    );
  },
};

const allowAll: Oversight = {
  decideToolCall: async (): Promise<CallVerdict> => ({ effect: "allow", callId: "call-1" }),
  recordToolResult: async () => {},
  checkToolDefinitions: async (_identity, _server, tools) => ({ visible: tools.map((tool) => tool.name) }),
};

let upstream: http.Server;
let gateway: Gateway;
let server: http.Server;
let recorded: EventInput[];
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  upstream = http.createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on("end", () => {
      const body = JSON.parse(text) as { messages?: { content: string }[]; input?: string };
      const behaviour = behaviours[body.messages?.at(-1)?.content ?? body.input ?? ""] ?? behaviours.fine!;
      behaviour(response);
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gateway = createGateway({
    upstreams: [
      { name: "hostile", baseUrl: upstreamUrl, format: "openai" },
      { name: "hostile-anthropic", baseUrl: upstreamUrl, format: "anthropic" },
    ],
    oversight: allowAll,
    record: async (input) => {
      recorded.push(input);
      return input as never;
    },
    authenticate: () => ({ agentId: "agent-1" }),
    logger: silentLogger(),
    upstreamTimeouts: { bodyMs: 300 },
    maxUpstreamBytes: oneMiB,
  });
  server = http.createServer((request, response) => void gateway.handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  openai = new OpenAI({ baseURL: `${url}/v1`, apiKey: "unused", maxRetries: 0 });
  anthropic = new Anthropic({ baseURL: url, apiKey: "unused", maxRetries: 0 });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await gateway.close();
  upstream.closeAllConnections();
  await new Promise((resolve) => upstream.close(resolve));
});

beforeEach(() => {
  recorded = [];
});

async function recordedResponse(): Promise<{
  status: number;
  streamed: boolean;
  body: Record<string, unknown>;
}> {
  const deadline = Date.now() + 3000;
  for (;;) {
    const response = recorded.find((event) => event.type === "model-response");
    if (response) {
      expect(recorded.filter((event) => event.type === "model-request")).toHaveLength(1);
      return response.data as never;
    }
    if (Date.now() > deadline) throw new Error("no model-response recorded");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

async function streamChat(content: string): Promise<{ text: string; error: unknown }> {
  let text = "";
  try {
    const stream = await openai.chat.completions.create({
      model: "gpt-test",
      stream: true,
      messages: [{ role: "user", content }],
    });
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    return { text, error: undefined };
  } catch (error) {
    return { text, error };
  }
}

describe("a hostile upstream, streaming", () => {
  it("cuts a stream at a malformed event and raises a clear error in the OpenAI client", async () => {
    const { text, error } = await streamChat("broken sse");
    expect(text).toBe("Hello");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain('Upstream "hostile" sent a malformed stream event.');
    expect(await recordedResponse()).toMatchObject({
      streamed: true,
      body: { outcome: "upstream-malformed", text: "Hello" },
    });
  });

  it("raises a clear error in the Anthropic client when the upstream closes mid-stream", async () => {
    const stream = anthropic.messages.stream({
      model: "claude-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "close mid-stream" }],
    });
    const error = await stream.finalMessage().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toMatch(/hostile-anthropic.*(broke off|ended the stream)/);
    expect((await recordedResponse()).body).toMatchObject({ text: "Half a sent" });
    expect((await recordedResponse()).body.outcome).toMatch(/^upstream-(error|truncated)$/);
  });

  it("raises a clear error in the OpenAI client when a Responses stream ends early", async () => {
    const stream = await openai.responses.create({
      model: "gpt-test",
      input: "responses cut short",
      stream: true,
    });
    let text = "";
    const error = await (async () => {
      for await (const event of stream) if (event.type === "response.output_text.delta") text += event.delta;
    })().catch((caught: unknown) => caught);
    expect(text).toBe("Par");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as Error).message).toContain("ended the stream before it was complete");
    expect((await recordedResponse()).body.outcome).toBe("upstream-truncated");
  });

  it("passes the upstream's own error event on without adding a second one", async () => {
    const stream = anthropic.messages.stream({
      model: "claude-test",
      max_tokens: 10,
      messages: [{ role: "user", content: "upstream error event" }],
    });
    const error = await stream.finalMessage().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as Error).message).toContain("Overloaded");
    expect((await recordedResponse()).body).toMatchObject({
      outcome: "upstream-error-event",
      upstreamError: { error: { type: "overloaded_error", message: "Overloaded" } },
    });
  });

  it("treats a stream that ends without its final event as incomplete", async () => {
    const { text, error } = await streamChat("end without finishing");
    expect(text).toBe("Hello");
    expect((error as Error).message).toContain("ended the stream before it was complete");
    expect((await recordedResponse()).body.outcome).toBe("upstream-truncated");
  });

  it("gives up on a slow drip that goes quiet for longer than the body timeout", async () => {
    const { text, error } = await streamChat("slow drip");
    expect(text).toBe("Hel");
    expect((error as Error).message).toContain('Upstream "hostile" did not answer in time.');
    expect((await recordedResponse()).body.outcome).toBe("upstream-timeout");
  });

  it("refuses a stream event larger than the upstream limit instead of buffering it", async () => {
    const { error } = await streamChat("endless event");
    expect((error as Error).message).toContain("stream event larger than 1048576 bytes");
    expect((await recordedResponse()).body.outcome).toBe("upstream-error");
  });
});

describe("a hostile upstream, not streaming", () => {
  it("answers truncated JSON with a 502 in OpenAI's shape and records it", async () => {
    const error = await openai.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "truncated json" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as Error).message).toContain("a body that is not JSON");
    expect(await recordedResponse()).toMatchObject({ status: 502, streamed: false });
  });

  it("answers a body the upstream breaks off with a 502 that says so", async () => {
    const error = await openai.chat.completions
      .create({ model: "gpt-test", messages: [{ role: "user", content: "close mid-body" }] })
      .catch((caught: unknown) => caught);
    expect((error as InstanceType<typeof OpenAI.APIError>).status).toBe(502);
    expect((error as Error).message).toContain("broke off its answer part way");
    expect((await recordedResponse()).status).toBe(502);
  });

  it("answers a body over the upstream limit with a 502 in Anthropic's shape", async () => {
    const error = await anthropic.messages
      .create({ model: "claude-test", max_tokens: 10, messages: [{ role: "user", content: "huge body" }] })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(Anthropic.APIError);
    expect((error as InstanceType<typeof Anthropic.APIError>).status).toBe(502);
    expect((error as InstanceType<typeof Anthropic.APIError>).error).toMatchObject({
      type: "error",
      error: { type: "api_error", message: expect.stringContaining("more than 1048576 bytes") },
    });
    expect((await recordedResponse()).status).toBe(502);
  });

  it("keeps serving after every one of these", async () => {
    const completion = await openai.chat.completions.create({
      model: "gpt-test",
      messages: [{ role: "user", content: "fine" }],
    });
    expect(completion.choices[0]?.message.content).toBe("all well");
  });
});
