import { writeFileSync } from "node:fs";
import path from "node:path";
import fc from "fast-check";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { dataFiles } from "../src/core/data-dir.js";
import type { WardenErrorCode } from "../src/core/errors.js";
import { silentLogger } from "../src/core/logger.js";
import { type Daemon, startDaemon } from "../src/server/daemon.js";
import { readOperatorToken } from "../src/server/daemon-files.js";
import { type RpcMethod, rpcParamSchemas } from "../src/server/rpc-protocol.js";
import { openReadOnly, readEvents } from "../src/store/sqlite/sqlite-event-store.js";
import { verifyDataDir } from "../src/store/verify-data-dir.js";
import { RawSocketClient, type RpcResponse } from "./helpers/raw-socket-client.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";
import { allowAllConstitution, stackFramePattern } from "./helpers/warden-binary.js";

const directories = new TemporaryDirectories();
const clients: RawSocketClient[] = [];
let daemon: Daemon;
let dataDir: string;
let operatorToken: string;

beforeAll(async () => {
  const root = directories.create("warden-socket-");
  dataDir = path.join(root, "state");
  const policyPath = path.join(root, "constitution.yaml");
  writeFileSync(policyPath, allowAllConstitution);
  // Socket only: the default HTTP port (7400) may be taken by another daemon on this machine. No
  // timed checkpoints: the tests count exactly the events each request adds.
  daemon = await startDaemon({
    dataDir,
    policyPath,
    logger: silentLogger(),
    socketOnly: true,
    checkpointEveryMilliseconds: 3_600_000,
  });
  operatorToken = readOperatorToken(dataDir);
});

afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});

afterAll(async () => {
  await daemon?.close();
  directories.removeAll();
});

async function connect(role?: "agent" | "operator"): Promise<RawSocketClient> {
  const client = await RawSocketClient.connect(daemon.socketPath);
  clients.push(client);
  if (role) {
    const hello = await client.call(
      "hello",
      "hello",
      role === "operator" ? { role, token: operatorToken } : { role },
    );
    expect(hello).toEqual({ id: "hello", result: { role } });
  }
  return client;
}

const errorCodes: WardenErrorCode[] = [
  "usage",
  "config-invalid",
  "policy-invalid",
  "policy-missing",
  "store-unavailable",
  "store-corrupt",
  "daemon-unreachable",
  "daemon-running",
  "input-invalid",
  "unauthorized",
  "forbidden",
  "not-found",
  "timeout",
  "internal",
];

function expectError(response: RpcResponse, code: WardenErrorCode, message?: RegExp): void {
  expect(response.result, JSON.stringify(response)).toBeUndefined();
  expect(response.error?.code, JSON.stringify(response)).toBe(code);
  expect(typeof response.error?.message).toBe("string");
  expect(response.error?.message).not.toMatch(stackFramePattern);
  expect(response.error?.message).not.toMatch(/\.(ts|js):\d+/);
  if (message) expect(response.error?.message).toMatch(message);
}

const identity = {
  agentId: "agent-1",
  sessionId: "session-1",
  traceId: "0af7651916cd43dd8448eb211c80319c",
  spanId: "b7ad6b7169203331",
};

const toolCall = {
  ...identity,
  via: "mcp",
  method: "tools/call",
  server: "files",
  tool: "read_file",
  arguments: { path: "/work/a.txt" },
};

