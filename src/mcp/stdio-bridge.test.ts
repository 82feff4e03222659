import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { PassThrough, Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { Client, type ClientOptions } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import {
  CallToolResultSchema,
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  EmptyResultSchema,
  ListRootsRequestSchema,
  McpError,
} from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { pino } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { deferred, FakeOversight } from "../../test/fixtures/mcp/fake-oversight.js";
import { silentLogger } from "../core/logger.js";
import { CALL_DENIED_ERROR_CODE, createStdioBridge, type StdioBridge, type TrafficEvent } from "./index.js";

const require = createRequire(import.meta.url);
const filesystemServer = require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
const everythingServer = require.resolve("@modelcontextprotocol/server-everything/dist/index.js");
const scriptedServer = fileURLToPath(new URL("../../test/fixtures/mcp/scripted-server.mjs", import.meta.url));

interface Connection {
  client: Client;
  bridge: StdioBridge;
  /** Writes straight into the bridge's stdin, next to the client. */
  agentInput: PassThrough;
  /** Every line the bridge wrote to its stdout. */
  agentOutput: string[];
  traffic: TrafficEvent[];
  logs: () => { level: number; msg: string }[];
}

let workspace: string;
const connections: Connection[] = [];

beforeEach(() => {
  workspace = mkdtempSync(path.join(tmpdir(), "warden-mcp-"));
});

afterEach(async () => {
  for (const connection of connections.splice(0)) {
    await connection.client.close().catch(() => {});
    await connection.bridge.close();
  }
  rmSync(workspace, { recursive: true, force: true });
});

async function connect(
  oversight: FakeOversight,
  options: {
    upstream?: "filesystem" | "everything" | "scripted";
    capabilities?: NonNullable<ClientOptions["capabilities"]>;
    sessionId?: string;
    command?: string;
  } = {},
): Promise<Connection> {
  const upstream = options.upstream ?? "filesystem";
  const agentInput = new PassThrough();
  const agentOutputStream = new PassThrough();
  const agentOutput: string[] = [];
  let partial = "";
  agentOutputStream.on("data", (chunk: Buffer) => {
    const lines = (partial + chunk.toString("utf8")).split("\n");
    partial = lines.pop()!;
    agentOutput.push(...lines);
  });
  const logLines: string[] = [];
  const logger = pino(
    { level: "info" },
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logLines.push(chunk.toString("utf8"));
        callback();
      },
    }),
  );
  const traffic: TrafficEvent[] = [];
  const args = {
    filesystem: [filesystemServer, workspace],
    everything: [everythingServer],
    scripted: [scriptedServer],
  }[upstream];
  const bridge = createStdioBridge({
    serverName: upstream,
    command: options.command ?? process.execPath,
    args,
    agentId: "test-agent",
    ...(options.sessionId ? { sessionId: options.sessionId } : {}),
    oversight,
    input: agentInput,
    output: agentOutputStream,
    logger,
    onTraffic: (event) => traffic.push(event),
  });
  await bridge.start();
  const client = new Client(
    { name: "warden-test-agent", version: "1.0.0" },
    { capabilities: options.capabilities ?? {} },
  );
  // The SDK's stdio server transport is a plain newline-JSON transport over any pair of streams.
  await client.connect(new StdioServerTransport(agentOutputStream, agentInput));
  const connection = {
    client,
    bridge,
    agentInput,
    agentOutput,
    traffic,
    logs: () => logLines.map((line) => JSON.parse(line) as { level: number; msg: string }),
  };
  connections.push(connection);
  return connection;
}

function textOf(result: unknown): string {
  const content = (result as { content?: { type: string; text?: string }[] }).content ?? [];
  return content.map((item) => item.text ?? "").join("\n");
}

