import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createAgentToken,
  createSandbox,
  projectRoot,
  readLog,
  runWarden,
  type Sandbox,
  startWardenUp,
  waitFor,
} from "./helpers/mcp-client.js";

const agentScript = path.join(projectRoot, "test", "fixtures", "sdk-agent.mjs");

let sandbox: Sandbox;
let daemon: ChildProcess;
let baseUrl: string;
let token: string;

beforeAll(async () => {
  sandbox = createSandbox(`version: 1
default: deny
rules:
  - id: notes-allowed
    when: 'tool.server == "sdk:notes" && tool.name == "write_note" && !tool.arguments.name.startsWith("release")'
    effect: allow
    rationale: Notes are the agent's own scratch space.
  - id: release-notes-reviewed
    when: 'tool.name == "write_note" && tool.arguments.name.startsWith("release")'
    effect: hold
    rationale: Release notes are published.
    approvers: { count: 1 }
  - id: no-secrets
    when: 'tool.name == "write_note" && tool.arguments.name.endsWith(".env")'
    effect: deny
    rationale: Credentials do not belong in notes.
    message: Do not write credentials into files; ask the operator instead.
  - id: failures-allowed
    when: 'tool.name == "fail_loudly"'
    effect: allow
    rationale: Lets the test see a failing tool recorded.
`);
  ({ daemon, baseUrl } = await startWardenUp(sandbox));
  token = createAgentToken(sandbox.dataDir, "sdk-agent");
});

afterAll(() => {
  daemon.kill("SIGTERM");
  sandbox.cleanup();
});

interface AgentRun {
  lines: Record<string, unknown>[];
  code: number | null;
}

function startAgent(session: string, calls: object[], agentToken = token): { done: Promise<AgentRun> } {
  const child = spawn(
    process.execPath,
    [agentScript, sandbox.workspace, ...calls.map((call) => JSON.stringify(call))],
    {
      cwd: projectRoot,
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, WARDEN_URL: baseUrl, WARDEN_TOKEN: agentToken, WARDEN_SESSION: session },
    },
  );
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  return {
    done: new Promise((resolve, reject) => {
      child.once("error", reject);
      child.once("exit", (code) => {
        if (code !== 0) reject(new Error(`agent exited ${code}: ${stderr}`));
        else
          resolve({
            code,
            lines: stdout
              .trim()
              .split("\n")
              .map((line) => JSON.parse(line)),
          });
      });
    }),
  };
}