/** Parameters each method accepts, so that only the role (or the missing hello) can refuse it. */
const validParams: Record<Exclude<RpcMethod, "hello">, unknown> = {
  status: {},
  "decide-tool-call": toolCall,
  "record-tool-result": { identity, result: { callId: "call-1", isError: false, latencyMs: 1, result: {} } },
  "check-tool-definitions": { identity, server: "files", tools: [] },
  "approvals-list": {},
  "approvals-decide": {
    approvalId: "01J0000000000000000000000",
    outcome: "denied",
    reviewer: "agent-1",
    reason: "I decide",
  },
  "tools-approve": { server: "files", tool: "read_file", reviewer: "agent-1" },
  "kill-switch": { engaged: true, reason: "the agent stops oversight", reviewer: "agent-1" },
  "tokens-create": { agentId: "agent-2" },
  shutdown: {},
  "users-add": { name: "agent-1", role: "admin", password: "the agent wants in" },
  "sandbox-change-set": {
    identity,
    workspace: "/work",
    sandboxSessionId: "s1",
    run: {
      command: ["true"],
      exitCode: 0,
      timedOut: false,
      durationMs: 1,
      stdoutBytes: 0,
      stderrBytes: 0,
      droppedBytes: 0,
    },
  },
  // An agent forging a clean audit of its own session.
  "record-reports": {
    auditVerdicts: [
      {
        agentId: "agent-1",
        sessionId: "session-1",
        data: {
          verdict: "aligned",
          trigger: "command",
          votes: { aligned: 3 },
          agreement: 1,
          disagreement: false,
          quotes: [],
          concerns: [],
          goal: "anything",
          promptVersion: "warden-auditor/2",
          models: ["auditor"],
          throughSeq: 1,
        },
      },
    ],
  },
  "sandbox-decoys": { identity, workspace: "/work", sandboxSessionId: "s1" },
  "changes-list": {},
  "changes-show": { changeSetId: "01J0000000000000000000000" },
  "changes-apply": { changeSetId: "01J0000000000000000000000", reviewer: "agent-1" },
  "changes-discard": { changeSetId: "01J0000000000000000000000", reviewer: "agent-1" },
};

const operatorOnly = [
  "approvals-list",
  "approvals-decide",
  "tools-approve",
  "kill-switch",
  "tokens-create",
  "shutdown",
  "users-add",
  "record-reports",
  "changes-list",
  "changes-show",
  "changes-apply",
  "changes-discard",
] as const;

async function expectStillServing(): Promise<void> {
  const client = await connect("agent");
  const status = await client.call("after", "status", {});
  expect(status.error).toBeUndefined();
  expect(status.result).toMatchObject({ pid: process.pid, dataDir });
}

function logTypes(): string[] {
  const database = openReadOnly(path.join(dataDir, dataFiles.store));
  try {
    return readEvents(database, { limit: 1_000_000 }).map((event) => event.type);
  } finally {
    database.close();
  }
}