const settle = (ms = 50) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the stdio bridge in front of @modelcontextprotocol/server-filesystem", () => {
  it("forwards an allowed call and returns the result only after it is recorded", async () => {
    const oversight = new FakeOversight();
    const recording = deferred();
    const recordStarted = deferred();
    oversight.record = () => {
      recordStarted.resolve();
      return recording.promise;
    };
    const { client } = await connect(oversight);
    const target = path.join(workspace, "hello.txt");
    let returned = false;
    const pending = client
      .callTool({ name: "write_file", arguments: { path: target, content: "hello" } })
      .then((result) => {
        returned = true;
        return result;
      });
    await recordStarted.promise;
    expect(readFileSync(target, "utf8")).toBe("hello");
    await settle();
    expect(returned).toBe(false);
    recording.resolve();
    const result = await pending;
    expect(result.isError).toBeFalsy();
    const [call] = oversight.calls;
    expect(call).toMatchObject({
      via: "mcp",
      method: "tools/call",
      server: "filesystem",
      tool: "write_file",
      arguments: { path: target, content: "hello" },
      agentId: "test-agent",
    });
    const [recorded] = oversight.results;
    expect(recorded).toMatchObject({ callId: "call-1", isError: false, result });
    expect(recorded!.identity).toEqual({
      agentId: call!.agentId,
      sessionId: call!.sessionId,
      traceId: call!.traceId,
      spanId: call!.spanId,
    });
  });

  it("denies a call without forwarding it and names the rule and its message in an error result", async () => {
    const oversight = new FakeOversight();
    oversight.decide = () => ({
      effect: "deny",
      callId: "call-1",
      ruleId: "no-writes",
      message: "Writes need a reviewed change set.",
    });
    const { client } = await connect(oversight);
    const target = path.join(workspace, "denied.txt");
    const result = await client.callTool({ name: "write_file", arguments: { path: target, content: "x" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('Denied by rule "no-writes": Writes need a reviewed change set.');
    expect(existsSync(target)).toBe(false);
    expect(oversight.results).toEqual([]);
  });

  it("denies a call as warden-unavailable when the decision cannot be made", async () => {
    const oversight = new FakeOversight();
    oversight.decide = () => {
      throw new Error("connect ECONNREFUSED /run/warden.sock");
    };
    const { client } = await connect(oversight);
    const target = path.join(workspace, "unreachable.txt");
    const result = await client.callTool({ name: "write_file", arguments: { path: target, content: "x" } });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^Denied by rule "warden-unavailable": Warden could not decide this call/);
    expect(textOf(result)).not.toContain("ECONNREFUSED");
    expect(existsSync(target)).toBe(false);
  });

  it("withholds the upstream result from the agent when it cannot be recorded", async () => {
    const oversight = new FakeOversight();
    oversight.record = () => {
      throw new Error("disk full");
    };
    const { client } = await connect(oversight);
    writeFileSync(path.join(workspace, "secret.txt"), "the secret content");
    const result = await client.callTool({
      name: "read_text_file",
      arguments: { path: path.join(workspace, "secret.txt") },
    });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(
      /^Denied by rule "warden-unavailable": Warden could not record the result/,
    );
    expect(JSON.stringify(result)).not.toContain("the secret content");
  });

  it("records an upstream tool error as an error result and passes it back", async () => {
    const oversight = new FakeOversight();
    const { client } = await connect(oversight);
    const outside = path.join(tmpdir(), "definitely-outside-the-workspace.txt");
    const result = await client.callTool({ name: "read_text_file", arguments: { path: outside } });
    expect(result.isError).toBe(true);
    expect(oversight.results).toEqual([expect.objectContaining({ isError: true, result })]);
  });

  it("shows only the tools Oversight reports visible and sends it every full definition", async () => {
    const oversight = new FakeOversight();
    oversight.visible = (tools) => tools.map((tool) => tool.name).filter((name) => name !== "write_file");
    const { client } = await connect(oversight);
    const names = (await client.listTools()).tools.map((tool) => tool.name);
    expect(names).toContain("read_text_file");
    expect(names).not.toContain("write_file");
    const [check] = oversight.definitionChecks;
    expect(check!.server).toBe("filesystem");
    const writeFile = check!.tools.find((tool) => tool.name === "write_file");
    expect(writeFile!.definition).toMatchObject({
      name: "write_file",
      description: expect.any(String),
      inputSchema: expect.any(Object),
    });
  });

  it("shows no tools and says why when the definitions cannot be checked", async () => {
    const oversight = new FakeOversight();
    oversight.visible = () => {
      throw new Error("daemon gone");
    };
    const { client } = await connect(oversight);
    await expect(client.listTools()).rejects.toThrow(/could not check the tool definitions/);
  });

  it("refuses a method it does not know with -32601 and does not forward it", async () => {
    const oversight = new FakeOversight();
    const { client, traffic } = await connect(oversight);
    const refused = await client
      .request({ method: "tools/delete", params: {} }, EmptyResultSchema)
      .catch((error: McpError) => error);
    expect(refused).toBeInstanceOf(McpError);
    expect((refused as McpError).code).toBe(-32601);
    expect((refused as McpError).message).toContain("tools/delete");
    await client.ping();
    // The filesystem server would have answered -32601 too, but with its own words and after
    // seeing the request; only the agent's side shows it.
    expect(
      traffic.filter(
        (event) =>
          event.from === "agent" && "method" in event.message && event.message.method === "tools/delete",
      ),
    ).toHaveLength(1);
    expect(oversight.calls).toEqual([]);
  });

  it("handles calls concurrently, so a call waiting for a decision does not hold up another", async () => {
    const oversight = new FakeOversight();
    const held = deferred();
    oversight.decide = async (request) => {
      if ((request.arguments as { path?: string }).path?.endsWith("held.txt")) await held.promise;
      return { effect: "allow", callId: `call-${request.spanId}` };
    };
    const { client } = await connect(oversight);
    writeFileSync(path.join(workspace, "held.txt"), "held");
    writeFileSync(path.join(workspace, "quick.txt"), "quick");
    let heldDone = false;
    const heldCall = client
      .callTool({ name: "read_text_file", arguments: { path: path.join(workspace, "held.txt") } })
      .then((result) => {
        heldDone = true;
        return result;
      });
    const quick = await client.callTool({
      name: "read_text_file",
      arguments: { path: path.join(workspace, "quick.txt") },
    });
    expect(textOf(quick)).toBe("quick");
    expect(heldDone).toBe(false);
    held.resolve();
    expect(textOf(await heldCall)).toBe("held");
  });

  it("does not forward a call the agent cancelled while it was being decided, and records it as cancelled", async () => {
    const oversight = new FakeOversight();
    const decision = deferred();
    oversight.decide = async () => {
      await decision.promise;
      return { effect: "allow", callId: "call-cancelled" };
    };
    const { client } = await connect(oversight);
    const target = path.join(workspace, "cancelled.txt");
    const controller = new AbortController();
    const pending = client
      .callTool({ name: "write_file", arguments: { path: target, content: "x" } }, CallToolResultSchema, {
        signal: controller.signal,
      })
      .catch((error: Error) => error);
    await settle();
    controller.abort("changed my mind");
    expect(await pending).toBeInstanceOf(Error);
    decision.resolve();
    await settle(200);
    expect(existsSync(target)).toBe(false);
    expect(oversight.results).toEqual([
      expect.objectContaining({
        callId: "call-cancelled",
        isError: true,
        result: expect.objectContaining({ cancelled: true }),
      }),
    ]);
  });

  it("takes the session from params._meta unless the operator fixed one, with one trace per session and a span per call", async () => {
    const oversight = new FakeOversight();
    const { client } = await connect(oversight);
    const list = { name: "list_allowed_directories", arguments: {} };
    await client.callTool({ ...list, _meta: { "warden/session": "session-a" } });
    await client.callTool(list);
    await client.callTool(list);
    const [named, first, second] = oversight.calls;
    expect(named!.sessionId).toBe("session-a");
    expect(first!.sessionId).not.toBe("session-a");
    expect(second!.sessionId).toBe(first!.sessionId);
    expect(second!.traceId).toBe(first!.traceId);
    expect(named!.traceId).not.toBe(first!.traceId);
    expect(second!.spanId).not.toBe(first!.spanId);

    const fixedOversight = new FakeOversight();
    const fixed = await connect(fixedOversight, { sessionId: "operator-session" });
    await fixed.client.callTool({ ...list, _meta: { "warden/session": "session-a" } });
    expect(fixedOversight.calls[0]!.sessionId).toBe("operator-session");
  });

  it("answers malformed lines with JSON-RPC errors and keeps serving", async () => {
    const oversight = new FakeOversight();
    const { client, agentInput, agentOutput } = await connect(oversight, {});
    // Lines that are not JSON-RPC at all, so none can be taken for a request.
    const garbage = fc.oneof(
      fc.string({ unit: "binary", maxLength: 100 }),
      fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value) ?? "null"),
      fc.constant('{"jsonrpc":"2.0","id":1,"method":"ping","method":"ping"}'),
      fc.constant(`{"pad":"${"x".repeat(5 * 1024 * 1024)}"}`),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          garbage.map((line) => line.replaceAll("\n", " ")),
          { maxLength: 8 },
        ),
        async (lines) => {
          const before = agentOutput.length;
          for (const line of lines) agentInput.write(`${line}\n`);
          await client.ping();
          const replies = agentOutput
            .slice(before)
            .map((line) => JSON.parse(line) as { id: unknown; error?: unknown });
          const errors = replies.filter((reply) => reply.id === null);
          expect(errors.length).toBeLessThanOrEqual(lines.filter((line) => line.trim() !== "").length);
          for (const error of errors)
            expect(error.error).toMatchObject({ code: expect.any(Number), message: expect.any(String) });
          expect(replies.length - errors.length).toBe(1); // the ping's answer
        },
      ),
      { numRuns: 25 },
    );
    expect(oversight.calls).toEqual([]);
  });

  it("answers a second request that reuses an id still in flight with -32600", async () => {
    const oversight = new FakeOversight();
    const decision = deferred();
    oversight.decide = async () => {
      await decision.promise;
      return { effect: "allow", callId: "call-1" };
    };
    const { agentInput, agentOutput } = await connect(oversight);
    const call = {
      jsonrpc: "2.0",
      id: "dup",
      method: "tools/call",
      params: { name: "list_allowed_directories", arguments: {} },
    };
    agentInput.write(`${JSON.stringify(call)}\n${JSON.stringify(call)}\n`);
    await settle();
    expect(agentOutput.map((line) => JSON.parse(line))).toContainEqual({
      jsonrpc: "2.0",
      id: "dup",
      error: { code: -32600, message: expect.stringContaining("already in use") },
    });
    decision.resolve();
    await settle(200);
    const answers = agentOutput
      .map((line) => JSON.parse(line) as { id: unknown; result?: unknown })
      .filter((reply) => reply.id === "dup");
    expect(answers).toHaveLength(2);
    expect(answers[1]!.result).toBeDefined();
  });

  it("refuses to start, naming the server, when the upstream command cannot be run", async () => {
    const bridge = createStdioBridge({
      serverName: "missing",
      command: path.join(workspace, "no-such-command"),
      args: [],
      agentId: "test-agent",
      oversight: new FakeOversight(),
      input: new PassThrough(),
      output: new PassThrough(),
      logger: silentLogger(),
    });
    await expect(bridge.start()).rejects.toThrow(/could not start MCP server "missing"/);
    await bridge.closed;
  });

  it("stops the upstream server and closes when the agent hangs up", async () => {
    const { bridge, agentInput, client } = await connect(new FakeOversight());
    await client.ping();
    agentInput.end();
    await bridge.closed;
  });
});

