import type { ChildProcess } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DaemonClient } from "../src/server/daemon-client.js";
import {
  createAgentToken,
  createSandbox,
  projectRoot,
  runWarden,
  type Sandbox,
  startWardenUp,
  waitFor,
} from "./helpers/mcp-client.js";

const constitution = `version: 1
default: allow
rules:
  - id: deploys-need-a-person
    when: 'tool.name == "deploy"'
    effect: hold
    holdTimeout: 5m
    rationale: Deploys change production.
  - id: drops-need-two
    when: 'tool.name == "drop_table"'
    effect: hold
    approvers: { roles: [reviewer], count: 2 }
    rationale: Dropping a table loses data.
  - id: hurry-up
    when: 'tool.name == "hurry"'
    effect: hold
    holdTimeout: 1s
    rationale: Short.
  - id: payroll-needs-an-admin
    when: 'tool.name == "pay"'
    effect: hold
    approvers: { roles: [admin] }
    rationale: Money.
`;

let sandbox: Sandbox;
let daemon: ChildProcess;
let baseUrl: string;
const tokens: Record<string, string> = {};
const password = "a long enough password";

/** A JSON reply, inspected field by field in the tests. */
// biome-ignore lint/suspicious/noExplicitAny: replies are checked with expect(), not by the type checker
type Json = any;

interface Reply {
  status: number;
  body: Json;
  headers: Headers;
}