describe("the daemon's socket API", () => {
  it("refuses every method before hello", async () => {
    const client = await connect();
    for (const [method, params] of Object.entries(validParams)) {
      expectError(await client.call(method, method, params), "unauthorized", /hello/);
    }
    await expectStillServing();
  });

  it("refuses an operator hello with a wrong, shortened or missing token, and the connection stays unauthenticated", async () => {
    const client = await connect();
    const wrong = `${operatorToken.slice(0, -1)}${operatorToken.endsWith("A") ? "B" : "A"}`;
    for (const token of [wrong, operatorToken.slice(0, -1), "", undefined]) {
      const response = await client.call(1, "hello", {
        role: "operator",
        ...(token === undefined ? {} : { token }),
      });
      expectError(response, "unauthorized", /operator token/);
      expect(response.error?.message).not.toContain(operatorToken);
      expectError(await client.call(2, "approvals-list", {}), "unauthorized");
    }
    // The same connection with the right token is an operator: the refusals were about the token.
    expect(await client.call(3, "hello", { role: "operator", token: operatorToken })).toEqual({
      id: 3,
      result: { role: "operator" },
    });
    expect(await client.call(4, "approvals-list", {})).toEqual({ id: 4, result: [] });
  });

  it("forbids the agent role every reviewer and control method, and none of them takes effect", async () => {
    const client = await connect("agent");
    for (const method of operatorOnly) {
      expectError(
        await client.call(method, method, validParams[method]),
        "forbidden",
        new RegExp(`agent role may not call ${method}`),
      );
    }
    // An agent that claims to be an operator without the token gets nowhere either.
    expectError(
      await client.call("escalate", "hello", { role: "operator", token: "wdn_op_guess" }),
      "unauthorized",
    );
    expectError(await client.call("again", "kill-switch", validParams["kill-switch"]), "forbidden");
    // The kill switch is not engaged, the daemon did not shut down, and nothing was recorded.
    const verdict = await client.call("call", "decide-tool-call", toolCall);
    expect(verdict.result).toMatchObject({ effect: "allow" });
    expect(logTypes()).not.toContain("kill-switch");
    expect(logTypes()).not.toContain("audit-verdict");
    await expectStillServing();
  });

  it("answers malformed requests with input-invalid, echoing the id only when it could be read", async () => {
    const client = await connect("agent");
    const cases: [line: string, id: string | number | null, message: RegExp][] = [
      ['{"id":1,"method":"status"', null, /invalid JSON/],
      ["not json at all", null, /invalid JSON/],
      ['{"id":1,"id":2,"method":"status"}', null, /duplicate key "id"/],
      ['{"id":1,"method":"status","params":{"a":1,"\\u0061":2}}', null, /duplicate key "a"/],
      ['{"id":12345678901234567890,"method":"status"}', null, /safe range/],
      ['{"id":1,"method":"decide-tool-call","params":{"n":-9007199254740993}}', null, /safe range/],
      ['{"id":1e400,"method":"status"}', null, /out of range/],
      ['{"id":"\\ud800","method":"status"}', null, /lone surrogate/],
      ['{"id":1,"method":"status","params":{"\\udfff":1}}', null, /lone surrogate/],
      ["[]", null, /invalid request/],
      ["null", null, /invalid request/],
      ["42", null, /invalid request/],
      ['"status"', null, /invalid request/],
      ['{"method":"status"}', null, /invalid request/],
      ['{"id":{},"method":"status"}', null, /invalid request/],
      ['{"id":1.5,"method":"status"}', null, /invalid request/],
      [`{"id":"${"x".repeat(101)}","method":"status"}`, null, /invalid request/],
      ['{"id":1,"method":7}', null, /invalid request/],
      ['{"id":1,"method":"status","params":"all"}', 1, /invalid params for status/],
      [
        '{"id":2,"method":"decide-tool-call","params":{"agentId":"a"}}',
        2,
        /invalid params for decide-tool-call/,
      ],
      [
        '{"id":3,"method":"decide-tool-call","params":{"agentId":"a","sessionId":"s","traceId":"zz","spanId":"b7ad6b7169203331","via":"mcp","method":"m","server":"s","tool":"t","arguments":{}}}',
        3,
        /traceId/,
      ],
      ['{"id":4,"method":"hello","params":{"role":"root"}}', 4, /invalid params for hello/],
    ];
    for (const [line, id, message] of cases) {
      await client.write(`${line}\n`);
      const response = await client.next();
      expect(response.id, line).toBe(id);
      expectError(response, "input-invalid", message);
    }
    await expectStillServing();
  });

  it("answers unknown methods, including names Object.prototype carries, with not-found", async () => {
    const client = await connect("agent");
    for (const method of [
      "frobnicate",
      "constructor",
      "__proto__",
      "toString",
      "hasOwnProperty",
      "STATUS",
      "status ",
    ]) {
      const response = await client.call(method, method, {});
      expect(response.id).toBe(method);
      expectError(response, "not-found", /unknown method/);
    }
    await expectStillServing();
  });

  it("answers every line of random garbage with exactly one error and keeps serving", async () => {
    const knownMethods = Object.keys(rpcParamSchemas).filter(
      (method) => method !== "hello" && method !== "status",
    );
    const requestShaped = fc
      .record(
        {
          id: fc.oneof(
            fc.integer(),
            fc.string({ maxLength: 120 }),
            fc.double(),
            fc.constant(null),
            fc.array(fc.nat(), { maxLength: 2 }),
          ),
          method: fc.oneof(
            fc.constantFrom(...knownMethods, "constructor", "__proto__", "toString", "HELLO"),
            fc.string().filter((method) => method !== "hello" && method !== "status"),
          ),
          params: fc.jsonValue(),
        },
        { requiredKeys: [] },
      )
      .map((request) => JSON.stringify(request));
    const garbage = fc
      .oneof(
        fc.string({ unit: "binary", maxLength: 300 }),
        fc.string({ unit: "binary-ascii", maxLength: 300 }),
        fc.json(),
        requestShaped,
        requestShaped.map((text) => text.replace(/\}$/, ',"id":0}')),
        requestShaped.map((text) => text.slice(0, Math.max(0, text.length - 1))),
      )
      .map((text) => text.replaceAll("\n", " "));
    const unauthenticated = await connect();
    const agent = await connect("agent");
    let sentinel = 0;
    await fc.assert(
      fc.asyncProperty(garbage, fc.boolean(), async (line, asAgent) => {
        const client = asAgent ? agent : unauthenticated;
        // A status request right behind the garbage shows where the garbage's answers end.
        const sentinelId = `sentinel-${sentinel++}`;
        await client.write(`${line}\n${JSON.stringify({ id: sentinelId, method: "status" })}\n`);
        const answers: RpcResponse[] = [];
        for (let response = await client.next(); response.id !== sentinelId; response = await client.next())
          answers.push(response);
        expect(answers).toHaveLength(line.trim().length > 0 ? 1 : 0);
        for (const answer of answers) {
          expect(answer.error, `${line} -> ${JSON.stringify(answer)}`).toBeDefined();
          expect(errorCodes).toContain(answer.error!.code);
          // Garbage is the peer's fault, never an unexpected failure inside the daemon.
          expect(answer.error!.code).not.toBe("internal");
          expect(answer.error!.message).not.toMatch(stackFramePattern);
        }
      }),
      { numRuns: 300 },
    );
    expect(unauthenticated.closed || agent.closed).toBe(false);
    await expectStillServing();
  });

  it("rejects a line longer than 8 MiB with one error and serves the next line on the same connection", async () => {
    const client = await connect("agent");
    for (const size of [9 * 1024 * 1024, 20 * 1024 * 1024]) {
      const huge = `{"id":1,"method":"status","params":{"pad":"${"x".repeat(size)}"}}`;
      await client.write(`${huge}\n${JSON.stringify({ id: "next", method: "status" })}\n`);
      const answers: RpcResponse[] = [];
      for (let response = await client.next(); response.id !== "next"; response = await client.next())
        answers.push(response);
      expect(answers).toHaveLength(1);
      expect(answers[0]!.id).toBeNull();
      expectError(answers[0]!, "input-invalid", /exceeds 8388608 bytes/);
    }
    await expectStillServing();
  });

  it("answers JSON nested 100,000 deep with an error and keeps serving", async () => {
    const client = await connect("agent");
    const depth = 100_000;
    await client.write(`${"[".repeat(depth)}${"]".repeat(depth)}\n`);
    const response = await client.next();
    expect(response.id).toBeNull();
    expect(response.error).toBeDefined();
    expect(response.error?.message).not.toMatch(stackFramePattern);
    await expectStillServing();
  });

  it("records a call and its decision together or not at all, whatever the arguments", async () => {
    const client = await connect("agent");
    const nested = (depth: number) => `${"[".repeat(depth)}${"]".repeat(depth)}`;
    // 1e400 parses to Infinity, which has no canonical JSON form; deep nesting runs the store's
    // encoder (and, deeper still, the parser) out of stack at some depth.
    const payloads = ["1e400", "[1,-1e999]", nested(1000), nested(2200), nested(3000), nested(6000)];
    for (const [index, payload] of payloads.entries()) {
      const before = logTypes().length;
      const request = JSON.stringify({
        id: index,
        method: "decide-tool-call",
        params: { ...toolCall, arguments: { n: 0 } },
      });
      await client.write(`${request.replace('"n":0', `"n":${payload}`)}\n`);
      const response = await client.next();
      const added = logTypes().slice(before);
      if (response.error) {
        expect(response.error.message).not.toMatch(stackFramePattern);
        expect(added, `payload ${index}`).toEqual([]);
      } else {
        expect(response.result).toMatchObject({ effect: "allow" });
        expect(added.sort(), `payload ${index}`).toEqual(["policy-decision", "tool-call"]);
      }
      if (index < 2) expectError(response, "input-invalid", /cannot be encoded|out of range/);
    }
    expect((await client.call("ok", "decide-tool-call", toolCall)).result).toMatchObject({ effect: "allow" });
    const report = await verifyDataDir({ dataDir });
    expect(report.problems).toEqual([]);
  });
});
