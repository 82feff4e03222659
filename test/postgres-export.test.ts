import { createHash } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalEventBody, hashEventBody } from "../src/core/hash-chain.js";
import { WardenClient } from "../src/sdk/index.js";
import {
  createAgentToken,
  createSandbox,
  runWarden,
  type Sandbox,
  startWardenUp,
} from "./helpers/mcp-client.js";
import { createTemporaryDatabase, skipPostgres } from "./helpers/postgres.js";

const constitution = `version: 1
default: deny
rules:
  - id: notes-allowed
    when: 'tool.name == "write_note"'
    effect: allow
    rationale: Notes are the agent's own scratch space.
`;

interface ExportLine {
  chain?: string;
  seq: number;
  hash: string;
  body: string;
  selected: boolean;
}

const cleanups: (() => Promise<void> | void)[] = [];
let database: { url: string; drop: () => Promise<void> };
const replicas: { sandbox: Sandbox; key: string }[] = [];
let workDir: Sandbox;

async function checkpointsOn(chain: string): Promise<number> {
  const client = new pg.Client({ connectionString: database.url });
  await client.connect();
  try {
    const result = await client.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM warden_events WHERE chain = $1 AND type = 'checkpoint'",
      [chain],
    );
    return result.rows[0]!.n;
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  if (skipPostgres) return;
  database = await createTemporaryDatabase();
  cleanups.push(() => database.drop());
  workDir = createSandbox(constitution);
  cleanups.push(() => workDir.cleanup());
  const started = await Promise.all(
    ["r1", "r2"].map(async (chain) => {
      const sandbox = createSandbox(constitution);
      const { daemon, baseUrl } = await startWardenUp(sandbox, [
        "--db",
        database.url,
        "--chain",
        chain,
        "--checkpoint-every",
        "4",
      ]);
      cleanups.push(() => {
        daemon.kill("SIGKILL");
        sandbox.cleanup();
      });
      replicas.push({ sandbox, key: path.join(sandbox.dataDir, "signing-key.pub.pem") });
      return { baseUrl, token: createAgentToken(sandbox.dataDir, "agent-1") };
    }),
  );
  const [onA, onB] = started.map(
    ({ baseUrl, token }) => new WardenClient({ baseUrl, token, sessionId: "s-x" }),
  );
  for (let round = 0; round < 4; round++) {
    await onA!.decide("write_note", { round, text: "the real note" });
    await onB!.decide("write_note", { round, text: "the real note" });
    await onB!.decide("delete_repo", { round });
  }
  // Events after the selected ones, so that a checkpoint on each chain covers them.
  const filler = started.map(
    ({ baseUrl, token }) => new WardenClient({ baseUrl, token, sessionId: "s-filler" }),
  );
  for (let index = 0; index < 4; index++)
    for (const client of filler) await client.decide("write_note", { index });
  for (const chain of ["r1", "r2"]) {
    for (let attempt = 0; (await checkpointsOn(chain)) < 3; attempt++) {
      if (attempt > 400) throw new Error(`no checkpoints on ${chain}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}, 120_000);

afterAll(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function exportTo(name: string, args: string[]) {
  const out = path.join(workDir.root, name);
  return {
    out,
    result: runWarden(["export", "--db", database.url, "--out", out, "--data-dir", workDir.dataDir, ...args]),
  };
}

function lines(out: string): ExportLine[] {
  return readFileSync(path.join(out, "events.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as ExportLine);
}

/** Writes the lines back and recomputes the manifest's digest, as a careful forger would. */
function rewrite(out: string, exported: ExportLine[]): void {
  const text = exported.map((line) => `${JSON.stringify(line)}\n`).join("");
  writeFileSync(path.join(out, "events.jsonl"), text);
  const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8"));
  manifest.eventsSha256 = createHash("sha256").update(text).digest("hex");
  writeFileSync(path.join(out, "manifest.json"), JSON.stringify(manifest));
}

/** What `warden log --db` holds for the session, per chain. */
function logged(): { all: number; r2: number } {
  const log = runWarden(["log", "--db", database.url, "--session", "s-x", "--json"]);
  const chains = log.stdout
    .trim()
    .split("\n")
    .map((line) => (JSON.parse(line) as { chain: string }).chain);
  return { all: chains.length, r2: chains.filter((chain) => chain === "r2").length };
}

const keyArgs = () => replicas.flatMap(({ key }) => ["--public-key", key]);

describe.skipIf(skipPostgres)("warden export --db: a compliance record from replicas on PostgreSQL", () => {
  it("exports a session from every replica chain and verifies it offline with each replica's key", () => {
    const inSession = logged();
    expect(inSession.r2).toBeGreaterThanOrEqual(16);
    const { out, result } = exportTo("all-chains", ["--session", "s-x", ...keyArgs()]);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(
      new RegExp(`exported ${inSession.all} events .*chain r1 seq .*chain r2 seq`),
    );
    const exported = lines(out);
    const selected = exported.filter((line) => line.selected).map((line) => JSON.parse(line.body));
    expect(selected).toHaveLength(inSession.all);
    expect(selected.every((event) => event.sessionId === "s-x")).toBe(true);
    expect(new Set(exported.map((line) => line.chain))).toEqual(new Set(["r1", "r2"]));
    for (const chain of ["r1", "r2"]) {
      const ofChain = exported.filter((line) => line.chain === chain);
      // Each chain's stretch ends at a checkpoint that covers its selected events.
      expect(JSON.parse(ofChain.at(-1)!.body).type).toBe("checkpoint");
    }
    const manifest = JSON.parse(readFileSync(path.join(out, "manifest.json"), "utf8"));
    expect(manifest.format).toBe("warden-export/v2");
    expect(manifest.publicKeys).toHaveLength(2);
    expect(manifest.unsignedSelected).toBe(0);
    expect(readFileSync(path.join(out, "summary.md"), "utf8")).toMatch(
      new RegExp(`- chain r2: seq \\d+\\.\\.\\d+, ${inSession.r2} selected`),
    );

    // The database can go away: the directory and the keys are enough.
    const verified = runWarden(["verify", "--export", out, ...keyArgs()]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(new RegExp(`intact: ${inSession.all} selected events on 2 chains`));
    expect(verified.stdout).toMatch(/chain r1: .*signatures checked/);
    expect(verified.stdout).toMatch(/chain r2: .*signatures checked/);
    const report = JSON.parse(runWarden(["verify", "--export", out, ...keyArgs(), "--json"]).stdout);
    // r1's checkpoints recorded r2's heads inside r2's exported stretch, and the other way round.
    expect(report.crossChecked).toBeGreaterThan(0);
  });

  it("exports one chain with --chain", () => {
    const { out, result } = exportTo("one-chain", ["--session", "s-x", "--chain", "r2", ...keyArgs()]);
    expect(result.code, result.stderr).toBe(0);
    const exported = lines(out);
    expect(new Set(exported.map((line) => line.chain))).toEqual(new Set(["r2"]));
    expect(exported.filter((line) => line.selected)).toHaveLength(logged().r2);
    expect(runWarden(["verify", "--export", out, ...keyArgs()]).code).toBe(0);
    const unknown = exportTo("no-chain", ["--session", "s-x", "--chain", "r9"]);
    expect(unknown.result.code).toBe(2);
    expect(unknown.result.stderr).toMatch(/no chain "r9"/);
  });

  it("fails verification when one event in the export is edited", () => {
    const { out } = exportTo("edited", ["--session", "s-x", ...keyArgs()]);
    const exported = lines(out);
    const target = exported.find(
      (line) => line.chain === "r2" && line.selected && line.body.includes("real note"),
    )!;
    target.body = target.body.replace("the real note", "a forged note");
    rewrite(out, exported);
    const verified = runWarden(["verify", "--export", out, ...keyArgs()]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toContain(
      `chain r2: FAILED at seq ${target.seq}: edited: event content does not match its hash`,
    );
    // Without recomputing the digest, the manifest catches it first.
    const plain = exportTo("edited-plain", ["--session", "s-x"]);
    const text = readFileSync(path.join(plain.out, "events.jsonl"), "utf8");
    writeFileSync(path.join(plain.out, "events.jsonl"), text.replace("the real note", "a forged note"));
    const caught = runWarden(["verify", "--export", plain.out, ...keyArgs()]);
    expect(caught.code).toBe(1);
    expect(caught.stdout).toMatch(
      /FAILED at seq 0: edited: events.jsonl does not match the manifest's digest/,
    );
  });

  it("catches a chain rewritten consistently inside the export through the other chain's recorded heads", () => {
    const { out } = exportTo("rewritten", ["--session", "s-x", ...keyArgs()]);
    // The forger drops the keys (they would expose the re-signed checkpoints) and re-hashes r2.
    rmSync(path.join(out, "public-keys"), { recursive: true });
    const exported = lines(out);
    const r2 = exported.filter((line) => line.chain === "r2");
    let previous = JSON.parse(r2[0]!.body).prevHash as string;
    const rewritten = new Map<number, string>();
    for (const line of r2) {
      const body = JSON.parse(line.body.replace("the real note", "a forged note"));
      body.prevHash = previous;
      if (body.type === "checkpoint")
        body.data.headHash = rewritten.get(body.data.headSeq) ?? body.data.headHash;
      line.body = canonicalEventBody(body);
      line.hash = hashEventBody(line.body);
      previous = line.hash;
      rewritten.set(line.seq, line.hash);
    }
    rewrite(out, exported);
    const verified = runWarden(["verify", "--export", out]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(
      /chain r2: FAILED at seq \d+: edited: chain r2 at seq \d+ is not what chain r1 recorded/,
    );
  });

  it("refuses checkpoints whose replica key was not given", () => {
    const { out } = exportTo("one-key", ["--session", "s-x", ...keyArgs()]);
    const verified = runWarden(["verify", "--export", out, "--public-key", replicas[0]!.key]);
    expect(verified.code).toBe(1);
    expect(verified.stdout).toMatch(
      /chain r\d: FAILED at seq \d+: bad-signature: .*not among the public keys given/,
    );
  });

  it("refuses unclear requests with exit 2 and one line", () => {
    const nothing = exportTo("none", []);
    expect(nothing.result.code).toBe(2);
    expect(nothing.result.stderr).toMatch(/choose what to export/);
    const unmatched = exportTo("unmatched", ["--session", "no-such-session"]);
    expect(unmatched.result.code).toBe(2);
    expect(unmatched.result.stderr).toMatch(/no events match/);
    const notPostgres = exportTo("bad-url", ["--session", "s-x", "--db", "mysql://x"]);
    expect(notPostgres.result.code).toBe(2);
    const noStore = runWarden([
      "export",
      "--db",
      "postgres://postgres@127.0.0.1:5432/postgres",
      "--session",
      "s-x",
      "--out",
      path.join(workDir.root, "no-store"),
    ]);
    expect(noStore.code).toBe(2);
    expect(noStore.stderr).toMatch(/no Warden store in the database/);
  });
});