async function call(
  method: string,
  route: string,
  options: { token?: string; headers?: Record<string, string>; body?: unknown } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(`${baseUrl}${route}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (the dashboard page)
  }
  return { status: response.status, body, headers: response.headers };
}

/** A guarded tool call of an agent (waits while it is held). */
function agentCall(agent: string, tool: string, args: unknown, sessionId?: string): Promise<Reply> {
  return call("POST", "/v1/warden/tool-calls", {
    token: tokens[agent]!,
    body: { tool, arguments: args, ...(sessionId ? { sessionId } : {}) },
  });
}

async function heldCallOf(agent: string, tool: string, count = 1): Promise<Json[]> {
  return waitForAsync(async () => {
    const { body } = await call("GET", "/api/approvals", { token: tokens.admin! });
    const held = (body.approvals as Json[]).filter(
      (approval) => approval.identity.agentId === agent && approval.tool === tool,
    );
    return held.length >= count ? held : undefined;
  });
}

async function waitForAsync<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function addUser(name: string, role: string, withPassword = false) {
  return runWarden(
    [
      "users",
      "add",
      name,
      "--role",
      role,
      "--data-dir",
      sandbox.dataDir,
      ...(withPassword ? ["--password-stdin"] : []),
    ],
    {
      input: withPassword ? `${password}\n` : "",
    },
  );
}

async function login(
  name: string,
  secret = password,
): Promise<{ cookie: string; csrfToken: string; reply: Reply }> {
  const reply = await call("POST", "/api/login", { body: { name, password: secret } });
  const cookie = (reply.headers.get("set-cookie") ?? "").split(";")[0]!;
  return { cookie, csrfToken: reply.body.csrfToken, reply };
}

beforeAll(async () => {
  sandbox = createSandbox(constitution);
  const configPath = path.join(sandbox.root, "warden.yaml");
  writeFileSync(
    configPath,
    `version: 1
policy: constitution.yaml
approvals: { maxOpenHoldsPerAgent: 3 }
`,
  );
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--config", configPath]));
  for (const [name, role] of [
    ["viewer", "viewer"],
    ["reviewer", "reviewer"],
    ["second", "reviewer"],
    ["admin", "admin"],
  ] as const) {
    const added = addUser(name, role, true);
    expect(added.code, added.stderr).toBe(0);
    tokens[name] = added.stdout.trim();
  }
  for (const agent of ["agent", "mallory", "flooder", "halted", "granted", "batcher"])
    tokens[agent] = createAgentToken(sandbox.dataDir, agent);
}, 60_000);

afterAll(() => {
  daemon?.kill("SIGTERM");
  sandbox?.cleanup();
});

const openApi = JSON.parse(readFileSync(path.join(projectRoot, "docs", "openapi.json"), "utf8")) as {
  paths: Record<string, Record<string, { "x-warden-role": string }>>;
};
const routes = Object.entries(openApi.paths).flatMap(([template, operations]) =>
  Object.entries(operations).map(([method, operation]) => ({
    method: method.toUpperCase(),
    path: template.replace("{id}", "01NOSUCHID0000000000000000"),
    role: operation["x-warden-role"],
  })),
);

describe("warden users add", () => {
  it("prints the new token once, alone on stdout, and --json gives {token}", () => {
    const plain = addUser("printer", "viewer");
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^wdn_user_[A-Za-z0-9_-]{32}\n$/);
    const json = runWarden([
      "users",
      "add",
      "printer2",
      "--role",
      "viewer",
      "--json",
      "--data-dir",
      sandbox.dataDir,
    ]);
    expect(Object.keys(JSON.parse(json.stdout))).toEqual(["token"]);
    const file = readFileSync(path.join(sandbox.dataDir, "reviewers.json"), "utf8");
    expect(file).not.toContain(plain.stdout.trim());
    expect(file).not.toContain(password);
  });

  it("refuses an unknown role with one line and exit 2", () => {
    const result = addUser("nobody", "root");
    expect(result.code).toBe(2);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
    expect(result.stderr).toMatch(/--role must be viewer, reviewer or admin/);
  });
});

describe("the dashboard page", () => {
  it("shows the login form to anyone not logged in, under a strict CSP with no inline script", async () => {
    const page = await call("GET", "/");
    expect(page.status).toBe(200);
    expect(page.body).toContain('<form id="login"');
    const csp = page.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(page.body as string).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(page.body as string).not.toMatch(/\son[a-z]+=/i);
    const script = await call("GET", "/web/app.js");
    expect(script.status).toBe(200);
    expect(script.body as string).not.toMatch(
      /\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write/,
    );
  });

  it("sends no CORS headers and refuses requests from another origin", async () => {
    const foreign = await call("GET", "/api/approvals", {
      token: tokens.admin!,
      headers: { origin: "http://evil.example" },
    });
    expect(foreign.status).toBe(403);
    const own = await call("GET", "/api/approvals", { token: tokens.admin! });
    expect(own.headers.get("access-control-allow-origin")).toBeNull();
  });
});

describe("the role × endpoint matrix", () => {
  it("answers 401 to every route without credentials (before any lookup)", async () => {
    for (const route of routes.filter((candidate) => candidate.role !== "public")) {
      const reply = await call(route.method, route.path);
      expect(reply.status, `${route.method} ${route.path}`).toBe(401);
    }
    expect((await call("GET", "/api/no-such-route")).status).toBe(401);
    expect((await call("GET", "/api/approvals/%E0%A4%A")).status).toBe(401);
    expect((await call("GET", "/api/approvals/%E0%A4%A", { token: tokens.viewer! })).status).toBe(404);
  });

  it("answers 403 to an agent token on every route, even logging in", async () => {
    for (const route of routes) {
      for (const headers of [
        { authorization: `Bearer ${tokens.agent}` },
        { "x-api-key": tokens.agent! },
      ] as Record<string, string>[]) {
        const reply = await call(route.method, route.path, {
          headers,
          body: route.method === "POST" ? {} : undefined,
        });
        expect(reply.status, `${route.method} ${route.path}`).toBe(403);
      }
    }
    expect((await call("GET", "/api/no-such-route", { token: tokens.agent! })).status).toBe(403);
  });

  it("gives each role exactly the routes of its level; too small a role is 403 even for an unknown id", async () => {
    const rank = ["viewer", "reviewer", "admin"];
    for (const role of rank) {
      for (const route of routes.filter(
        (candidate) => candidate.role !== "public" && candidate.path !== "/api/logout",
      )) {
        if (route.path === "/api/events/stream") continue;
        // A body no route accepts: a POST that passes authorisation is then a 400 and changes nothing.
        const reply = await call(route.method, route.path, {
          token: tokens[role]!,
          body: route.method === "POST" ? { probe: true } : undefined,
        });
        const allowed = rank.indexOf(role) >= rank.indexOf(route.role);
        if (allowed && route.method === "POST")
          expect([400, 404], `${role} ${route.method} ${route.path}`).toContain(reply.status);
        else if (allowed) expect(reply.status, `${role} ${route.method} ${route.path}`).not.toBe(403);
        else expect(reply.status, `${role} ${route.method} ${route.path}`).toBe(403);
        expect(reply.status).not.toBe(401);
      }
    }
  });

  it("answers 404 for an unknown id only once the caller may use the route", async () => {
    const approve = routes.find((route) => route.path.endsWith("/approve"))!;
    expect((await call("POST", approve.path, { token: tokens.viewer!, body: {} })).status).toBe(403);
    expect((await call("POST", approve.path, { token: tokens.reviewer!, body: {} })).status).toBe(404);
  });

  it("refuses an unknown or malformed bearer token with 401", async () => {
    expect((await call("GET", "/api/approvals", { token: "wdn_user_nope" })).status).toBe(401);
    expect(
      (await call("GET", "/api/approvals", { headers: { authorization: "Basic YWRtaW46YWRtaW4=" } })).status,
    ).toBe(401);
  });
});

describe("an agent trying to approve its own call", () => {
  it("cannot through HTTP, by forging headers, or through the socket; a reviewer then can", async () => {
    const pending = agentCall("mallory", "deploy", { target: "prod" });
    const [held] = await heldCallOf("mallory", "deploy");
    const id = held.approvalId;
    const approve = `/api/approvals/${id}/approve`;
    expect((await call("POST", approve, { token: tokens.mallory!, body: {} })).status).toBe(403);
    const forged: Record<string, string>[] = [
      { "x-warden-reviewer": "admin", "x-warden-role": "admin" },
      { "x-forwarded-for": "127.0.0.1", "x-forwarded-user": "admin", "x-remote-user": "admin" },
      { cookie: "warden_session=forged-session-id", "x-csrf-token": "forged" },
      { authorization: `Bearer ${tokens.mallory}`, cookie: "warden_session=forged" },
    ];
    for (const headers of forged) {
      const reply = await call("POST", approve, { headers, body: {} });
      expect([401, 403], JSON.stringify(headers)).toContain(reply.status);
    }
    const socket = new DaemonClient({ socketPath: path.join(sandbox.dataDir, "warden.sock"), role: "agent" });
    await expect(
      socket.call("approvals-decide", {
        approvalId: id,
        outcome: "approved",
        reviewer: "admin",
        scope: "once",
      }),
    ).rejects.toThrow(/may not call approvals-decide/);
    socket.close();
    expect(
      (await call("GET", "/api/approvals", { token: tokens.admin! })).body.approvals.map(
        (a: Json) => a.approvalId,
      ),
    ).toContain(id);

    const approved = await call("POST", approve, { token: tokens.reviewer!, body: { scope: "once" } });
    expect(approved.status).toBe(200);
    expect(approved.body).toEqual({ released: true, approvalsNeeded: 0 });
    expect((await pending).body).toMatchObject({ effect: "allow" });
  });
});

describe("decisions", () => {
  it("shows the rule, its rationale, the arguments, the expiry and the trace leading up to it", async () => {
    const pending = agentCall("agent", "deploy", { target: "<img src=x onerror=alert(1)>" });
    const [held] = await heldCallOf("agent", "deploy");
    expect(held).toMatchObject({
      ruleId: "deploys-need-a-person",
      rationale: "Deploys change production.",
      arguments: { target: "<img src=x onerror=alert(1)>" },
    });
    expect(Date.parse(held.expiresAt)).toBeGreaterThan(Date.now() + 60_000);
    const detail = await call("GET", `/api/approvals/${held.approvalId}`, { token: tokens.viewer! });
    expect(detail.body.trace.map((event: Json) => event.type)).toEqual(
      expect.arrayContaining(["tool-call", "policy-decision", "approval-request"]),
    );
    const noReason = await call("POST", `/api/approvals/${held.approvalId}/deny`, {
      token: tokens.reviewer!,
      body: {},
    });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error.message).toMatch(/^reason: /);
    const denied = await call("POST", `/api/approvals/${held.approvalId}/deny`, {
      token: tokens.reviewer!,
      body: { reason: "not during the freeze" },
    });
    expect(denied.status).toBe(200);
    const verdict = (await pending).body;
    expect(verdict).toMatchObject({ effect: "deny", ruleId: "deploys-need-a-person" });
    expect(verdict.message).toContain("not during the freeze");
  });

  it("applies the two-person rule: the same reviewer cannot approve twice", async () => {
    const pending = agentCall("agent", "drop_table", { table: "users" });
    const [held] = await heldCallOf("agent", "drop_table");
    const approve = `/api/approvals/${held.approvalId}/approve`;
    expect((await call("POST", approve, { token: tokens.reviewer!, body: {} })).body).toEqual({
      released: false,
      approvalsNeeded: 1,
    });
    const again = await call("POST", approve, { token: tokens.reviewer!, body: {} });
    expect(again.status).toBe(403);
    expect(again.body.error.message).toMatch(/already approved/);
    expect((await call("POST", approve, { token: tokens.second!, body: {} })).body).toEqual({
      released: true,
      approvalsNeeded: 0,
    });
    expect((await pending).body).toMatchObject({ effect: "allow" });
  });

  it("lets only the rule's approver roles decide", async () => {
    const pending = agentCall("agent", "pay", { amount: 10 });
    const [held] = await heldCallOf("agent", "pay");
    expect(
      (await call("POST", `/api/approvals/${held.approvalId}/approve`, { token: tokens.reviewer!, body: {} }))
        .status,
    ).toBe(403);
    expect(
      (await call("POST", `/api/approvals/${held.approvalId}/approve`, { token: tokens.admin!, body: {} }))
        .status,
    ).toBe(200);
    expect((await pending).body).toMatchObject({ effect: "allow" });
  });

  it("records session and always grants as an overlay, lists them and revokes them", async () => {
    const first = agentCall("granted", "deploy", { n: 1 }, "grant-session");
    const [held] = await heldCallOf("granted", "deploy");
    expect(
      (
        await call("POST", `/api/approvals/${held.approvalId}/approve`, {
          token: tokens.reviewer!,
          body: { scope: "always" },
        })
      ).status,
    ).toBe(403);
    expect(
      (
        await call("POST", `/api/approvals/${held.approvalId}/approve`, {
          token: tokens.reviewer!,
          body: { scope: "session" },
        })
      ).status,
    ).toBe(200);
    expect((await first).body.effect).toBe("allow");
    const { grants } = (await call("GET", "/api/grants", { token: tokens.viewer! })).body;
    const grant = grants.find((candidate: Json) => candidate.agentId === "granted");
    expect(grant).toMatchObject({
      scope: "session",
      sessionId: "grant-session",
      tool: "deploy",
      ruleId: "deploys-need-a-person",
      by: "reviewer",
    });
    // A different argument, same session: let through by the grant, without a hold.
    expect((await agentCall("granted", "deploy", { n: 2 }, "grant-session")).body.effect).toBe("allow");
    expect(readFileSync(sandbox.policyPath, "utf8")).toBe(constitution);
    expect(
      (await call("POST", `/api/grants/${grant.grantId}/revoke`, { token: tokens.viewer! })).status,
    ).toBe(403);
    expect(
      (await call("POST", `/api/grants/${grant.grantId}/revoke`, { token: tokens.reviewer! })).status,
    ).toBe(200);
    const again = agentCall("granted", "deploy", { n: 3 }, "grant-session");
    const [heldAgain] = await heldCallOf("granted", "deploy");
    await call("POST", `/api/approvals/${heldAgain.approvalId}/deny`, {
      token: tokens.reviewer!,
      body: { reason: "revoked" },
    });
    expect((await again).body.effect).toBe("deny");
  });

  it("decides a batch only of held calls with identical tool and arguments", async () => {
    const calls = [
      agentCall("batcher", "deploy", { target: "a" }),
      agentCall("batcher", "deploy", { target: "a" }),
      agentCall("batcher", "deploy", { target: "b" }),
    ];
    const held = await heldCallOf("batcher", "deploy", 3);
    const byTarget = (target: string) =>
      held.filter((call) => call.arguments.target === target).map((call) => call.approvalId);
    const mixed = await call("POST", "/api/approvals/batch", {
      token: tokens.reviewer!,
      body: { ids: [...byTarget("a"), ...byTarget("b")], decision: "approve" },
    });
    expect(mixed.status).toBe(400);
    expect(mixed.body.error.message).toMatch(/identical tool and arguments/);
    const same = await call("POST", "/api/approvals/batch", {
      token: tokens.reviewer!,
      body: { ids: byTarget("a"), decision: "deny", reason: "duplicate" },
    });
    expect(same.status).toBe(200);
    await call("POST", `/api/approvals/${byTarget("b")[0]}/approve`, { token: tokens.reviewer!, body: {} });
    const verdicts = (await Promise.all(calls)).map((reply) => reply.body.effect);
    expect(verdicts).toEqual(["deny", "deny", "allow"]);
  });

  it("denies the holds of an agent over its limit, with a clear rule id", async () => {
    const calls = [1, 2, 3].map((n) => agentCall("flooder", "deploy", { n }));
    await heldCallOf("flooder", "deploy", 3);
    const excess = await agentCall("flooder", "deploy", { n: 4 });
    expect(excess.body).toMatchObject({ effect: "deny", ruleId: "approvals-rate-limit" });
    expect(excess.body.message).toMatch(/already waiting for a reviewer/);
    for (const held of await heldCallOf("flooder", "deploy", 3))
      await call("POST", `/api/approvals/${held.approvalId}/deny`, {
        token: tokens.reviewer!,
        body: { reason: "flood" },
      });
    await Promise.all(calls);
  });
});

describe("expiry and integrity", () => {
  it("denies a held call nobody decides in time, and it can no longer be approved", async () => {
    const pending = agentCall("agent", "hurry", {});
    const [held] = await heldCallOf("agent", "hurry");
    const verdict = (await pending).body;
    expect(verdict).toMatchObject({ effect: "deny", ruleId: "hurry-up" });
    expect(verdict.message).toMatch(/none arrived in time/);
    expect(
      (await call("POST", `/api/approvals/${held.approvalId}/approve`, { token: tokens.reviewer!, body: {} }))
        .status,
    ).toBe(404);
  });

  it("counts held calls per hour per rule and tool calls per hour per agent", async () => {
    const { body } = await call("GET", "/api/overview", { token: tokens.viewer! });
    const held = body.holdsPerHour.filter((row: Json) => row.ruleId === "deploys-need-a-person");
    expect(held.reduce((sum: number, row: Json) => sum + row.held, 0)).toBeGreaterThanOrEqual(5);
    expect(body.toolCallsPerHour.some((row: Json) => row.agentId === "batcher" && row.calls === 3)).toBe(
      true,
    );
  });

  it("reports the log's integrity", async () => {
    // A report is reused for 2 s: wait for one that covers the calls made so far.
    const report = await waitForAsync(async () => {
      const reply = await call("GET", "/api/log-integrity", { token: tokens.viewer! });
      return reply.body.events > 10 ? reply : undefined;
    });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ ok: true, problems: [] });
    expect(report.body.events).toBeGreaterThan(10);
  });
});

describe("the kill switch over HTTP", () => {
  it("halts one agent (held calls denied, later calls denied at once); resuming needs an admin", async () => {
    const pending = agentCall("halted", "deploy", { n: 1 });
    await heldCallOf("halted", "deploy");
    const engage = await call("POST", "/api/kill-switch/engage", {
      token: tokens.reviewer!,
      body: { scope: "agent", target: "halted", reason: "runaway" },
    });
    expect(engage.body).toEqual({ engaged: true, deniedHeldCalls: 1 });
    expect((await pending).body).toMatchObject({ effect: "deny" });
    expect((await pending).body.message).toContain("runaway");
    const later = await agentCall("halted", "read", {});
    expect(later.body).toMatchObject({ effect: "deny", ruleId: "kill-switch" });
    expect((await agentCall("agent", "read", {})).body.effect).toBe("allow");
    expect((await call("GET", "/api/kill-switch", { token: tokens.viewer! })).body.agents).toEqual([
      { agentId: "halted", reason: "runaway" },
    ]);
    const release = { scope: "agent", target: "halted" };
    expect(
      (await call("POST", "/api/kill-switch/release", { token: tokens.reviewer!, body: release })).status,
    ).toBe(403);
    expect(
      (await call("POST", "/api/kill-switch/release", { token: tokens.admin!, body: release })).status,
    ).toBe(200);
    expect((await agentCall("halted", "read", {})).body.effect).toBe("allow");
    const { events } = (await call("GET", "/api/events?type=kill-switch", { token: tokens.viewer! })).body;
    expect(events.map((event: Json) => [event.data.engaged, event.data.by, event.data.target])).toEqual([
      [true, "reviewer", "halted"],
      [false, "admin", "halted"],
    ]);
  });
});

describe("dashboard sessions", () => {
  it("set a Secure, HttpOnly, SameSite=Strict cookie and need the session's CSRF token on POST", async () => {
    const first = await login("reviewer");
    expect(first.reply.status).toBe(200);
    const setCookie = first.reply.headers.get("set-cookie") ?? "";
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/Secure/);
    expect(setCookie).toMatch(/SameSite=Strict/);
    const me = await call("GET", "/api/session", { headers: { cookie: first.cookie } });
    expect(me.body).toMatchObject({ name: "reviewer", role: "reviewer", csrfToken: first.csrfToken });

    const engage = (headers: Record<string, string>) =>
      call("POST", "/api/kill-switch/engage", { headers, body: { scope: "session", target: "csrf-test" } });
    expect((await engage({ cookie: first.cookie })).status).toBe(403);
    expect((await engage({ cookie: first.cookie, "x-csrf-token": "wrong" })).status).toBe(403);
    const second = await login("reviewer");
    expect((await engage({ cookie: first.cookie, "x-csrf-token": second.csrfToken })).status).toBe(403);
    expect(
      (await engage({ cookie: "warden_session=not-a-session", "x-csrf-token": first.csrfToken })).status,
    ).toBe(401);
    expect((await engage({ cookie: first.cookie, "x-csrf-token": first.csrfToken })).status).toBe(200);
    const logout = await call("POST", "/api/logout", {
      headers: { cookie: first.cookie, "x-csrf-token": first.csrfToken },
    });
    expect(logout.status).toBe(200);
    expect((await call("GET", "/api/session", { headers: { cookie: first.cookie } })).status).toBe(401);
    expect((await call("GET", "/api/session", { headers: { cookie: second.cookie } })).status).toBe(200);
    await call("POST", "/api/kill-switch/release", {
      token: tokens.admin!,
      body: { scope: "session", target: "csrf-test" },
    });
  });

  it("refuse a form post (not JSON) even with a valid session", async () => {
    const session = await login("reviewer");
    const response = await fetch(`${baseUrl}/api/kill-switch/engage`, {
      method: "POST",
      headers: {
        cookie: session.cookie,
        "x-csrf-token": session.csrfToken,
        "content-type": "application/x-www-form-urlencoded",
      },
      body: "scope=all",
    });
    expect(response.status).toBe(400);
    expect((await call("GET", "/api/kill-switch", { token: tokens.viewer! })).body.all).toBeNull();
  });

  it("throttle repeated failed logins, even when the right password follows", async () => {
    addUser("victim", "reviewer", true);
    for (let attempt = 0; attempt < 5; attempt += 1) {
      expect((await login("victim", `guess ${attempt} wrong password`)).reply.status).toBe(401);
    }
    const locked = await login("victim");
    expect(locked.reply.status).toBe(429);
    expect(Number(locked.reply.headers.get("retry-after"))).toBeGreaterThan(0);
  });
});

describe("the live event stream", () => {
  it("delivers a held call as it is recorded", async () => {
    const url = new URL(`${baseUrl}/api/events/stream`);
    let received = "";
    const request = http.get({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      headers: { authorization: `Bearer ${tokens.viewer}` },
    });
    const response = await new Promise<http.IncomingMessage>((resolve) => request.on("response", resolve));
    expect(response.statusCode).toBe(200);
    expect(response.headers["content-type"]).toMatch(/^text\/event-stream/);
    response.on("data", (chunk: Buffer) => {
      received += chunk.toString();
    });
    const pending = agentCall("agent", "deploy", { live: true });
    await waitFor(() => received.includes("event: approval-request") && received.includes('"live":true'));
    request.destroy();
    const [held] = await heldCallOf("agent", "deploy");
    await call("POST", `/api/approvals/${held.approvalId}/approve`, { token: tokens.reviewer!, body: {} });
    await pending;
  });
});
