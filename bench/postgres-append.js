// Durable appends per second on PostgreSQL: PostgresEventStore (canonical JSON, secret
// fingerprints, hash chain, group commit as one INSERT per batch) at 1, 16 and 64 producers, and
// two replicas writing their own chains at once, vs raw `pg` inserts into the same table (one row
// per commit, and 1000-row multi-VALUES commits), in one run against the same server.
// Run: npm run build && node bench/postgres-append.js
//   (EVENTS=50000 SINGLE=2000 to change sizes; WARDEN_TEST_POSTGRES_URL for another server)
import { randomBytes } from "node:crypto";
import pg from "pg";
import { PostgresEventStore } from "../dist/store/postgres/postgres-event-store.js";
import { postgresMigrations } from "../dist/store/postgres/schema.js";
import { createSecretRedactor } from "../dist/store/redact-secrets.js";

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

async function timed(run) {
  const started = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - started) / 1e9;
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
  const client = new pg.Client({ connectionString: await freshDatabase() });
  await client.connect();
  // The same table, triggers included, as the store creates.
  for (const migration of postgresMigrations) await client.query(migration);
  return client;
}

const columns = "(chain, seq, id, time, type, agent_id, session_id, trace_id, hash, body)";

async function rawSingleRowCommits(count) {
  const client = await rawClient();
  const seconds = await timed(async () => {
    for (let index = 0; index < count; index++)
      await client.query(
        `INSERT INTO warden_events ${columns} VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)`,
        rawRow(index),
      );
  });
  await client.end();
  return { count, seconds };
}

async function rawBatchedCommits(count) {
  const client = await rawClient();
  const seconds = await timed(async () => {
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
  });
  await client.end();
  return { count, seconds };
}

/** `producers` loops per replica, each awaiting its own durable append before the next. */
async function wardenAppends(producers, count, replicas = 1) {
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
  const seconds = await timed(() =>
    Promise.all(
      stores.flatMap((store) =>
        Array.from({ length: producers }, async () => {
          while (next < count) await store.append(toolCall(200 + next++));
        }),
      ),
    ),
  );
  const heads = await stores[0].chainHeads();
  const stored = heads.reduce((sum, head) => sum + head.seq, 0) - 200 * replicas;
  for (const store of stores) await store.close();
  if (stored !== next) throw new Error(`expected ${next} events, found ${stored}`);
  return { count: next, seconds };
}

const runs = [];
async function measure(name, producers, run) {
  const result = await run();
  runs.push({ name, producers, count: result.count, perSecond: result.count / result.seconds });
}

try {
  await measure("raw pg, 1 row per commit", 1, () => rawSingleRowCommits(singleEvents));
  await measure("raw pg, 1000-row multi-VALUES", 1, () => rawBatchedCommits(events));
  await measure("warden PostgresEventStore", 1, () => wardenAppends(1, singleEvents));
  await measure("warden PostgresEventStore", 16, () => wardenAppends(16, events));
  await measure("warden PostgresEventStore", 64, () => wardenAppends(64, events));
  await measure("warden, 2 replicas (own chains)", 128, () => wardenAppends(64, events, 2));
} finally {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  for (const name of databases) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.end();
}

const single = runs[0].perSecond;
const batched = runs[1].perSecond;
const lines = ["target                              producers   events   events/s  vs 1-row  vs batched"];
for (const run of runs)
  lines.push(
    [
      run.name.padEnd(35),
      String(run.producers).padStart(9),
      String(run.count).padStart(8),
      run.perSecond.toFixed(0).padStart(10),
      `${(run.perSecond / single).toFixed(2)}×`.padStart(9),
      `${((run.perSecond / batched) * 100).toFixed(1)}%`.padStart(11),
    ].join(" "),
  );
process.stdout.write(`${lines.join("\n")}\n`);
