// Durable appends per second on PostgreSQL: PostgresEventStore (canonical JSON, secret
// fingerprints, hash chain, group commit as one INSERT per batch) at 1, 16 and 64 producers, and
// two replicas writing their own chains at once, vs raw `pg` inserts into the same table (one row
// per commit, and 1000-row multi-VALUES commits), in one run against the same server. Besides
// events/s it prints the CPU each event cost in this process and in the PostgreSQL backends
// (from /proc, so on Linux with the server on this machine): on a shared machine events/s follows
// the load, CPU per event much less.
// Run: npm run build && node bench/postgres-append.js
//   (EVENTS=50000 SINGLE=2000 to change sizes; WARDEN_TEST_POSTGRES_URL for another server;
//   BASELINE_DIST=/path/to/other/dist also runs each Warden row on that build, alternating, to
//   compare a change before/after in one run)
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";

async function loadBuild(dist) {
  const at = (file) => pathToFileURL(path.join(dist, file)).href;
  return {
    PostgresEventStore: (await import(at("store/postgres/postgres-event-store.js"))).PostgresEventStore,
    postgresMigrations: (await import(at("store/postgres/schema.js"))).postgresMigrations,
    createSecretRedactor: (await import(at("store/redact-secrets.js"))).createSecretRedactor,
  };
}
const current = await loadBuild(new URL("../dist/", import.meta.url).pathname);
const baseline = process.env.BASELINE_DIST ? await loadBuild(path.resolve(process.env.BASELINE_DIST)) : null;
const { postgresMigrations } = current;

const events = Number(process.env.EVENTS ?? 50_000);
const singleEvents = Number(process.env.SINGLE ?? 2000);
const adminUrl = process.env.WARDEN_TEST_POSTGRES_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";

/** A tool call as the MCP proxy records it (about 400 bytes of canonical JSON). */
function toolCall(index) {
  return {
    type: "tool-call",
    agentId: "bench-agent",
    sessionId: `session-${index % 8}`,
    traceId: "0af7651916cd43dd8448eb211c80319c",
    spanId: (index + 1).toString(16).padStart(16, "0"),
    data: {
      callId: `call-${index}`,
      via: "mcp",
      method: "tools/call",
      server: "files",
      tool: "read_text_file",
      arguments: { path: `/home/user/project/src/module-${index % 100}/file-${index}.ts`, head: 200 },
    },
  };
}

const databases = [];
async function freshDatabase() {
  const name = `warden_bench_${randomBytes(5).toString("hex")}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  databases.push(name);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** CPU milliseconds the database's backends have used so far (null where /proc cannot tell). */
async function backendCpuMs(databaseUrl) {
  const name = new URL(databaseUrl).pathname.slice(1);
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const result = await admin.query("SELECT pid FROM pg_stat_activity WHERE datname = $1", [name]);
    let total = 0;
    for (const { pid } of result.rows) {
      const file = `/proc/${pid}/stat`;
      if (!existsSync(file)) return null;
      const fields = readFileSync(file, "utf8").split(") ")[1].split(" ");
      total += (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in 10 ms ticks
    }
    return total;
  } finally {
    await admin.end();
  }
}

async function timed(run, databaseUrl) {
  const backendsBefore = databaseUrl ? await backendCpuMs(databaseUrl) : null;
  const cpuBefore = process.cpuUsage();
  const started = process.hrtime.bigint();
  await run();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  const backendsAfter = databaseUrl ? await backendCpuMs(databaseUrl) : null;
  return {
    seconds,
    nodeCpuMs: (cpu.user + cpu.system) / 1000,
    backendCpuMs: backendsBefore === null || backendsAfter === null ? null : backendsAfter - backendsBefore,
  };
}

function rawRow(index) {
  const input = toolCall(index);
  const body = JSON.stringify({
    id: `id-${index}`,
    seq: index + 1,
    time: new Date().toISOString(),
    ...input,
  });
  return [
    "main",
    index + 1,
    `id-${index}`,
    new Date().toISOString(),
    input.type,
    input.agentId,
    input.sessionId,
    input.traceId,
    "f".repeat(64),
    body,
  ];
}

async function rawClient() {
  const url = await freshDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  // The same table, triggers included, as the store creates.
  for (const migration of postgresMigrations) await client.query(migration);
  return { client, url };
}

const columns = "(chain, seq, id, time, type, agent_id, session_id, trace_id, hash, body)";

async function rawSingleRowCommits(count) {
  const { client, url } = await rawClient();
  const time = await timed(async () => {
    for (let index = 0; index < count; index++)
      await client.query(
        `INSERT INTO warden_events ${columns} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
        rawRow(index),
      );
  }, url);
  await client.end();
  return { count, ...time };
}

