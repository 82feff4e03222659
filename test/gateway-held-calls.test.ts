import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ApprovalQueue } from "../src/approvals/approval-queue.js";
import { silentLogger } from "../src/core/logger.js";
import { createGateway, type Gateway } from "../src/gateway/index.js";
import { type ScriptedModelServer, startScriptedModelServer } from "../src/model-server/index.js";
import { createPolicyEngine, parseConstitution } from "../src/policy/index.js";
import { OversightService } from "../src/server/oversight-service.js";
import { SqliteEventStore } from "../src/store/sqlite/sqlite-event-store.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";

// The real oversight service, approval queue, policy engine and SQLite store behind the gateway;
// the scripted model server stands in for the model (a test instrument).
const constitution = `version: 1
default: allow
rules:
  - id: hold-deploys
    when: 'tool.name == "deploy"'
    effect: hold
    holdTimeout: 1m
    rationale: Deploys need a person.
`;
const holdCapMs = 300;

const directories = new TemporaryDirectories();
let store: SqliteEventStore;
let approvals: ApprovalQueue;
let oversight: OversightService;
let model: ScriptedModelServer;
let gateway: Gateway;
let server: http.Server;
let client: OpenAI;

beforeAll(async () => {
  const dataDir = directories.create();
  store = new SqliteEventStore({ file: path.join(dataDir, "events.sqlite") });
  const parsed = parseConstitution(constitution, "constitution.yaml");
  if (!parsed.ok) throw new Error(parsed.problems.join("\n"));
  const engine = createPolicyEngine({ constitution: parsed.constitution, builtins: { dataDir } });
  approvals = new ApprovalQueue({ store });
  oversight = new OversightService({ store, logger: silentLogger(), getPolicy: () => engine, approvals });
  model = await startScriptedModelServer({
    script: {
      name: "held-calls",
      rules: [
        {
          name: "deploy",
          when: { tool: "deploy", afterToolResult: false },
          reply: { toolCalls: [{ name: "deploy", arguments: { target: "prod" } }] },
        },
      ],
      default: { text: "ok" },
    },
  });
  gateway = createGateway({
    upstreams: [{ name: "scripted", baseUrl: model.url, format: "openai" }],
    oversight,
    record: (input, options) => store.append(input, options),
    authenticate: () => ({ agentId: "agent-1" }),
    logger: silentLogger(),
    holdCapMs,
  });
  server = http.createServer((request, response) => void gateway.handle(request, response));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  client = new OpenAI({
    baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    apiKey: "unused",
    maxRetries: 0,
  });
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await gateway.close();
  await model.close();
  await approvals.expireAll();
  await store.close();
  directories.removeAll();
});

beforeEach(async () => {
  await approvals.expireAll();
});

let sessionCounter = 0;
const newSession = () => `held-session-${++sessionCounter}`;

function proposeDeploy(session: string) {
  return client.chat.completions.create(
    {
      model: "gpt-test",
      messages: [{ role: "user", content: "deploy it" }],
      tools: [{ type: "function", function: { name: "deploy", parameters: { type: "object" } } }],
    },
    { headers: { "x-warden-session": session } },
  );
}

async function eventsOf(type: string, session: string) {
  await store.flush();
  return (await store.read({ types: [type as never], afterSeq: 0, limit: 10_000 })).filter(
    (event) => event.sessionId === session,
  );
}

