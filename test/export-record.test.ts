import type { ChildProcess } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WardenClient } from "../src/sdk/index.js";
import {
  createAgentToken,
  createSandbox,
  readLog,
  runWarden,
  type Sandbox,
  startWardenUp,
  waitFor,
} from "./helpers/mcp-client.js";

let sandbox: Sandbox;
let daemon: ChildProcess;

beforeAll(async () => {
  sandbox = createSandbox(`version: 1
default: deny
rules:
  - id: notes-allowed
    when: 'tool.name == "write_note"'
    effect: allow
    rationale: Notes are the agent's own scratch space.
`);
  const started = await startWardenUp(sandbox, ["--checkpoint-every", "5"]);
  daemon = started.daemon;
  const token = createAgentToken(sandbox.dataDir, "agent-x");
  for (const session of ["s-a", "s-b", "s-a", "s-b"]) {
    const client = new WardenClient({ baseUrl: started.baseUrl, token, sessionId: session });
    await client.decide("write_note", { text: `note in ${session}` });
    await client.decide("delete_repo", { name: "warden" });
  }
  // Enough events after the last selected one for a checkpoint to cover them.
  const filler = new WardenClient({ baseUrl: started.baseUrl, token, sessionId: "s-filler" });
  for (let index = 0; index < 6; index++) await filler.decide("write_note", { index });
  await waitFor(() => {
    const log = runWarden(["log", "--data-dir", sandbox.dataDir, "--type", "checkpoint", "--json"]);
    return log.stdout.trim().split("\n").length >= 3;
  });
});

afterAll(() => {
  daemon.kill("SIGTERM");
  sandbox.cleanup();
});

function exportTo(name: string, args: string[]) {
  const out = path.join(sandbox.root, name);
  return { out, result: runWarden(["export", "--data-dir", sandbox.dataDir, "--out", out, ...args]) };
}

function lines(out: string) {
  return readFileSync(path.join(out, "events.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { seq: number; hash: string; body: string; selected: boolean });
}

describe("warden export", () => {
  it("writes one session's events with the chain stretch that proves them, and verifies offline", () => {
    const inSession = readLog(sandbox.dataDir, ["--session", "s-a"]);
    expect(inSession.filter((event) => event.type === "tool-call")).toHaveLength(4);
    const { out, result } = exportTo("export-a", ["--session", "s-a"]);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`exported ${inSession.length} events`);
    const exported = lines(out);
    const selected = exported.filter((line) => line.selected).map((line) => JSON.parse(line.body));
    expect(selected.map((event) => event.seq)).toEqual(inSession.map((event) => event.seq));
    expect(selected.every((event) => event.sessionId === "s-a")).toBe(true);
    // The stretch starts and ends at checkpoints (or the log's start).
    const first = JSON.parse(exported[0]!.body);
    expect(first.seq === 1 || first.type === "checkpoint").toBe(true);
    expect(JSON.parse(exported.at(-1)!.body).type).toBe("checkpoint");
    const summary = readFileSync(path.join(out, "summary.md"), "utf8");
    expect(summary).toContain(`${inSession.length} selected events`);
    expect(summary).toMatch(/Every selected event is covered by a signed checkpoint/);
    expect(summary).not.toMatch(/s-b \|/);

    const key = path.join(sandbox.dataDir, "signing-key.pub.pem");
    const verified = runWarden(["verify", "--export", out, "--public-key", path.join(out, "public-key.pem")]);
    expect(verified.code).toBe(0);
    expect(verified.stdout).toContain(`intact: ${inSession.length} selected events`);
    expect(key).toBeTruthy();
  });

  it("catches an edited event even when the manifest digest is recomputed", () => {
    const { out } = exportTo("export-tampered", ["--session", "s-a"]);
    const exported = lines(out);
    const target = exported.find((line) => line.selected)!;
    target.body = target.body.replace("note in s-a", "note in s-z");
    const text = exported.map((line) => `${JSON.stringify(line)}\n`).join("");
    writeFileSync(path.join(out, "events.jsonl"), text);
    const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8"));
    manifest.eventsSha256 = createHash("sha256").update(text).digest("hex");
    writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest));
    const verified = runWarden(["verify", "--export", out]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/FAILED at seq \d+: edited/);
  });

  it("rejects checkpoints signed by another key", () => {
    const { out } = exportTo("export-other-key", ["--agent", "agent-x"]);
    const other = path.join(sandbox.root, "other.pub.pem");
    writeFileSync(other, generateKeyPairSync("ed25519").publicKey.export({ type: "spki", format: "pem" }));
    const verified = runWarden(["verify", "--export", out, "--public-key", other]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(/bad-signature/);
  });

  it("refuses unclear requests with exit 2 and one line", () => {
    const nothing = exportTo("export-none", []);
    expect(nothing.result.code).toBe(2);
    expect(nothing.result.stderr).toMatch(/choose what to export/);
    const unknown = exportTo("export-unknown", ["--session", "no-such-session"]);
    expect(unknown.result.code).toBe(2);
    expect(unknown.result.stderr).toMatch(/no events match/);
    const badTime = exportTo("export-bad-time", ["--since", "last tuesday"]);
    expect(badTime.result.code).toBe(2);
    expect(badTime.result.stderr).toMatch(/--since must be an ISO 8601 time/);
    const full = path.join(sandbox.root, "export-full");
    mkdirSync(full);
    writeFileSync(path.join(full, "keep.txt"), "mine");
    const occupied = runWarden(["export", "--data-dir", sandbox.dataDir, "--out", full, "--session", "s-a"]);
    expect(occupied.code).toBe(2);
    expect(occupied.stderr).toMatch(/is not empty/);
  });
});