async function rawBatchedCommits(count) {
  const { client, url } = await rawClient();
  const time = await timed(async () => {
    for (let start = 0; start < count; start += 1000) {
      const rows = Array.from({ length: Math.min(1000, count - start) }, (_, offset) =>
        rawRow(start + offset),
      );
      const placeholders = rows.map(
        (_, row) => `(${Array.from({ length: 10 }, (_, column) => `$${row * 10 + column + 1}`).join(",")})`,
      );
      await client.query(
        `INSERT INTO warden_events ${columns} VALUES ${placeholders.join(",")}`,
        rows.flat(),
      );
    }
  }, url);
  await client.end();
  return { count, ...time };
}

/** `producers` loops per replica, each awaiting its own durable append before the next. */
async function wardenAppends(build, producers, count, replicas = 1) {
  const { PostgresEventStore, createSecretRedactor } = build;
  const url = await freshDatabase();
  const stores = await Promise.all(
    Array.from({ length: replicas }, (_, index) =>
      PostgresEventStore.open({
        url,
        chain: `replica-${index}`,
        redact: createSecretRedactor(randomBytes(32)),
      }),
    ),
  );
  for (const store of stores) for (let index = 0; index < 200; index++) await store.append(toolCall(index));
  let next = 0;
  const time = await timed(
    () =>
      Promise.all(
        stores.flatMap((store) =>
          Array.from({ length: producers }, async () => {
            while (next < count) await store.append(toolCall(200 + next++));
          }),
        ),
      ),
    url,
  );
  const heads = await stores[0].chainHeads();
  const stored = heads.reduce((sum, head) => sum + head.seq, 0) - 200 * replicas;
  for (const store of stores) await store.close();
  if (stored !== next) throw new Error(`expected ${next} events, found ${stored}`);
  return { count: next, ...time };
}

const runs = [];
async function measure(name, producers, run) {
  const result = await run();
  runs.push({
    name,
    producers,
    count: result.count,
    perSecond: result.count / result.seconds,
    nodeMicrosPerEvent: (result.nodeCpuMs * 1000) / result.count,
    backendMicrosPerEvent: result.backendCpuMs === null ? null : (result.backendCpuMs * 1000) / result.count,
  });
}

/** This build's run and, with BASELINE_DIST, the baseline's right after it. */
async function measureWarden(name, producers, run) {
  await measure(name, producers, () => run(current));
  if (baseline) await measure(`${name} [baseline]`, producers, () => run(baseline));
}

try {
  await measure("raw pg, 1 row per commit", 1, () => rawSingleRowCommits(singleEvents));
  await measure("raw pg, 1000-row multi-VALUES", 1, () => rawBatchedCommits(events));
  await measureWarden("warden PostgresEventStore", 1, (build) => wardenAppends(build, 1, singleEvents));
  await measureWarden("warden PostgresEventStore", 16, (build) => wardenAppends(build, 16, events));
  await measureWarden("warden PostgresEventStore", 64, (build) => wardenAppends(build, 64, events));
  await measureWarden("warden, 2 replicas (own chains)", 128, (build) => wardenAppends(build, 64, events, 2));
} finally {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

const single = runs[0].perSecond;
const batched = runs[1].perSecond;
const lines = [
  "target                                         producers   events   events/s  vs 1-row  vs batched  node µs/ev  pg µs/ev",
];
for (const run of runs)
  lines.push(
    [
      run.name.padEnd(46),
      String(run.producers).padStart(9),
      String(run.count).padStart(8),
      run.perSecond.toFixed(0).padStart(10),
      `${(run.perSecond / single).toFixed(2)}×`.padStart(9),
      `${((run.perSecond / batched) * 100).toFixed(1)}%`.padStart(11),
      run.nodeMicrosPerEvent.toFixed(1).padStart(11),
      (run.backendMicrosPerEvent === null ? "-" : run.backendMicrosPerEvent.toFixed(1)).padStart(9),
    ].join(" "),
  );
process.stdout.write(`${lines.join("\n")}\n`);
