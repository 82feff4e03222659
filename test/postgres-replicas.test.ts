import type { ChildProcess } from "node:child_process";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { canonicalEventBody, hashEventBody } from "../src/core/hash-chain.js";
import { WardenClient } from "../src/sdk/index.js";
import { PostgresEventStore } from "../src/store/postgres/postgres-event-store.js";
import { verifyLog } from "../src/store/verify-log.js";
import { createAgentToken, createSandbox, runWarden, startWardenUp } from "./helpers/mcp-client.js";
import { createTemporaryDatabase, skipPostgres } from "./helpers/postgres.js";

const constitution = `version: 1
default: deny
rules:
  - id: notes-allowed
    when: 'tool.name == "write_note"'
    effect: allow
    rationale: Notes are the agent's own scratch space.
`;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function startReplica(
  url: string,
  chain: string,
  sandbox = createSandbox(constitution),
  extraArgs: string[] = [],
) {
  const { daemon, baseUrl } = await startWardenUp(sandbox, ["--db", url, "--chain", chain, ...extraArgs]);
  cleanups.push(() => {
    daemon.kill("SIGKILL");
    sandbox.cleanup();
  });
  const token = createAgentToken(sandbox.dataDir, "agent-1");
  return { sandbox, daemon, baseUrl, token };
}

async function rowsByType(url: string, chain: string, type: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const result = await client.query<{ call_id: string }>(
      "SELECT body::jsonb -> 'data' ->> 'callId' AS call_id FROM warden_events WHERE chain = $1 AND type = $2",
      [chain, type],
    );
    return result.rows.map((row) => row.call_id);
  } finally {
    await client.end();
  }
}

async function verifyChain(url: string, chain: string) {
  // A reader on its own chain name: opening takes that chain's writer lock, not the replicas'.
  const reader = await PostgresEventStore.open({ url, chain: `verify-${chain}` });
  try {
    return verifyLog(await reader.rowsOfChain(chain), { publicKey: null, witness: null });
  } finally {
    await reader.close();
  }
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once("exit", () => resolve());
  });
}