describe("guarded tools through warden/sdk, against the real daemon", () => {
  it("runs an allowed call, records call, decision and result, and returns the result", async () => {
    const run = await startAgent("sdk-allowed", [{ tool: "write_note", name: "todo.md", text: "buy milk" }])
      .done;
    expect(run.lines[0]).toEqual({
      tool: "write_note",
      outcome: "ok",
      result: { written: "todo.md", bytes: 8 },
    });
    expect(readFileSync(path.join(sandbox.workspace, "todo.md"), "utf8")).toBe("buy milk");
    const events = readLog(sandbox.dataDir, ["--session", "sdk-allowed"]);
    expect(events.map((event) => event.type)).toEqual(["tool-call", "policy-decision", "tool-result"]);
    expect(events[0]!.agentId).toBe("sdk-agent");
    expect(events[0]!.data).toMatchObject({ via: "sdk", server: "sdk:notes", tool: "write_note" });
    expect(events[2]!.data).toMatchObject({ isError: false, result: { written: "todo.md", bytes: 8 } });
  });

  it("never runs a denied call and tells the agent the rule and its message", async () => {
    const run = await startAgent("sdk-denied", [{ tool: "write_note", name: "prod.env", text: "KEY=1" }])
      .done;
    expect(run.lines[0]).toMatchObject({ tool: "write_note", outcome: "denied", ruleId: "no-secrets" });
    expect(run.lines[0]!.message).toContain("Do not write credentials into files");
    expect(run.lines[1]).toEqual({ ran: [] });
    expect(existsSync(path.join(sandbox.workspace, "prod.env"))).toBe(false);
    const types = readLog(sandbox.dataDir, ["--session", "sdk-denied"]).map((event) => event.type);
    expect(types).toEqual(["tool-call", "policy-decision"]);
  });

  it("waits on a held call until a reviewer approves it, then runs it", async () => {
    const agent = startAgent("sdk-held", [{ tool: "write_note", name: "release-1.0.md", text: "shipped" }]);
    const held = await waitFor(() => {
      const listed = runWarden(["approvals", "list", "--data-dir", sandbox.dataDir, "--json"]);
      return listed.stdout.trim()
        ? (JSON.parse(listed.stdout.split("\n")[0]!) as { approvalId: string })
        : null;
    });
    expect(existsSync(path.join(sandbox.workspace, "release-1.0.md"))).toBe(false);
    expect(runWarden(["approvals", "approve", held.approvalId, "--data-dir", sandbox.dataDir]).code).toBe(0);
    const run = await agent.done;
    expect(run.lines[0]).toMatchObject({ tool: "write_note", outcome: "ok" });
    expect(readFileSync(path.join(sandbox.workspace, "release-1.0.md"), "utf8")).toBe("shipped");
  });

  it("records a tool that throws as an error result and rethrows the tool's own error", async () => {
    const run = await startAgent("sdk-throws", [{ tool: "fail_loudly" }]).done;
    expect(run.lines[0]).toEqual({
      tool: "fail_loudly",
      outcome: "error",
      name: "Error",
      message: "the disk is full",
    });
    const result = readLog(sandbox.dataDir, ["--session", "sdk-throws", "--type", "tool-result"])[0]!;
    expect(result.data).toMatchObject({ isError: true, result: { error: "Error: the disk is full" } });
  });

  it("denies every call (fails closed) when the token is wrong, running nothing", async () => {
    const run = await startAgent(
      "sdk-bad-token",
      [{ tool: "write_note", name: "x.md", text: "x" }],
      "wrd_not-a-token",
    ).done;
    expect(run.lines[0]).toMatchObject({ outcome: "denied", ruleId: "warden-unavailable" });
    expect(run.lines[0]!.message).toContain("401");
    expect(existsSync(path.join(sandbox.workspace, "x.md"))).toBe(false);
  });

  it("refuses results for calls that were not decided for this agent", async () => {
    const other = { token: createAgentToken(sandbox.dataDir, "other-agent") };
    const decided = await postJson("/v1/warden/tool-calls", token, {
      sessionId: "sdk-forge",
      server: "notes",
      tool: "write_note",
      arguments: { name: "a.md", text: "a" },
    });
    expect(decided.status).toBe(200);
    const callId = (decided.body as { callId: string }).callId;
    const forged = await postJson("/v1/warden/tool-results", other.token, {
      callId,
      isError: false,
      latencyMs: 1,
      result: "forged",
    });
    expect(forged.status).toBe(404);
    const unknown = await postJson("/v1/warden/tool-results", token, {
      callId: "not-a-call",
      isError: false,
      latencyMs: 1,
      result: "x",
    });
    expect(unknown.status).toBe(404);
    const malformed = await postJson("/v1/warden/tool-calls", token, { tool: "", extra: 1 });
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body)).toContain("tool:");
    const results = readLog(sandbox.dataDir, ["--type", "tool-result"]).filter((event) =>
      JSON.stringify(event.data).includes("forged"),
    );
    expect(results).toHaveLength(0);
  });
});

async function postJson(pathname: string, bearer: string, body: unknown) {
  const { request } = await import("undici");
  const answer = await request(`${baseUrl}${pathname}`, {
    method: "POST",
    headers: { authorization: `Bearer ${bearer}`, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: answer.statusCode, body: (await answer.body.json()) as unknown };
}