describe("the stdio bridge in front of @modelcontextprotocol/server-everything", () => {
  it("puts a server's sampling request through decideToolCall and forwards it to the agent when allowed", async () => {
    const oversight = new FakeOversight();
    const { client } = await connect(oversight, { upstream: "everything", capabilities: { sampling: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, async () => ({
      model: "scripted-test-model",
      role: "assistant",
      content: { type: "text", text: "sampled by the agent" },
    }));
    const result = await client.callTool({
      name: "trigger-sampling-request",
      arguments: { prompt: "hello", maxTokens: 10 },
    });
    expect(textOf(result)).toContain("sampled by the agent");
    const sampling = oversight.calls.find((call) => call.method === "sampling/createMessage");
    expect(sampling).toMatchObject({
      via: "mcp",
      server: "everything",
      tool: "sampling/createMessage",
      agentId: "test-agent",
    });
    expect(JSON.stringify(sampling!.arguments)).toContain("hello");
    expect(oversight.log).toEqual([
      "decide:trigger-sampling-request",
      "decide:sampling/createMessage",
      `record:call-2`,
      `record:call-1`,
    ]);
  });

  it("denies a server's sampling request with a JSON-RPC error naming the rule, and the agent's model is never asked", async () => {
    const oversight = new FakeOversight();
    oversight.decide = (request) =>
      request.method === "sampling/createMessage"
        ? {
            effect: "deny",
            callId: "sampling",
            ruleId: "no-sampling",
            message: "Servers may not use the agent's model.",
          }
        : { effect: "allow", callId: "tool" };
    const { client } = await connect(oversight, { upstream: "everything", capabilities: { sampling: {} } });
    let sampled = false;
    client.setRequestHandler(CreateMessageRequestSchema, async () => {
      sampled = true;
      return { model: "m", role: "assistant", content: { type: "text", text: "x" } };
    });
    const result = await client.callTool({
      name: "trigger-sampling-request",
      arguments: { prompt: "hello", maxTokens: 10 },
    });
    expect(sampled).toBe(false);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain(`Denied by rule "no-sampling": Servers may not use the agent's model.`);
  });

  it("puts a server's elicitation request through decideToolCall", async () => {
    const oversight = new FakeOversight();
    const { client } = await connect(oversight, {
      upstream: "everything",
      capabilities: { elicitation: { form: {} } },
    });
    client.setRequestHandler(ElicitRequestSchema, async () => ({ action: "decline" }));
    await client.callTool({ name: "trigger-elicitation-request", arguments: {} });
    expect(oversight.calls.map((call) => call.method)).toEqual(["tools/call", "elicitation/create"]);
  });

  it("puts resources/read and prompts/get through decideToolCall and denies them with a JSON-RPC error", async () => {
    const oversight = new FakeOversight();
    oversight.decide = (request) => ({
      effect: "deny",
      callId: "c",
      ruleId: "no-reads",
      message: `Not ${request.tool}.`,
    });
    const { client } = await connect(oversight, { upstream: "everything" });
    const { resources } = await client.listResources();
    const uri = resources[0]!.uri;
    const read = await client.readResource({ uri }).catch((error: McpError) => error);
    expect(read).toBeInstanceOf(McpError);
    expect((read as McpError).code).toBe(CALL_DENIED_ERROR_CODE);
    expect((read as McpError).message).toContain(`Denied by rule "no-reads": Not ${uri}.`);
    const { prompts } = await client.listPrompts();
    const prompt = await client.getPrompt({ name: prompts[0]!.name }).catch((error: McpError) => error);
    expect((prompt as McpError).code).toBe(CALL_DENIED_ERROR_CODE);
    expect(oversight.calls.map((call) => [call.method, call.tool])).toEqual([
      ["resources/read", uri],
      ["prompts/get", prompts[0]!.name],
    ]);
  });

  it("hides the tasks capability, whose results would arrive unrecorded", async () => {
    const { client, traffic } = await connect(new FakeOversight(), { upstream: "everything" });
    const upstreamInitialize = traffic.find(
      (event) =>
        event.from === "upstream" && "result" in event.message && "capabilities" in event.message.result,
    );
    expect(
      upstreamInitialize &&
        "result" in upstreamInitialize.message &&
        upstreamInitialize.message.result.capabilities,
    ).toHaveProperty("tasks");
    expect(client.getServerCapabilities()).not.toHaveProperty("tasks");
    expect(client.getServerCapabilities()).toHaveProperty("tools");
  });
});

describe("the stdio bridge in front of a scripted server", () => {
  it("gives server requests ids of its own and translates the answer back", async () => {
    const oversight = new FakeOversight();
    const { client, traffic } = await connect(oversight, {
      upstream: "scripted",
      capabilities: { roots: {} },
    });
    client.setRequestHandler(ListRootsRequestSchema, async () => ({ roots: [] }));
    const result = await client.callTool({ name: "ask", arguments: { method: "roots/list", params: {} } });
    const answer = JSON.parse(textOf(result)) as { id: unknown; result: unknown };
    expect(answer).toEqual({ jsonrpc: "2.0", id: "server-1", result: { roots: [] } });
    const seenByAgent = traffic.find(
      (event) => event.from === "agent" && "result" in event.message && "roots" in event.message.result,
    );
    expect(seenByAgent && "id" in seenByAgent.message ? seenByAgent.message.id : undefined).toEqual(
      expect.any(Number),
    );
  });

  it("refuses a server request it does not know with -32601 and never shows it to the agent", async () => {
    const { client, agentOutput } = await connect(new FakeOversight(), { upstream: "scripted" });
    const result = await client.callTool({ name: "ask", arguments: { method: "tasks/list", params: {} } });
    const answer = JSON.parse(textOf(result)) as { error: { code: number; message: string } };
    expect(answer.error.code).toBe(-32601);
    expect(answer.error.message).toContain("tasks/list");
    expect(agentOutput.filter((line) => line.includes('"method":"tasks/list"'))).toEqual([]);
  });

  it("records an upstream JSON-RPC error as an error result and passes the error back", async () => {
    const oversight = new FakeOversight();
    const { client } = await connect(oversight, { upstream: "scripted" });
    const failure = await client.callTool({ name: "fail", arguments: {} }).catch((error: McpError) => error);
    expect(failure).toBeInstanceOf(McpError);
    expect((failure as McpError).code).toBe(-32602);
    expect((failure as McpError).message).toContain("scripted failure");
    expect(oversight.results).toEqual([
      expect.objectContaining({ isError: true, result: { code: -32602, message: "scripted failure" } }),
    ]);
  });

  it("answers the pending call with an error, records it, and closes with a clear log line when the server exits", async () => {
    const oversight = new FakeOversight();
    const { client, bridge, logs } = await connect(oversight, { upstream: "scripted" });
    const failure = await client.callTool({ name: "die", arguments: {} }).catch((error: McpError) => error);
    expect(failure).toBeInstanceOf(McpError);
    expect((failure as McpError).message).toMatch(/upstream MCP server "scripted" closed the connection/);
    await bridge.closed;
    expect(oversight.results).toEqual([expect.objectContaining({ callId: "call-1", isError: true })]);
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: 'upstream MCP server "scripted" exited; closing the bridge',
      }),
    );
    expect(logs()).toContainEqual(
      expect.objectContaining({
        level: 50,
        msg: "upstream stderr before it exited",
        stderr: "scripted server: exiting as asked",
      }),
    );
  });
});