describe.skipIf(skipPostgres)("warden up replicas on one PostgreSQL database", () => {
  it("decide calls on two replicas, each recording its own verifiable chain", async () => {
    const database = await createTemporaryDatabase();
    cleanups.push(() => database.drop());
    const [a, b] = await Promise.all([startReplica(database.url, "r1"), startReplica(database.url, "r2")]);
    const clients = [a, b].map(
      (replica) => new WardenClient({ baseUrl: replica.baseUrl, token: replica.token, sessionId: "s-1" }),
    );
    const decisions = await Promise.all(
      Array.from({ length: 60 }, (_, index) =>
        clients[index % 2]!.decide(index % 3 === 0 ? "delete_repo" : "write_note", { index }),
      ),
    );
    expect(decisions.filter((decision) => decision.effect === "allow")).toHaveLength(40);
    expect(decisions.filter((decision) => decision.effect === "deny")).toHaveLength(20);
    for (const chain of ["r1", "r2"]) {
      expect(await rowsByType(database.url, chain, "tool-call")).toHaveLength(30);
      const report = await verifyChain(database.url, chain);
      expect(report.problems).toEqual([]);
    }
    // The read-only commands read the shared database: every chain, or one.
    const all = runWarden(["log", "--db", database.url, "--type", "tool-call", "--json"]);
    expect(all.code, all.stderr).toBe(0);
    const allEvents = all.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { chain: string });
    expect(allEvents).toHaveLength(60);
    expect(new Set(allEvents.map((event) => event.chain))).toEqual(new Set(["r1", "r2"]));
    const one = runWarden(["log", "--db", database.url, "--chain", "r2", "--type", "tool-call", "--json"]);
    expect(
      one.stdout
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line).chain),
    ).toEqual(Array(30).fill("r2"));
    const trace = runWarden(["trace", "s-1", "--db", database.url]);
    expect(trace.code, trace.stderr).toBe(0);
    expect(trace.stdout).toMatch(/session s-1 · agent agent-1 · \d+ events/);
    const noStore = runWarden(["log", "--db", "postgres://postgres@127.0.0.1:5432/postgres"]);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toMatch(/no Warden store in the database/);
  });

  it("loses no acknowledged decision when a replica is killed with SIGKILL under load", async () => {
    const database = await createTemporaryDatabase();
    cleanups.push(() => database.drop());
    const replica = await startReplica(database.url, "r1");
    const client = new WardenClient({ baseUrl: replica.baseUrl, token: replica.token, sessionId: "s-kill" });
    const acknowledged: string[] = [];
    let stop = false;
    const producers = Array.from({ length: 16 }, async (_, producer) => {
      for (let index = 0; !stop; index++) {
        const decision = await client.decide("write_note", { producer, index });
        if (decision.effect === "allow") acknowledged.push(decision.callId);
        else break; // the daemon is gone: the SDK fails closed
      }
    });
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (acknowledged.length >= 300) {
          clearInterval(check);
          resolve();
        }
      }, 5);
    });
    replica.daemon.kill("SIGKILL");
    await exited(replica.daemon);
    stop = true;
    await Promise.all(producers);
    expect(acknowledged.length).toBeGreaterThanOrEqual(300);

    const recordedCalls = new Set(await rowsByType(database.url, "r1", "tool-call"));
    const recordedDecisions = new Set(await rowsByType(database.url, "r1", "policy-decision"));
    const lost = acknowledged.filter(
      (callId) => !recordedCalls.has(callId) || !recordedDecisions.has(callId),
    );
    expect(lost).toEqual([]);
    expect((await verifyChain(database.url, "r1")).problems).toEqual([]);

    // The chain's writer lock went with the killed connection: the replica restarts on it.
    const restarted = await startReplica(database.url, "r1", replica.sandbox);
    const again = new WardenClient({
      baseUrl: restarted.baseUrl,
      token: restarted.token,
      sessionId: "s-kill",
    });
    expect((await again.decide("write_note", { after: "restart" })).effect).toBe("allow");
    expect((await verifyChain(database.url, "r1")).problems).toEqual([]);
  });

  it("a kill switch engaged on one replica stops the agent on the other at once, and release lifts it", async () => {
    const database = await createTemporaryDatabase();
    cleanups.push(() => database.drop());
    const [a, b] = await Promise.all([startReplica(database.url, "r1"), startReplica(database.url, "r2")]);
    const onB = new WardenClient({ baseUrl: b.baseUrl, token: b.token, sessionId: "s-halt" });
    expect((await onB.decide("write_note", { before: true })).effect).toBe("allow");

    const engaged = runWarden([
      "kill-switch",
      "engage",
      "--agent",
      "agent-1",
      "--reason",
      "incident 42",
      "--data-dir",
      a.sandbox.dataDir,
    ]);
    expect(engaged.code).toBe(0);
    const started = performance.now();
    let halted: Awaited<ReturnType<WardenClient["decide"]>>;
    for (;;) {
      halted = await onB.decide("write_note", { during: true });
      if (halted.effect === "deny" || performance.now() - started > 5000) break;
    }
    const propagationMs = performance.now() - started;
    process.stdout.write(`kill switch propagated to the other replica in ${propagationMs.toFixed(1)} ms\n`);
    expect(halted).toMatchObject({ effect: "deny" });
    expect(halted.effect === "deny" && halted.message).toMatch(/incident 42/);
    expect(propagationMs).toBeLessThan(2000);

    expect(
      runWarden(["kill-switch", "release", "--agent", "agent-1", "--data-dir", a.sandbox.dataDir]).code,
    ).toBe(0);
    const released = performance.now();
    let after: Awaited<ReturnType<WardenClient["decide"]>>;
    for (;;) {
      after = await onB.decide("write_note", { after: true });
      if (after.effect === "allow" || performance.now() - released > 5000) break;
    }
    expect(after.effect).toBe("allow");

    // A replica started after the halt learns it from the other chains at start.
    expect(
      runWarden(["kill-switch", "engage", "--data-dir", a.sandbox.dataDir, "--reason", "all stop"]).code,
    ).toBe(0);
    const c = await startReplica(database.url, "r3");
    const onC = new WardenClient({ baseUrl: c.baseUrl, token: c.token, sessionId: "s-late" });
    expect(await onC.decide("write_note", { late: true })).toMatchObject({ effect: "deny" });
  });

  it("catches a replica's chain rewritten consistently from its start through the other chain's checkpoints", async () => {
    const database = await createTemporaryDatabase();
    cleanups.push(() => database.drop());
    const [a, b] = await Promise.all([
      startReplica(database.url, "r1", createSandbox(constitution), ["--checkpoint-every", "4"]),
      startReplica(database.url, "r2", createSandbox(constitution), ["--checkpoint-every", "4"]),
    ]);
    const onA = new WardenClient({ baseUrl: a.baseUrl, token: a.token, sessionId: "s-x" });
    const onB = new WardenClient({ baseUrl: b.baseUrl, token: b.token, sessionId: "s-x" });
    for (let round = 0; round < 4; round++) {
      await onB.decide("write_note", { round, text: "the real note" });
      await onA.decide("write_note", { round });
    }
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    cleanups.push(() => client.end());
    const vouched = await client.query(
      "SELECT count(*)::int AS n FROM warden_events WHERE chain = 'r1' AND type = 'checkpoint' AND body LIKE '%chainHeads%r2%'",
    );
    expect(vouched.rows[0].n).toBeGreaterThan(0);
    const intact = runWarden(["verify", "--db", database.url]);
    expect(intact.code, intact.stdout + intact.stderr).toBe(0);
    expect(intact.stdout).toMatch(/chain r1: intact/);
    expect(intact.stdout).toMatch(/chain r2: intact/);

    // Rewrite r2 from its first event, re-hashing and re-linking every row: on its own, without
    // r2's key, the chain still looks whole.
    const rows = await client.query<{ seq: string; body: string }>(
      "SELECT seq, body FROM warden_events WHERE chain = 'r2' ORDER BY seq",
    );
    await client.query("ALTER TABLE warden_events DISABLE TRIGGER warden_events_no_update");
    let previous = "0".repeat(64);
    const rewritten = new Map<number, string>();
    for (const row of rows.rows) {
      const body = JSON.parse(row.body.replace("the real note", "a forged note"));
      body.prevHash = previous;
      // Its own checkpoints are made to agree (their signatures cannot be checked without r2's key).
      if (body.type === "checkpoint") body.data.headHash = rewritten.get(body.data.headSeq);
      const text = canonicalEventBody(body);
      previous = hashEventBody(text);
      rewritten.set(Number(row.seq), previous);
      await client.query("UPDATE warden_events SET body = $1, hash = $2 WHERE chain = 'r2' AND seq = $3", [
        text,
        previous,
        row.seq,
      ]);
    }
    const forged = runWarden(["verify", "--db", database.url]);
    expect(forged.code).toBe(1);
    expect(forged.stdout).toMatch(/chain r2: intact/);
    expect(forged.stdout).toMatch(/chain r2: FAILED at seq \d+: edited: .*chain r1 recorded/);
  });

  it("releases a call held on one replica when a reviewer decides it through the other", async () => {
    const database = await createTemporaryDatabase();
    cleanups.push(() => database.drop());
    const holding = `version: 1
default: deny
rules:
  - id: deploys-reviewed
    when: 'tool.name == "deploy"'
    effect: hold
    rationale: Deploys change production.
    approvers: { roles: [reviewer] }
`;
    const [a, b] = await Promise.all([
      startReplica(database.url, "r1", createSandbox(holding)),
      startReplica(database.url, "r2", createSandbox(holding)),
    ]);
    const added = runWarden(["users", "add", "alice", "--role", "reviewer", "--data-dir", b.sandbox.dataDir]);
    expect(added.code, added.stderr).toBe(0);
    const reviewerToken = added.stdout.trim();
    const client = new pg.Client({ connectionString: database.url });
    await client.connect();
    cleanups.push(() => client.end());
    const heldId = async () => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const result = await client.query<{ id: string }>(
          "SELECT body::jsonb #>> '{data,approvalId}' AS id FROM warden_events WHERE chain = 'r1' AND type = 'approval-request' ORDER BY seq DESC LIMIT 1",
        );
        const id = result.rows[0]?.id;
        if (id !== undefined && !seen.has(id)) {
          seen.add(id);
          return id;
        }
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error("no held call appeared");
    };
    const seen = new Set<string>();
    const decideOnB = (id: string, verb: "approve" | "deny", body: unknown) =>
      fetch(`${b.baseUrl}/api/approvals/${id}/${verb}`, {
        method: "POST",
        headers: { authorization: `Bearer ${reviewerToken}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });

    const agent = new WardenClient({ baseUrl: a.baseUrl, token: a.token, sessionId: "s-held" });
    const approvedCall = agent.decide("deploy", { env: "staging" });
    const firstId = await heldId();
    const started = performance.now();
    const approved = await decideOnB(firstId, "approve", { scope: "once" });
    expect(approved.status, await approved.clone().text()).toBe(200);
    expect((await approvedCall).effect).toBe("allow");
    const releaseMs = performance.now() - started;
    process.stdout.write(`held on r1, approved through r2: released in ${releaseMs.toFixed(1)} ms\n`);
    expect(releaseMs).toBeLessThan(2000);

    const deniedCall = agent.decide("deploy", { env: "prod" });
    const secondId = await heldId();
    expect((await decideOnB(secondId, "deny", { reason: "not during the freeze" })).status).toBe(200);
    const denied = await deniedCall;
    expect(denied.effect).toBe("deny");
    expect(denied.effect === "deny" && denied.message).toMatch(/not during the freeze/);

    // The decision is recorded by the replica that held the call, under the reviewer's name.
    const decisions = await client.query<{ chain: string; reviewer: string }>(
      "SELECT chain, body::jsonb #>> '{data,reviewer}' AS reviewer FROM warden_events WHERE type = 'approval-decision'",
    );
    expect(decisions.rows).toEqual([
      { chain: "r1", reviewer: "alice" },
      { chain: "r1", reviewer: "alice" },
    ]);
    // Deciding it again is refused by its owner.
    expect((await decideOnB(firstId, "approve", { scope: "once" })).status).toBe(404);
    // An agent token is refused before anything is looked up.
    const asAgent = await fetch(`${b.baseUrl}/api/approvals/${firstId}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${b.token}`, "content-type": "application/json" },
      body: "{}",
    });
    expect(asAgent.status).toBe(403);
  });
});

describe.skipIf(skipPostgres)("one inbox across replicas on one PostgreSQL database", () => {
  const holding = `version: 1
default: deny
rules:
  - id: deploys-reviewed
    when: 'tool.name == "deploy"'
    effect: hold
    rationale: Deploys change production.
    approvers: { roles: [reviewer] }
  - id: migrations-two-people
    when: 'tool.name == "migrate"'
    effect: hold
    rationale: Schema migrations need two people.
    approvers: { roles: [reviewer], count: 2 }
`;

  interface Listed {
    approvalId: string;
    tool: string;
    chain?: string;
    remote: boolean;
    rationale: string | null;
    approvedBy: string[];
    identity: { agentId: string; sessionId: string };
    arguments: unknown;
  }

  it("lists a call held on replica A in replica B's inbox, decided there and released on A", async () => {
    const database = await createTemporaryDatabase();
    cleanups.push(() => database.drop());
    const [a, b] = await Promise.all([
      startReplica(database.url, "r1", createSandbox(holding)),
      startReplica(database.url, "r2", createSandbox(holding)),
    ]);
    const addUser = (name: string, role: string) => {
      const added = runWarden(["users", "add", name, "--role", role, "--data-dir", b.sandbox.dataDir]);
      expect(added.code, added.stderr).toBe(0);
      return added.stdout.trim();
    };
    const alice = addUser("alice", "reviewer");
    const bob = addUser("bob", "reviewer");
    const viewer = addUser("victor", "viewer");
    const onB = (token: string, method: "GET" | "POST", path: string, body?: unknown) =>
      fetch(`${b.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const inboxOfB = async (): Promise<Listed[]> => {
      const response = await onB(alice, "GET", "/api/approvals");
      expect(response.status).toBe(200);
      return ((await response.json()) as { approvals: Listed[] }).approvals;
    };
    const listedOnB = async (tool: string): Promise<Listed> => {
      for (let attempt = 0; attempt < 200; attempt++) {
        const found = (await inboxOfB()).find((call) => call.tool === tool);
        if (found) return found;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error(`${tool} never appeared in B's inbox`);
    };

    const agent = new WardenClient({ baseUrl: a.baseUrl, token: a.token, sessionId: "s-inbox" });
    const deploy = agent.decide("deploy", { env: "staging" });
    const listed = await listedOnB("deploy");
    expect(listed).toMatchObject({
      chain: "r1",
      remote: true,
      rationale: "Deploys change production.",
      approvedBy: [],
      identity: { agentId: "agent-1", sessionId: "s-inbox" },
      arguments: { env: "staging" },
    });
    // The details show the call's session from the chain that holds it.
    const details = await onB(alice, "GET", `/api/approvals/${listed.approvalId}`);
    expect(details.status).toBe(200);
    const { trace } = (await details.json()) as { trace: { type: string; sessionId: string }[] };
    expect(trace.map((event) => event.type)).toContain("approval-request");
    expect(trace.every((event) => event.sessionId === "s-inbox")).toBe(true);
    // Replica A's own inbox lists it as its own.
    const onA = await fetch(`${a.baseUrl}/api/approvals`, {
      headers: {
        authorization: `Bearer ${runWarden(["users", "add", "carol", "--role", "reviewer", "--data-dir", a.sandbox.dataDir]).stdout.trim()}`,
      },
    });
    expect(((await onA.json()) as { approvals: Listed[] }).approvals).toMatchObject([
      { approvalId: listed.approvalId, chain: "r1", remote: false },
    ]);

    // Agent credentials can neither list nor decide (the agent's token on A is no credential on
    // B at all); a viewer may look, not decide.
    expect((await onB(b.token, "GET", "/api/approvals")).status).toBe(403);
    expect((await onB(a.token, "GET", "/api/approvals")).status).toBe(401);
    expect(
      (await onB(b.token, "POST", `/api/approvals/${listed.approvalId}/approve`, { scope: "once" })).status,
    ).toBe(403);
    expect((await onB(viewer, "GET", "/api/approvals")).status).toBe(200);
    expect(
      (await onB(viewer, "POST", `/api/approvals/${listed.approvalId}/approve`, { scope: "once" })).status,
    ).toBe(403);
    // "always" stays an admin's decision, whichever replica holds the call.
    expect(
      (await onB(alice, "POST", `/api/approvals/${listed.approvalId}/approve`, { scope: "always" })).status,
    ).toBe(403);

    const approved = await onB(alice, "POST", `/api/approvals/${listed.approvalId}/approve`, {
      scope: "once",
    });
    expect(approved.status, await approved.clone().text()).toBe(200);
    expect(await approved.json()).toEqual({ released: true, approvalsNeeded: 0 });
    expect((await deploy).effect).toBe("allow");
    expect((await inboxOfB()).map((call) => call.approvalId)).not.toContain(listed.approvalId);

    // The two-person rule holds across replicas: one approval through B leaves the call held on
    // A, the same reviewer cannot count twice, a second reviewer releases it.
    const migrate = agent.decide("migrate", { version: 42 });
    const twoPerson = await listedOnB("migrate");
    expect(
      await (
        await onB(alice, "POST", `/api/approvals/${twoPerson.approvalId}/approve`, { scope: "once" })
      ).json(),
    ).toEqual({ released: false, approvalsNeeded: 1 });
    expect((await inboxOfB()).find((call) => call.approvalId === twoPerson.approvalId)?.approvedBy).toEqual([
      "alice",
    ]);
    const again = await onB(alice, "POST", `/api/approvals/${twoPerson.approvalId}/approve`, {
      scope: "once",
    });
    expect(again.status).toBe(403);
    expect(await again.text()).toMatch(/another reviewer must approve/);
    const second = await onB(bob, "POST", `/api/approvals/${twoPerson.approvalId}/approve`, {
      scope: "once",
    });
    expect(await second.json()).toEqual({ released: true, approvalsNeeded: 0 });
    expect((await migrate).effect).toBe("allow");

    // The operator's CLI on B lists A's call, marked, and its decision reaches A.
    const denied = agent.decide("deploy", { env: "prod" });
    const third = await listedOnB("deploy");
    const cliList = runWarden(["approvals", "list", "--data-dir", b.sandbox.dataDir]);
    expect(cliList.code, cliList.stderr).toBe(0);
    expect(cliList.stdout).toMatch(new RegExp(`${third.approvalId} .*deploy .*\\(held on replica r1\\)`));
    const cliDeny = runWarden([
      "approvals",
      "deny",
      third.approvalId,
      "--reason",
      "not during the freeze",
      "--data-dir",
      b.sandbox.dataDir,
    ]);
    expect(cliDeny.code, cliDeny.stderr).toBe(0);
    const outcome = await denied;
    expect(outcome.effect === "deny" && outcome.message).toMatch(/not during the freeze/);
    const cliEmpty = runWarden(["approvals", "list", "--data-dir", b.sandbox.dataDir]);
    expect(cliEmpty.stdout).toMatch(/no held calls/);
  });
});
