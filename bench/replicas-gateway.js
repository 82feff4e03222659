// Gateway throughput with the record in PostgreSQL: one `warden up` replica vs two replicas on
// the same database (each on its own chain), in one run, on one upstream (the scripted model
// server in its own process, a test instrument standing in for a model). The load comes from this
// process through undici, CONNECTIONS connections spread over the replicas, for SECONDS each.
// On a 2-core machine the replicas, the upstream, PostgreSQL and the load share the cores, so
// the ratio shows contention as much as scaling.
// Run: npm run build && node bench/replicas-gateway.js   (SECONDS=5 CONNECTIONS=64)
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { Pool } from "undici";

const here = fileURLToPath(new URL("./gateway-proxy.js", import.meta.url));
const warden = fileURLToPath(new URL("../bin/warden.js", import.meta.url));
const seconds = Number(process.env.SECONDS ?? 5);
const connections = Number(process.env.CONNECTIONS ?? 64);
const adminUrl = process.env.WARDEN_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

function start(args, pattern, env = {}) {
  const child = spawn(process.execPath, args, {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start:\n${output}`)), 30_000);
    const look = (chunk) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, url: match[1] });
      }
    };
    child.stdout.on("data", look);
    child.stderr.on("data", look);
  });
}

async function database() {
  const name = `warden_bench_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return { name, url: url.toString() };
}

async function dropDatabase(name) {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

async function replica(root, db, chain, upstreamUrl, children) {
  mkdirSync(root, { recursive: true });
  const dataDir = path.join(root, chain);
  const policy = path.join(root, "constitution.yaml");
  writeFileSync(policy, "version: 1\ndefault: allow\nrules: []\n");
  const daemon = await start(
    [
      warden,
      "up",
      "--data-dir",
      dataDir,
      "--policy",
      policy,
      "--port",
      "0",
      "--upstream",
      `openai=${upstreamUrl}`,
      ...(db === null ? [] : ["--db", db, "--chain", chain]),
    ],
    /http (http:\/\/127\.0\.0\.1:\d+)/,
    { OPENAI_API_KEY: "sk-bench-unused" },
  );
  children.push(daemon.child);
  const created = spawnSync(
    process.execPath,
    [warden, "tokens", "create", "--agent", "bench", "--data-dir", dataDir, "--json"],
    {
      encoding: "utf8",
    },
  );
  return { url: daemon.url, token: JSON.parse(created.stdout).token };
}

async function throughput(targets) {
  const body = JSON.stringify({ model: "gpt-bench", messages: [{ role: "user", content: "Say hello." }] });
  const pools = targets.map(
    (target) => new Pool(target.url, { connections: Math.ceil(connections / targets.length) }),
  );
  const call = async (index) => {
    const target = targets[index % targets.length];
    const answer = await pools[index % targets.length].request({
      method: "POST",
      path: "/v1/chat/completions",
      headers: { "content-type": "application/json", authorization: `Bearer ${target.token}` },
      body,
    });
    await answer.body.text();
    if (answer.statusCode !== 200) throw new Error(`status ${answer.statusCode}`);
  };
  for (let index = 0; index < 200; index++) await call(index);
  let completed = 0;
  let failed = 0;
  const deadline = performance.now() + seconds * 1000;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async (_, worker) => {
      while (performance.now() < deadline) {
        try {
          await call(worker);
          completed++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const perSecond = completed / ((performance.now() - startedAt) / 1000);
  for (const pool of pools) await pool.close();
  return { perSecond, failed };
}

const root = mkdtempSync(path.join(tmpdir(), "warden-bench-replicas-"));
const children = [];
const databases = [];
try {
  const upstream = await start([here, "upstream"], /(http:\/\/127\.0\.0\.1:\d+)/);
  children.push(upstream.child);
  const single = await database();
  databases.push(single.name);
  const one = await replica(path.join(root, "one"), single.url, "r1", upstream.url, children);
  const oneResult = await throughput([one]);
  for (const child of children.splice(1)) child.kill("SIGTERM");
  const sqlite = await replica(path.join(root, "sqlite"), null, "sqlite", upstream.url, children);
  const sqliteResult = await throughput([sqlite]);
  for (const child of children.splice(1)) child.kill("SIGTERM");

  const shared = await database();
  databases.push(shared.name);
  const first = await replica(path.join(root, "two"), shared.url, "r1", upstream.url, children);
  const second = await replica(path.join(root, "two"), shared.url, "r2", upstream.url, children);
  const twoResult = await throughput([first, second]);
  const lines = [
    `${connections} connections for ${seconds} s through the gateway, record in PostgreSQL`,
    "",
    "replicas   req/s  failed  vs one",
    `1        ${oneResult.perSecond.toFixed(0).padStart(7)} ${String(oneResult.failed).padStart(7)}  100.0%`,
    `1 (SQLite) ${sqliteResult.perSecond.toFixed(0).padStart(5)} ${String(sqliteResult.failed).padStart(7)}  ${((sqliteResult.perSecond / oneResult.perSecond) * 100).toFixed(1)}%`,
    `2        ${twoResult.perSecond.toFixed(0).padStart(7)} ${String(twoResult.failed).padStart(7)}  ${((twoResult.perSecond / oneResult.perSecond) * 100).toFixed(1)}%`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
} finally {
  for (const child of children) child.kill("SIGTERM");
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const name of databases) await dropDatabase(name).catch(() => {});
  rmSync(root, { recursive: true, force: true });
}
