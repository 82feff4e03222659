import type { ChildProcess } from "node:child_process";
import OpenAI from "openai";
import { afterEach, describe, expect, it } from "vitest";
import { parseScript, startScriptedModelServer } from "../src/model-server/index.js";
import { WardenClient } from "../src/sdk/index.js";
import {
  createAgentToken,
  createSandbox,
  readLog,
  type Sandbox,
  startWardenUp,
  waitFor,
} from "./helpers/mcp-client.js";
import { type OtlpReceiver, startOtlpReceiver } from "./helpers/otlp-receiver.js";

// The scripted model server stands in for the model (a test instrument, labelled as scripted).
const script = `name: otlp-test
rules:
  - when: { tool: write_file, afterToolResult: false }
    reply:
      text: "I will write the file."
      toolCalls: [{ name: write_file, arguments: { path: notes.md, content: hi } }]
default: { text: Hello from the script. }
`;

const constitution = `version: 1
default: deny
rules:
  - id: notes-allowed
    when: 'tool.name == "write_note"'
    effect: allow
    rationale: Notes are the agent's own scratch space.
  - id: no-writes
    when: 'tool.name == "write_file"'
    effect: deny
    rationale: Writes go through review.
    message: Do not write files; describe the change instead.
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function setUp(protocol: "http/protobuf" | "http/json") {
  const parsed = parseScript(script, "otlp-test.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  const model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  cleanups.push(() => model.close());
  const receiver = await startOtlpReceiver();
  cleanups.push(() => receiver.close());
  const sandbox: Sandbox = createSandbox(constitution);
  const { daemon, baseUrl } = await startWardenUp(
    sandbox,
    ["--upstream", `openai=${model.url}`, "--otlp-endpoint", receiver.url, "--otlp-protocol", protocol],
    { OPENAI_API_KEY: "sk-provider-key-0123456789abcdefghij" },
  );
  cleanups.push(() => {
    daemon.kill("SIGKILL");
    sandbox.cleanup();
  });
  const token = createAgentToken(sandbox.dataDir, "agent-otlp");
  return { receiver, sandbox, daemon, baseUrl, token };
}

async function driveAgent(baseUrl: string, token: string) {
  const client = new OpenAI({
    baseURL: `${baseUrl}/v1`,
    apiKey: token,
    defaultHeaders: { "x-warden-session": "s-otlp" },
  });
  const tools = [
    {
      type: "function" as const,
      function: { name: "write_file", parameters: { type: "object", properties: {} } },
    },
  ];
  await client.chat.completions.create({
    model: "gpt-test",
    messages: [{ role: "user", content: "Write the notes file." }],
    tools,
  });
  await client.chat.completions.create({ model: "gpt-test", messages: [{ role: "user", content: "Hello" }] });
  const sdk = new WardenClient({ baseUrl, token, sessionId: "s-otlp" });
  const writeNote = sdk.guard("write_note", async ({ text }: { text: string }) => ({ saved: text.length }), {
    server: "notes",
  });
  await writeNote({ text: "remember the milk" });
}

function bySpanName(receiver: OtlpReceiver, prefix: string) {
  return receiver.spans.filter((span) => span.name.startsWith(prefix));
}

describe("OTLP export", () => {
  for (const protocol of ["http/protobuf", "http/json"] as const) {
    it(`sends model calls, tool calls and decisions as GenAI spans (${protocol})`, async () => {
      const { receiver, sandbox, baseUrl, token } = await setUp(protocol);
      await driveAgent(baseUrl, token);
      const chats = await waitFor(() => {
        const found = bySpanName(receiver, "chat ");
        return found.length >= 2 && bySpanName(receiver, "execute_tool ").length >= 2 ? found : null;
      }, 20_000);
      expect(
        receiver.requests.every((request) =>
          request.contentType.startsWith(
            protocol === "http/json" ? "application/json" : "application/x-protobuf",
          ),
        ),
      ).toBe(true);

      const requests = readLog(sandbox.dataDir, ["--type", "model-request"]);
      expect(requests).toHaveLength(2);
      for (const chat of chats) {
        expect(chat.service).toBe("warden");
        expect(chat.kind).toBe(3); // CLIENT
        expect(chat.attributes["gen_ai.operation.name"]).toBe("chat");
        expect(chat.attributes["gen_ai.request.model"]).toBe("gpt-test");
        expect(chat.attributes["gen_ai.conversation.id"]).toBe("s-otlp");
        expect(chat.attributes["gen_ai.agent.name"]).toBe("agent-otlp");
        expect(chat.attributes["http.response.status_code"]).toBe(200);
        expect(typeof chat.attributes["gen_ai.usage.input_tokens"]).toBe("number");
        expect(chat.endNanos).toBeGreaterThanOrEqual(chat.startNanos);
        // The trace is the one in Warden's own log.
        expect(requests.map((event) => (event as unknown as { traceId: string }).traceId)).toContain(
          chat.traceId,
        );
      }

      const denied = bySpanName(receiver, "execute_tool write_file")[0]!;
      expect(denied.attributes["gen_ai.tool.name"]).toBe("write_file");
      expect(denied.attributes["warden.decision.effect"]).toBe("deny");
      expect(denied.attributes["warden.decision.rule_id"]).toBe("no-writes");
      expect(denied.attributes["error.type"]).toBe("denied");
      expect(denied.status.code).toBe(2); // ERROR
      expect(denied.events.map((event) => event.name)).toContain("warden.policy_decision");
      // A tool call the model proposed is a child of its model call's span.
      const proposing = chats.find((chat) => chat.attributes["warden.tool_calls.proposed"] === 1)!;
      expect(denied.parentSpanId).toBe(proposing.spanId);
      expect(denied.traceId).toBe(proposing.traceId);

      const note = bySpanName(receiver, "execute_tool write_note")[0]!;
      expect(note.attributes["warden.decision.effect"]).toBe("allow");
      expect(note.attributes["warden.tool.server"]).toBe("sdk:notes");
      expect(typeof note.attributes["warden.tool.latency_ms"]).toBe("number");
      expect(note.status.code).toBe(1); // OK
    }, 60_000);
  }

  it("keeps exporting after the collector fails, without losing spans", async () => {
    const { receiver, baseUrl, token } = await setUp("http/protobuf");
    receiver.failNext(3, 503);
    await driveAgent(baseUrl, token);
    await waitFor(() => bySpanName(receiver, "execute_tool write_note").length >= 1, 30_000);
    expect(receiver.requests.length).toBeGreaterThanOrEqual(4);
    expect(bySpanName(receiver, "chat ").length).toBeGreaterThanOrEqual(2);
    expect(bySpanName(receiver, "execute_tool write_file").length).toBeGreaterThanOrEqual(1);
  }, 60_000);

  it("does not slow the agent when the collector is unreachable", async () => {
    const receiver = await startOtlpReceiver();
    const deadUrl = receiver.url;
    await receiver.close();
    const parsed = parseScript(script, "otlp-test.yaml");
    if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
    const model = await startScriptedModelServer({ script: parsed.script, port: 0 });
    cleanups.push(() => model.close());
    const sandbox = createSandbox(constitution);
    const started: { daemon: ChildProcess; baseUrl: string } = await startWardenUp(
      sandbox,
      ["--upstream", `openai=${model.url}`, "--otlp-endpoint", deadUrl],
      { OPENAI_API_KEY: "sk-provider-key-0123456789abcdefghij" },
    );
    cleanups.push(() => {
      started.daemon.kill("SIGKILL");
      sandbox.cleanup();
    });
    const token = createAgentToken(sandbox.dataDir, "agent-otlp");
    const client = new OpenAI({ baseURL: `${started.baseUrl}/v1`, apiKey: token, maxRetries: 0 });
    const begun = performance.now();
    for (let index = 0; index < 20; index++)
      await client.chat.completions.create({
        model: "gpt-test",
        messages: [{ role: "user", content: "Hello" }],
      });
    // 20 calls in well under the exporter's first back-off: nothing waited for the collector.
    expect(performance.now() - begun).toBeLessThan(10_000);
    expect(readLog(sandbox.dataDir, ["--type", "model-response"])).toHaveLength(20);
  }, 60_000);

  it("refuses a bad endpoint or protocol with a clear message", async () => {
    const sandbox = createSandbox(constitution);
    cleanups.push(() => sandbox.cleanup());
    const { runWarden } = await import("./helpers/mcp-client.js");
    const badUrl = runWarden(["up", "--data-dir", sandbox.dataDir, "--otlp-endpoint", "collector:4318"]);
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toMatch(/--otlp-endpoint must be an http\(s\) URL/);
    const badProtocol = runWarden([
      "up",
      "--data-dir",
      sandbox.dataDir,
      "--otlp-endpoint",
      "http://127.0.0.1:4318/v1/traces",
      "--otlp-protocol",
      "grpc",
    ]);
    expect(badProtocol.code).toBe(2);
    expect(badProtocol.stderr).toMatch(/http\/protobuf or http\/json/);
  });
});
