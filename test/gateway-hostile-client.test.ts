import type { ChildProcess } from "node:child_process";
import net from "node:net";
import { request } from "undici";
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
  startWardenUp,
} from "./helpers/mcp-client.js";

// Requests an adversarial agent might send the gateway. Each must get a clear error in the
// client's format, reach no upstream, and leave the daemon serving.
let sandbox: Sandbox;
let model: ScriptedModelServer;
let daemon: ChildProcess;
let baseUrl: string;
let token: string;

beforeAll(async () => {
  const parsed = parseScript("name: hostile-client\nrules: []\ndefault: { text: fine }\n", "script.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  model = await startScriptedModelServer({ script: parsed.script, port: 0 });
  sandbox = createSandbox("version: 1\ndefault: allow\nrules: []\n");
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--upstream", `openai=${model.url}`], {
    OPENAI_API_KEY: "sk-provider-abcdefghijklmnop",
  }));
  token = createAgentToken(sandbox.dataDir, "hostile");
});

afterAll(async () => {
  daemon.kill("SIGTERM");
  await model.close();
  sandbox.cleanup();
});

async function post(body: string | Buffer, headers: Record<string, string> = {}) {
  const answer = await request(`${baseUrl}/v1/chat/completions`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
    body,
  });
  const text = await answer.body.text();
  return { status: answer.statusCode, text };
}

const hostileBodies: [string, string | Buffer][] = [
  ["duplicate keys (a parser-differential trick)", '{"model":"gpt-test","model":"other","messages":[]}'],
  ["invalid UTF-8", Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])],
  ["nesting 100,000 deep", `${"[".repeat(100_000)}${"]".repeat(100_000)}`],
  ["a lone surrogate", '{"model":"gpt-test","messages":[{"role":"user","content":"\\ud800"}]}'],
  ["an integer beyond 2^53", '{"model":"gpt-test","max_tokens":9007199254740993,"messages":[]}'],
  ["a JSON array instead of an object", "[1,2,3]"],
  ["trailing garbage", '{"model":"gpt-test","messages":[]} {"again":true}'],
  ["an empty body", ""],
];

describe("hostile client requests to the gateway", () => {
  for (const [name, body] of hostileBodies) {
    it(`answers ${name} with a 400 in OpenAI's error shape and calls no upstream`, async () => {
      const before = model.requests.length;
      const answer = await post(body);
      expect(answer.status).toBe(400);
      const parsed = JSON.parse(answer.text) as { error: { message: string; type: string } };
      expect(parsed.error.message.length).toBeGreaterThan(0);
      expect(answer.text).not.toMatch(/at .*\.js:\d+/); // no stack trace
      expect(model.requests.length).toBe(before);
    });
  }

  it("answers a body over the size limit with a 413 without buffering it all", async () => {
    const before = model.requests.length;
    const answer = await post(Buffer.alloc(33 * 1024 * 1024, 0x20));
    expect(answer.status).toBe(413);
    expect(model.requests.length).toBe(before);
  });

  it("ignores a malformed X-Warden-Session header instead of trusting it", async () => {
    const answer = await post('{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}', {
      "x-warden-session": "a b c ".repeat(50),
    });
    expect(answer.status).toBe(200);
    const requests = readLog(sandbox.dataDir, ["--type", "model-request"]);
    expect(requests.at(-1)!.sessionId).toMatch(/^conversation-[0-9a-f]{24}$/);
  });

  it("closes a connection that sends a malformed HTTP request, and keeps serving others", async () => {
    const { port } = new URL(baseUrl);
    const reply = await new Promise<string>((resolve) => {
      const socket = net.connect(Number(port), "127.0.0.1", () => {
        socket.write("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n");
      });
      let received = "";
      socket.on("data", (chunk) => {
        received += chunk.toString();
      });
      socket.on("close", () => resolve(received));
      socket.on("error", () => resolve(received));
    });
    expect(reply).toMatch(/^HTTP\/1\.1 400/);
    const answer = await post('{"model":"gpt-test","messages":[{"role":"user","content":"still there?"}]}');
    expect(answer.status).toBe(200);
  });

  it("records every refused request, and the log still verifies", async () => {
    const refused = readLog(sandbox.dataDir, ["--type", "model-response"]).filter(
      (event) => (event.data.body as { outcome?: string }).outcome === "refused",
    );
    // Every hostile body above, and the oversized one; the malformed HTTP request never reached the gateway.
    expect(refused.map((event) => event.data.status).sort()).toEqual([...hostileBodies.map(() => 400), 413]);
    expect(refused.every((event) => event.agentId === "hostile")).toBe(true);
    const verified = runWarden(["verify", "--data-dir", sandbox.dataDir]);
    expect(verified.code).toBe(0);
  });
});
