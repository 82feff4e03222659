import { describe, expect, it } from "vitest";
import { DashboardSessions, LoginThrottle } from "./dashboard-sessions.js";

const alice = { name: "alice", role: "reviewer" as const };

describe("dashboard sessions", () => {
  it("end after the idle time without a request, and a request restarts the idle timer", () => {
    let now = 0;
    const sessions = new DashboardSessions({ idleMs: 1000, absoluteMs: 10_000, now: () => now });
    const session = sessions.create(alice);
    now = 900;
    expect(sessions.get(session.id)?.account).toEqual(alice);
    now = 1800;
    expect(sessions.get(session.id)).not.toBeNull();
    now = 2800;
    expect(sessions.get(session.id)).toBeNull();
  });

  it("end at the absolute limit however active they are", () => {
    let now = 0;
    const sessions = new DashboardSessions({ idleMs: 1000, absoluteMs: 3000, now: () => now });
    const session = sessions.create(alice);
    for (now = 500; now < 3000; now += 500) expect(sessions.get(session.id)).not.toBeNull();
    now = 3000;
    expect(sessions.get(session.id)).toBeNull();
  });

  it("accept only their own CSRF token", () => {
    const sessions = new DashboardSessions();
    const first = sessions.create(alice);
    const second = sessions.create(alice);
    expect(DashboardSessions.csrfMatches(first, first.csrfToken)).toBe(true);
    expect(DashboardSessions.csrfMatches(first, second.csrfToken)).toBe(false);
    expect(DashboardSessions.csrfMatches(first, undefined)).toBe(false);
    expect(DashboardSessions.csrfMatches(first, "")).toBe(false);
    expect(first.id).not.toBe(second.id);
  });

  it("are forgotten on logout", () => {
    const sessions = new DashboardSessions();
    const session = sessions.create(alice);
    sessions.delete(session.id);
    expect(sessions.get(session.id)).toBeNull();
  });
});

describe("login throttling", () => {
  it("locks a key out after repeated failures, doubling the lock with each further failure", () => {
    let now = 0;
    const throttle = new LoginThrottle({ maxFailures: 3, lockMs: 1000, now: () => now });
    const keys = ["name:alice"];
    throttle.fail(keys);
    throttle.fail(keys);
    expect(throttle.retryAfterMs(keys)).toBe(0);
    throttle.fail(keys);
    expect(throttle.retryAfterMs(keys)).toBe(1000);
    now = 1000;
    expect(throttle.retryAfterMs(keys)).toBe(0);
    throttle.fail(keys);
    expect(throttle.retryAfterMs(keys)).toBe(2000);
    expect(throttle.retryAfterMs(["name:bob"])).toBe(0);
  });

  it("is cleared by a successful login", () => {
    const throttle = new LoginThrottle({ maxFailures: 1, lockMs: 1000, now: () => 0 });
    throttle.fail(["address:127.0.0.1"]);
    expect(throttle.retryAfterMs(["address:127.0.0.1"])).toBeGreaterThan(0);
    throttle.succeed(["address:127.0.0.1"]);
    expect(throttle.retryAfterMs(["address:127.0.0.1"])).toBe(0);
  });
});
