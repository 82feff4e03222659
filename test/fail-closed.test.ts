import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { afterEach, describe, expect, it } from "vitest";
import {
  connectThroughWarden,
  createSandbox,
  filesystemServer,
  readLog,
  runWarden,
  type Sandbox,
  textOf,
  waitFor,
  wardenBinary,
} from "./helpers/mcp-client.js";

let sandbox: Sandbox | null = null;
let client: Client | null = null;

afterEach(async () => {
  await client?.close().catch(() => {});
  client = null;
  sandbox?.cleanup();
  sandbox = null;
});

const allowAll = "version: 1\ndefault: allow\nrules: []\n";

async function writeAttempt(name: string) {
  const target = path.join(sandbox!.workspace, name);
  const result = await client!.callTool({ name: "write_file", arguments: { path: target, content: "x" } });
  return { result, written: existsSync(target) };
}

describe("Warden fails closed", () => {
  it("denies every call when no constitution is loaded", async () => {
    sandbox = createSandbox(allowAll);
    // A daemon started without --policy: nothing was stated, so nothing is allowed.
    const daemon = spawn(
      process.execPath,
      [wardenBinary, "up", "--data-dir", sandbox.dataDir, "--socket-only"],
      { stdio: "ignore" },
    );
    try {
      await waitFor(() => existsSync(path.join(sandbox!.dataDir, "warden.sock")));
      client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
      const { result, written } = await writeAttempt("a.txt");
      expect(written).toBe(false);
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain("no-constitution");
    } finally {
      daemon.kill("SIGTERM");
    }
  });

  it("refuses to start with a broken constitution and names each problem as path: message", () => {
    sandbox = createSandbox(
      "version: 1\ndefault: perhaps\nrules:\n  - id: x\n    when: 'tool.name =='\n    effect: allow\n",
    );
    const result = runWarden(["up", "--data-dir", sandbox.dataDir, "--policy", sandbox.policyPath]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/default: /);
    expect(result.stderr).toMatch(/rules\[0\]\.when: /);
  });

  it("keeps the old constitution in force when a reload finds the new file broken, and records the error", async () => {
    sandbox = createSandbox(allowAll);
    client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
    expect((await writeAttempt("before.txt")).written).toBe(true);
    sandbox.writePolicy("version: 1\ndefault: allow\nrules:\n  - id: broken\n    effect: sometimes\n");
    await waitFor(() =>
      readLog(sandbox!.dataDir, ["--type", "policy-load"]).some((event) => event.data.ok === false),
    );
    expect((await writeAttempt("after-broken.txt")).written).toBe(true);
    sandbox.writePolicy("version: 1\ndefault: deny\nrules: []\n");
    await waitFor(
      () =>
        readLog(sandbox!.dataDir, ["--type", "policy-load"]).filter((event) => event.data.ok === true)
          .length >= 2,
    );
    expect((await writeAttempt("after-fixed.txt")).written).toBe(false);
  });

  it("treats a condition that fails to evaluate as a match for a deny rule", async () => {
    sandbox = createSandbox(`version: 1
default: allow
rules:
  - id: no-etc
    when: 'tool.arguments.target.startsWith("/etc")'
    effect: deny
    rationale: Nothing under /etc.
`);
    client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
    // write_file has no "target" argument: the condition errors, so the deny rule applies.
    const { result, written } = await writeAttempt("b.txt");
    expect(written).toBe(false);
    expect(textOf(result)).toContain("no-etc");
    const [decision] = readLog(sandbox.dataDir, ["--type", "policy-decision"]).filter(
      (event) => (event.data.applied as { effect: string }).effect === "deny",
    );
    expect((decision!.data.matches as { error?: string }[])[0]!.error).toBeTruthy();
  });

  it("denies calls once the daemon is gone instead of forwarding them unrecorded", async () => {
    sandbox = createSandbox(allowAll);
    client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
    expect((await writeAttempt("first.txt")).written).toBe(true);
    const pid = Number(readFileSync(path.join(sandbox.dataDir, "warden.pid"), "utf8"));
    process.kill(pid, "SIGKILL");
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    });
    const { result, written } = await writeAttempt("second.txt");
    expect(written).toBe(false);
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/Warden|daemon/i);
  });

  it("denies calls when the store can no longer commit", async () => {
    sandbox = createSandbox(allowAll);
    client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
    expect((await writeAttempt("first.txt")).written).toBe(true);
    // Another writer steals the next seq behind the daemon's back: its next commit fails.
    const { default: Database } = await import("better-sqlite3");
    const database = new Database(path.join(sandbox.dataDir, "events.sqlite"));
    const { seq } = database.prepare("SELECT max(seq) AS seq FROM events").get() as { seq: number };
    database
      .prepare(
        "INSERT INTO events (seq, id, time, type, agent_id, session_id, trace_id, hash, body) VALUES (?, 'x', 't', 'tool-call', 'a', 's', 't', 'h', '{}')",
      )
      .run(seq + 1);
    database.close();
    const { result, written } = await writeAttempt("second.txt");
    expect(written).toBe(false);
    expect(result.isError).toBe(true);
    const { result: third, written: thirdWritten } = await writeAttempt("third.txt");
    expect(thirdWritten).toBe(false);
    expect(third.isError).toBe(true);
  });

  it("refuses a constitution file that does not exist", () => {
    sandbox = createSandbox(allowAll);
    const result = runWarden([
      "up",
      "--data-dir",
      sandbox.dataDir,
      "--policy",
      path.join(sandbox.root, "missing.yaml"),
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/missing\.yaml/);
  });

  it("denies every call while the kill switch is engaged, and decides again once released", async () => {
    sandbox = createSandbox(allowAll);
    client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
    expect((await writeAttempt("before.txt")).written).toBe(true);
    expect(
      runWarden(["kill-switch", "engage", "--reason", "incident 42", "--data-dir", sandbox.dataDir]).code,
    ).toBe(0);
    const { result, written } = await writeAttempt("during.txt");
    expect(written).toBe(false);
    expect(textOf(result)).toContain("kill-switch");
    expect(textOf(result)).toContain("incident 42");
    // The switch survives a restart of the daemon.
    expect(runWarden(["down", "--data-dir", sandbox.dataDir]).code).toBe(0);
    await client.close();
    client = await connectThroughWarden(sandbox, [process.execPath, filesystemServer, sandbox.workspace]);
    expect((await writeAttempt("after-restart.txt")).written).toBe(false);
    expect(runWarden(["kill-switch", "release", "--data-dir", sandbox.dataDir]).code).toBe(0);
    expect((await writeAttempt("after.txt")).written).toBe(true);
    const switches = readLog(sandbox.dataDir, ["--type", "kill-switch"]);
    expect(switches.map((event) => event.data.engaged)).toEqual([true, false]);
  });
});
