import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editBody, tamperWith } from "./helpers/log-tampering.js";
import {
  createAgentToken,
  createSandbox,
  runWarden,
  type Sandbox,
  startWardenUp,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

let sandbox: Sandbox;
let daemon: ChildProcess;
let baseUrl: string;
let configPath: string;
let adminToken: string;
const agentTokens: Record<string, string> = {};
const receivers: http.Server[] = [];
const delivered: {
  path: string;
  body: { type?: string; text?: string; event?: { seq: number; data: { tool: string } } };
}[] = [];

async function startReceiver(): Promise<string> {
  const server = http.createServer((request, response) => {
    let text = "";
    request.on("data", (chunk: Buffer) => {
      text += chunk.toString();
    });
    request.on("end", () => {
      delivered.push({ path: request.url ?? "", body: JSON.parse(text) });
      response.writeHead(request.url === "/broken" ? 500 : 204);
      response.end();
    });
  });
  receivers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function waitForAsync<T>(
  probe: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function agentCall(
  agent: string,
  tool: string,
  args: unknown,
): Promise<{ effect: string; ruleId?: string; message?: string }> {
  return fetch(`${baseUrl}/v1/warden/tool-calls`, {
    method: "POST",
    headers: { authorization: `Bearer ${agentTokens[agent]}`, "content-type": "application/json" },
    body: JSON.stringify({ tool, arguments: args }),
  }).then((response) => response.json() as never);
}

async function heldIds(): Promise<{ approvalId: string; tool: string; identity: { agentId: string } }[]> {
  const response = await fetch(`${baseUrl}/api/approvals`, {
    headers: { authorization: `Bearer ${adminToken}` },
  });
  return ((await response.json()) as { approvals: never[] }).approvals;
}

async function restart(): Promise<void> {
  daemon.kill("SIGTERM");
  await once(daemon, "exit");
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--config", configPath]));
}

beforeAll(async () => {
  const receiverUrl = await startReceiver();
  sandbox = createSandbox(`version: 1
default: allow
rules:
  - id: deploys-need-a-person
    when: 'tool.name == "deploy"'
    effect: hold
    holdTimeout: 5m
    rationale: Deploys change production.
`);
  configPath = path.join(sandbox.root, "warden.yaml");
  writeFileSync(
    configPath,
    `version: 1
policy: constitution.yaml
notifications:
  webhooks:
    - { url: "${receiverUrl}/broken", format: json }
    - { url: "${receiverUrl}/slack", format: slack, events: [approval-request] }
    - { url: "${receiverUrl}/json" }
`,
  );
  ({ daemon, baseUrl } = await startWardenUp(sandbox, ["--config", configPath]));
  adminToken = runWarden([
    "users",
    "add",
    "root",
    "--role",
    "admin",
    "--data-dir",
    sandbox.dataDir,
  ]).stdout.trim();
  for (const agent of ["notified", "stopped", "running", "granted"])
    agentTokens[agent] = createAgentToken(sandbox.dataDir, agent);
}, 60_000);

afterAll(async () => {
  daemon?.kill("SIGTERM");
  for (const server of receivers) server.close();
  sandbox?.cleanup();
});

describe("notifications", () => {
  it("reach the webhooks; a failing webhook is retried and never releases the held call", async () => {
    const pending = agentCall("notified", "deploy", { target: "prod" });
    await waitForAsync(() => delivered.some((delivery) => delivery.path === "/json"));
    await waitForAsync(() => delivered.filter((delivery) => delivery.path === "/broken").length >= 2, 30_000);
    const json = delivered.find((delivery) => delivery.path === "/json")!;
    expect(json.body).toMatchObject({ type: "warden.approval-request", event: { data: { tool: "deploy" } } });
    expect(delivered.find((delivery) => delivery.path === "/slack")!.body.text).toContain(
      "notified waits for approval of sdk:local/deploy",
    );
    const [held] = await heldIds();
    expect(held).toMatchObject({ tool: "deploy", identity: { agentId: "notified" } });
    const approved = runWarden(["approvals", "approve", held!.approvalId, "--data-dir", sandbox.dataDir]);
    expect(approved.code, approved.stderr).toBe(0);
    expect((await pending).effect).toBe("allow");
  }, 60_000);
});

describe("the kill switch from the CLI", () => {
  it("halts one agent and survives a restart; release resumes it", async () => {
    const engaged = runWarden([
      "kill-switch",
      "engage",
      "--agent",
      "stopped",
      "--reason",
      "looping",
      "--data-dir",
      sandbox.dataDir,
    ]);
    expect(engaged.code, engaged.stderr).toBe(0);
    expect(engaged.stdout).toContain("every tool call of agent stopped is denied");
    expect(await agentCall("stopped", "read", {})).toMatchObject({ effect: "deny", ruleId: "kill-switch" });
    expect((await agentCall("running", "read", {})).effect).toBe("allow");

    await restart();
    const afterRestart = await agentCall("stopped", "read", {});
    expect(afterRestart).toMatchObject({ effect: "deny", ruleId: "kill-switch" });
    expect(afterRestart.message).toContain("looping");

    const released = runWarden([
      "kill-switch",
      "release",
      "--agent",
      "stopped",
      "--data-dir",
      sandbox.dataDir,
    ]);
    expect(released.code, released.stderr).toBe(0);
    expect((await agentCall("stopped", "read", {})).effect).toBe("allow");
    const both = runWarden([
      "kill-switch",
      "engage",
      "--agent",
      "a",
      "--session",
      "b",
      "--data-dir",
      sandbox.dataDir,
    ]);
    expect(both.code).toBe(2);
  }, 90_000);
});

describe("grants", () => {
  it("an always grant survives a restart, and its revocation too", async () => {
    const pending = agentCall("granted", "deploy", { n: 1 });
    const held = await waitForAsync(async () =>
      (await heldIds()).find((call) => call.identity.agentId === "granted"),
    );
    const approve = await fetch(`${baseUrl}/api/approvals/${held.approvalId}/approve`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
      body: JSON.stringify({ scope: "always" }),
    });
    expect(approve.status).toBe(200);
    expect((await pending).effect).toBe("allow");

    await restart();
    expect((await agentCall("granted", "deploy", { n: 2 })).effect).toBe("allow");
    const grants = (await (
      await fetch(`${baseUrl}/api/grants`, { headers: { authorization: `Bearer ${adminToken}` } })
    ).json()) as { grants: { grantId: string; scope: string }[] };
    expect(grants.grants).toHaveLength(1);
    expect(grants.grants[0]!.scope).toBe("always");
    const revoked = await fetch(`${baseUrl}/api/grants/${grants.grants[0]!.grantId}/revoke`, {
      method: "POST",
      headers: { authorization: `Bearer ${adminToken}` },
    });
    expect(revoked.status).toBe(200);

    await restart();
    const heldAgain = agentCall("granted", "deploy", { n: 3 });
    // Two restarts later, no event was sent twice.
    const sent = delivered
      .filter((delivery) => delivery.path === "/json")
      .map((delivery) => delivery.body.event!.seq);
    expect(new Set(sent).size).toBe(sent.length);
    const again = await waitForAsync(async () =>
      (await heldIds()).find((call) => call.identity.agentId === "granted"),
    );
    const denied = runWarden([
      "approvals",
      "deny",
      again.approvalId,
      "--reason",
      "revoked",
      "--data-dir",
      sandbox.dataDir,
    ]);
    expect(denied.code, denied.stderr).toBe(0);
    expect((await heldAgain).effect).toBe("deny");
  }, 120_000);
});

describe("log integrity on the dashboard", () => {
  it("turns to failed, naming the seq, when the store is edited behind the daemon's back", async () => {
    const integrity = async () =>
      (await (
        await fetch(`${baseUrl}/api/log-integrity`, { headers: { authorization: `Bearer ${adminToken}` } })
      ).json()) as { ok: boolean; problems: { seq: number; kind: string }[] };
    await waitForAsync(async () => (await integrity()).ok);
    tamperWith(path.join(sandbox.dataDir, "events.sqlite"), (database) =>
      editBody(
        database,
        3,
        (body) => {
          body.agentId = "someone-else";
        },
        { rehash: false },
      ),
    );
    const report = await waitForAsync(async () => {
      const current = await integrity();
      return current.ok ? undefined : current;
    });
    expect(report.problems[0]).toMatchObject({ seq: 3, kind: "edited" });
  }, 60_000);
});

describe("a separate reviewer listener", () => {
  it("serves the API and the dashboard apart from the gateway, whose port then has no /api", async () => {
    const apart = createSandbox("version: 1\ndefault: allow\nrules: []\n");
    const config = path.join(apart.root, "warden.yaml");
    writeFileSync(
      config,
      "version: 1\npolicy: constitution.yaml\nlisten: { port: 0 }\ndashboard: { listen: { port: 0 } }\n",
    );
    const child = spawn(
      process.execPath,
      [wardenBinary, "up", "--data-dir", apart.dataDir, "--config", config],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      output += chunk.toString();
    });
    try {
      const gatewayUrl = await waitFor(() => /http (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]);
      const dashboardUrl = await waitFor(() => /dashboard (http:\/\/127\.0\.0\.1:\d+)/.exec(output)?.[1]);
      expect(dashboardUrl).not.toBe(gatewayUrl);
      const token = runWarden([
        "users",
        "add",
        "ops",
        "--role",
        "viewer",
        "--data-dir",
        apart.dataDir,
      ]).stdout.trim();
      const headers = { authorization: `Bearer ${token}` };
      expect((await fetch(`${dashboardUrl}/api/approvals`, { headers })).status).toBe(200);
      expect((await fetch(`${dashboardUrl}/`)).status).toBe(200);
      expect((await fetch(`${gatewayUrl}/api/approvals`, { headers })).status).toBe(404);
      expect((await fetch(`${gatewayUrl}/`)).status).toBe(404);
      expect((await fetch(`${dashboardUrl}/v1/chat/completions`, { method: "POST" })).status).toBe(404);
    } finally {
      child.kill("SIGTERM");
      await once(child, "exit");
      apart.cleanup();
    }
  }, 60_000);
});
