import { PassThrough } from "node:stream";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { StrictStdioServerTransport } from "./strict-stdio-transport.js";

interface Harness {
  input: PassThrough;
  transport: StrictStdioServerTransport;
  received: JSONRPCMessage[];
  replies: () => Record<string, unknown>[];
  closed: () => boolean;
}

const open: StrictStdioServerTransport[] = [];
afterEach(async () => {
  for (const transport of open.splice(0)) await transport.close();
});

async function harness(maxMessageBytes?: number): Promise<Harness> {
  const input = new PassThrough();
  const output = new PassThrough();
  let written = "";
  output.on("data", (chunk: Buffer) => {
    written += chunk.toString("utf8");
  });
  const transport = new StrictStdioServerTransport(input, output, { maxMessageBytes });
  const received: JSONRPCMessage[] = [];
  let closed = false;
  transport.onmessage = (message) => received.push(message);
  transport.onclose = () => {
    closed = true;
  };
  await transport.start();
  open.push(transport);
  return {
    input,
    transport,
    received,
    replies: () =>
      written
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    closed: () => closed,
  };
}

/** Lets queued stream events run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

const ping = '{"jsonrpc":"2.0","id":7,"method":"ping"}';

describe("StrictStdioServerTransport", () => {
  it("delivers each newline-delimited message, even when split across chunks", async () => {
    const { input, received } = await harness();
    input.write('{"jsonrpc":"2.0","id":1,"meth');
    input.write('od":"ping"}\n{"jsonrpc":"2.0","method":"notifications/initialized"}\r\n');
    await settle();
    expect(received).toEqual([
      { jsonrpc: "2.0", id: 1, method: "ping" },
      { jsonrpc: "2.0", method: "notifications/initialized" },
    ]);
  });

  it.each([
    ["malformed JSON", "{not json", -32700],
    ["a duplicate key", '{"jsonrpc":"2.0","id":1,"method":"ping","method":"tools/call"}', -32700],
    ["an integer beyond 2^53", '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}', -32700],
    ["a lone surrogate", '{"jsonrpc":"2.0","id":1,"method":"\\ud800"}', -32700],
    ["a batch", `[${ping}]`, -32600],
    ["a message with neither method nor result", '{"jsonrpc":"2.0"}', -32600],
    ["a response-shaped object with an id", '{"jsonrpc":"2.0","id":3,"outcome":1}', -32600],
  ])("answers %s with one JSON-RPC error with id null and keeps serving", async (_name, line, code) => {
    const { input, received, replies } = await harness();
    input.write(`${line}\n${ping}\n`);
    await settle();
    expect(replies()).toEqual([{ jsonrpc: "2.0", id: null, error: { code, message: expect.any(String) } }]);
    expect(received).toEqual([JSON.parse(ping)]);
  });

  it.each([
    ["an unknown member", '{"jsonrpc":"2.0","id":"abc","method":"ping","extra":true}', "abc"],
    ["no jsonrpc member", '{"id":1,"method":"ping"}', 1],
  ])("answers an invalid request with %s using the request's own id", async (_name, line, id) => {
    const { input, replies } = await harness();
    input.write(`${line}\n`);
    await settle();
    expect(replies()).toEqual([{ jsonrpc: "2.0", id, error: { code: -32600, message: expect.any(String) } }]);
  });

  it("rejects bytes that are not UTF-8 instead of replacing them", async () => {
    const { input, received, replies } = await harness();
    input.write(
      Buffer.concat([
        Buffer.from('{"jsonrpc":"2.0","id":1,"method":"pi'),
        Buffer.from([0xff]),
        Buffer.from('ng"}\n'),
      ]),
    );
    await settle();
    expect(received).toEqual([]);
    expect(replies()).toEqual([
      { jsonrpc: "2.0", id: null, error: { code: -32700, message: expect.stringMatching(/UTF-8/) } },
    ]);
  });

  it("refuses an oversized line once, skips the rest of it without buffering, and reads the next line", async () => {
    const { input, received, replies } = await harness(1024);
    input.write(`{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"${"x".repeat(800)}`);
    input.write("y".repeat(4096));
    input.write("z".repeat(4096));
    input.write(`"}}\n${ping}\n`);
    await settle();
    expect(replies()).toEqual([
      { jsonrpc: "2.0", id: null, error: { code: -32600, message: "message is larger than 1024 bytes" } },
    ]);
    expect(received).toEqual([JSON.parse(ping)]);
  });

  it("accepts a line of exactly the maximum size", async () => {
    const { input, received, replies } = await harness(ping.length);
    input.write(`${ping}\n`);
    await settle();
    expect(replies()).toEqual([]);
    expect(received).toHaveLength(1);
  });

  it("ignores blank lines", async () => {
    const { input, received, replies } = await harness();
    input.write(`\n  \n\r\n${ping}\n`);
    await settle();
    expect(replies()).toEqual([]);
    expect(received).toHaveLength(1);
  });

  it("closes when its input ends", async () => {
    const { input, closed } = await harness();
    input.end();
    await settle();
    expect(closed()).toBe(true);
  });

  it("never answers a garbage line more than once and keeps serving after any of them", async () => {
    const garbageLine = fc.oneof(
      fc.string({ unit: "binary", maxLength: 200 }),
      fc.jsonValue({ maxDepth: 3 }).map((value) => JSON.stringify(value) ?? "null"),
      fc
        .record({
          jsonrpc: fc.constantFrom("2.0", "1.0"),
          id: fc.jsonValue({ maxDepth: 1 }),
          method: fc.string(),
        })
        .map((value) => JSON.stringify(value)),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          garbageLine.map((line) => line.replaceAll("\n", " ")),
          { maxLength: 20 },
        ),
        async (lines) => {
          const { input, received, replies, transport } = await harness(256);
          for (const line of lines) input.write(`${line}\n`);
          input.write(`${ping}\n`);
          await settle();
          const answered = replies().length;
          const delivered = received.length;
          expect(answered + delivered).toBeLessThanOrEqual(lines.length + 1);
          expect(received.at(-1)).toEqual(JSON.parse(ping));
          for (const reply of replies())
            expect(reply).toMatchObject({ jsonrpc: "2.0", error: { code: expect.any(Number) } });
          await transport.close();
        },
      ),
      { numRuns: 200 },
    );
  });
});