async function waitFor<T>(read: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

const heldFor = (session: string) =>
  approvals.list().find((call) => call.identity.sessionId === session && call.tool === "deploy");

describe("tool calls the model proposes that are held for a person", () => {
  it("denies as pending approval at the cap but keeps the call in the reviewers' inbox", async () => {
    const session = newSession();
    const completion = await proposeDeploy(session);
    expect(completion.choices[0]?.message.tool_calls).toBeUndefined();
    expect(completion.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
    expect(heldFor(session)).toBeDefined();
  });

  it("lets the identical call through once, without a new hold, when an approval arrives after the cap", async () => {
    const session = newSession();
    await proposeDeploy(session);
    const held = heldFor(session)!;
    await approvals.decide(held.approvalId, { outcome: "approved", reviewer: "user:alice", scope: "once" });

    const again = await proposeDeploy(session);
    const call = again.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("deploy");
    expect(heldFor(session)).toBeUndefined();

    expect(await eventsOf("approval-request", session)).toHaveLength(1);
    const decisions = await eventsOf("policy-decision", session);
    expect(decisions.map((event) => (event.data as { applied: { ruleId: string } }).applied.ruleId)).toEqual([
      "hold-deploys",
      "grant:hold-deploys",
    ]);

    // The grant is used up: a third proposal is held again.
    const third = await proposeDeploy(session);
    expect(third.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
    expect(await eventsOf("approval-request", session)).toHaveLength(2);
  });

  it("applies a late approval to the identical call in a streamed response too", async () => {
    const session = newSession();
    await proposeDeploy(session);
    await approvals.decide(heldFor(session)!.approvalId, {
      outcome: "approved",
      reviewer: "user:alice",
      scope: "once",
    });
    const stream = client.chat.completions.stream(
      {
        model: "gpt-test",
        messages: [{ role: "user", content: "deploy it" }],
        tools: [{ type: "function", function: { name: "deploy", parameters: { type: "object" } } }],
      },
      { headers: { "x-warden-session": session } },
    );
    const completion = await stream.finalChatCompletion();
    const call = completion.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && JSON.parse(call.function.arguments)).toEqual({ target: "prod" });
    expect(completion.choices[0]?.finish_reason).toBe("tool_calls");
  });

  it("does not carry a late approval over to another session", async () => {
    const session = newSession();
    await proposeDeploy(session);
    await approvals.decide(heldFor(session)!.approvalId, {
      outcome: "approved",
      reviewer: "user:alice",
      scope: "once",
    });
    const elsewhere = newSession();
    const completion = await proposeDeploy(elsewhere);
    expect(completion.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
    expect(heldFor(elsewhere)).toBeDefined();
  });

  it("tells the agent a reviewer's late denial, once, when the model proposes the call again", async () => {
    const session = newSession();
    await proposeDeploy(session);
    await approvals.decide(heldFor(session)!.approvalId, {
      outcome: "denied",
      reviewer: "user:alice",
      reason: "not during the freeze",
    });
    const again = await proposeDeploy(session);
    expect(again.choices[0]?.message.tool_calls).toBeUndefined();
    expect(again.choices[0]?.message.content).toContain(
      'denied by rule "hold-deploys": A reviewer denied this call: not during the freeze',
    );
    expect(heldFor(session)).toBeUndefined();
    const third = await proposeDeploy(session);
    expect(third.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
  });

  it("makes concurrent retries of one request share a single hold", async () => {
    const session = newSession();
    const answers = await Promise.all([
      proposeDeploy(session),
      proposeDeploy(session),
      proposeDeploy(session),
    ]);
    for (const answer of answers)
      expect(answer.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
    expect(approvals.list().filter((call) => call.identity.sessionId === session)).toHaveLength(1);
    expect(await eventsOf("approval-request", session)).toHaveLength(1);
    // Each proposal is still recorded with its own decision.
    expect(await eventsOf("tool-call", session)).toHaveLength(3);
    expect(await eventsOf("policy-decision", session)).toHaveLength(3);
  });

  it("lets a retry that waits on an earlier hold through when that hold is approved", async () => {
    const session = newSession();
    await proposeDeploy(session);
    const held = heldFor(session)!;
    const retry = proposeDeploy(session);
    // The retry's decision is durable just before it joins the hold; approve once it waits.
    const deadline = Date.now() + 3000;
    while ((await eventsOf("policy-decision", session)).length < 2 && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    await new Promise((resolve) => setTimeout(resolve, 30));
    await approvals.decide(held.approvalId, { outcome: "approved", reviewer: "user:alice", scope: "once" });
    const answer = await retry;
    const call = answer.choices[0]?.message.tool_calls?.[0];
    expect(call?.type === "function" && call.function.name).toBe("deploy");
    expect(await eventsOf("approval-request", session)).toHaveLength(1);
    // The waiting retry took the approval; nothing is left over as a grant.
    const third = await proposeDeploy(session);
    expect(third.choices[0]?.message.content).toContain('denied by rule "pending-approval"');
  });

  it("keeps one hold per call for MCP calls, which have no cap", async () => {
    const session = newSession();
    const identity = { agentId: "agent-1", sessionId: session, traceId: "0".repeat(32) };
    const request = {
      ...identity,
      via: "mcp" as const,
      method: "tools/call",
      server: "files",
      tool: "deploy",
      arguments: { target: "prod" },
    };
    const first = oversight.decideToolCall({ ...request, spanId: "1".repeat(16) });
    const second = oversight.decideToolCall({ ...request, spanId: "2".repeat(16) });
    await waitFor(() =>
      approvals.list().filter((call) => call.identity.sessionId === session).length === 2 ? true : undefined,
    );
    await approvals.expireAll();
    expect((await first).effect).toBe("deny");
    expect((await second).effect).toBe("deny");
  });
});
