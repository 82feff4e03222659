import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { newSpanId, newTraceId } from "../core/ids.js";
import { SqliteEventStore } from "../store/sqlite/sqlite-event-store.js";
import { ApprovalQueue, type HeldCall } from "./approval-queue.js";
import { Grants } from "./grants.js";

let directory: string;
let store: SqliteEventStore;
beforeEach(() => {
  directory = mkdtempSync(path.join(tmpdir(), "warden-queue-"));
  store = new SqliteEventStore({ file: path.join(directory, "events.sqlite") });
});
afterEach(async () => {
  await store.close();
  rmSync(directory, { recursive: true, force: true });
});

let next = 0;
function heldCall(agentId: string, overrides: Partial<HeldCall> = {}): HeldCall {
  next += 1;
  return {
    approvalId: `approval-${next}`,
    callId: `approval-${next}`,
    identity: { agentId, sessionId: `${agentId}-session`, traceId: newTraceId(), spanId: newSpanId() },
    ruleId: "deploys",
    approvers: { roles: ["reviewer"], count: 1 },
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    server: "ops",
    tool: "deploy",
    arguments: {},
    ...overrides,
  };
}

/** A hold is in the queue once its request is durable. */
async function untilHeld(queue: ApprovalQueue, count: number): Promise<void> {
  while (queue.list().length < count) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe("hold limits", () => {
  it("refuse an agent's hold beyond the number waiting, and admit again once one is decided", async () => {
    const queue = new ApprovalQueue({ store, holdLimits: { perMinute: 100, open: 2 } });
    expect(queue.admitHold("a").admitted).toBe(true);
    const first = queue.hold(heldCall("a"));
    expect(queue.admitHold("a").admitted).toBe(true);
    void queue.hold(heldCall("a"));
    await untilHeld(queue, 2);
    const refused = queue.admitHold("a");
    expect(refused).toMatchObject({ admitted: false });
    expect(queue.admitHold("b").admitted).toBe(true);
    await queue.decide(queue.list()[0]!.approvalId, { outcome: "denied", reviewer: "r", reason: "no" });
    expect((await first).outcome).toBe("denied");
    expect(queue.admitHold("a").admitted).toBe(true);
    await queue.expireAll();
  });

  it("refuse holds beyond the per-minute budget until the minute has passed", () => {
    let now = 0;
    const queue = new ApprovalQueue({
      store,
      now: () => new Date(now),
      holdLimits: { perMinute: 2, open: 100 },
    });
    expect(queue.admitHold("a").admitted).toBe(true);
    expect(queue.admitHold("a").admitted).toBe(true);
    const refused = queue.admitHold("a");
    expect(refused.admitted).toBe(false);
    if (!refused.admitted) expect(refused.reason).toMatch(/in the last minute \(limit 2\)/);
    now = 60_001;
    expect(queue.admitHold("a").admitted).toBe(true);
  });
});

describe("denyWhere (the kill switch)", () => {
  it("denies only the held calls it selects, as the given reviewer and reason", async () => {
    const queue = new ApprovalQueue({ store });
    const stopped = queue.hold(heldCall("stopped"));
    const running = queue.hold(heldCall("running"));
    await untilHeld(queue, 2);
    const denied = await queue.denyWhere((call) => call.identity.agentId === "stopped", "alice", "halted");
    expect(denied).toBe(1);
    expect(await stopped).toEqual({ outcome: "denied", reviewer: "alice", reason: "halted" });
    expect(queue.list().map((call) => call.identity.agentId)).toEqual(["running"]);
    await queue.expireAll();
    expect((await running).outcome).toBe("expired");
  });
});

describe("grants", () => {
  it("are recorded when a call is approved for the session, match the session only, and replay after a restart", async () => {
    const queue = new ApprovalQueue({ store });
    const call = heldCall("a");
    const waiting = queue.hold(call);
    await untilHeld(queue, 1);
    await queue.decide(call.approvalId, { outcome: "approved", reviewer: "alice", scope: "session" });
    expect((await waiting).outcome).toBe("approved");
    const probe = { agentId: "a", server: "ops", tool: "deploy", ruleId: "deploys" };
    expect(queue.grants.find({ ...probe, sessionId: "a-session" })).toMatchObject({
      scope: "session",
      by: "alice",
    });
    expect(queue.grants.find({ ...probe, sessionId: "other" })).toBeNull();
    expect(queue.grants.find({ ...probe, agentId: "b", sessionId: "a-session" })).toBeNull();
    expect(queue.grants.find({ ...probe, sessionId: "a-session", ruleId: "other-rule" })).toBeNull();

    const always = await queue.grants.create({
      scope: "always",
      agentId: "b",
      server: "ops",
      tool: "deploy",
      ruleId: "deploys",
      by: "root",
    });
    const replayed = new Grants(store);
    for (const event of await store.read({ types: ["grant-created", "grant-revoked"] }))
      replayed.restore(event);
    expect(replayed.list()).toHaveLength(2);
    expect(replayed.find({ ...probe, agentId: "b", sessionId: "any" })?.grantId).toBe(always.grantId);
    await queue.grants.revoke(always.grantId, "root");
    const afterRevoke = new Grants(store);
    for (const event of await store.read({ types: ["grant-created", "grant-revoked"] }))
      afterRevoke.restore(event);
    expect(afterRevoke.list()).toHaveLength(1);
    await expect(queue.grants.revoke(always.grantId, "root")).rejects.toThrow(/no grant/);
  });
});
