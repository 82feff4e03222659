// Durable appends per second: SqliteEventStore (canonical JSON, secret fingerprints, hash chain,
// group commit, one fsync per commit) vs raw better-sqlite3 inserts into the same table with the
// same pragmas (WAL, synchronous=FULL), in one run on the same disk.
// Run: npm run build && node bench/store-append.js   (EVENTS=100000 SINGLE=2000 to change sizes)
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { createSecretRedactor } from "../dist/store/redact-secrets.js";
import { migrations } from "../dist/store/sqlite/schema.js";
import { SqliteEventStore } from "../dist/store/sqlite/sqlite-event-store.js";

const events = Number(process.env.EVENTS ?? 50_000);
// One producer waits for every fsync; fewer events keep that row short.
const singleEvents = Number(process.env.SINGLE ?? 2000);
const batchSize = 1000;

const root = mkdtempSync(path.join(process.env.BENCH_DIR ?? tmpdir(), "warden-bench-store-"));
let fileCount = 0;
const freshFile = () => path.join(root, `store-${fileCount++}.sqlite`);

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

function openRaw(file) {
  const database = new Database(file);
  database.pragma("journal_mode = WAL");
  database.pragma("synchronous = FULL");
  database.exec(migrations[0]);
  return database;
}

/** Rows like the store writes (same columns, body of the same size), without hashing or chaining. */
function rawRow(index) {
  const input = toolCall(index);
  const body = JSON.stringify({
    id: `id-${index}`,
    seq: index + 1,
    time: new Date().toISOString(),
    ...input,
    prevHash: "0".repeat(64),
  });
  return {
    seq: index + 1,
    id: `id-${index}`,
    time: new Date().toISOString(),
    type: input.type,
    agent_id: input.agentId,
    session_id: input.sessionId,
    trace_id: input.traceId,
    hash: "f".repeat(64),
    body,
  };
}

const insertSql =
  "INSERT INTO events (seq, id, time, type, agent_id, session_id, trace_id, hash, body) VALUES (@seq, @id, @time, @type, @agent_id, @session_id, @trace_id, @hash, @body)";

function countRows(file) {
  const database = new Database(file, { readonly: true });
  const { n } = database.prepare("SELECT count(*) AS n FROM events").get();
  database.close();
  return n;
}

function timed(run) {
  const start = process.hrtime.bigint();
  return Promise.resolve(run()).then(() => Number(process.hrtime.bigint() - start) / 1e9);
}

async function rawSingleRowCommits(count) {
  const file = freshFile();
  const database = openRaw(file);
  const insert = database.prepare(insertSql);
  const rows = Array.from({ length: count }, (_, index) => rawRow(index));
  const seconds = await timed(() => {
    for (const row of rows) insert.run(row);
  });
  database.close();
  return { file, count, seconds };
}

async function rawBatchedCommits(count) {
  const file = freshFile();
  const database = openRaw(file);
  const insert = database.prepare(insertSql);
  const rows = Array.from({ length: count }, (_, index) => rawRow(index));
  const insertBatch = database.transaction((batch) => {
    for (const row of batch) insert.run(row);
  });
  const seconds = await timed(() => {
    for (let start = 0; start < rows.length; start += batchSize)
      insertBatch(rows.slice(start, start + batchSize));
  });
  database.close();
  return { file, count, seconds };
}

/** `producers` loops, each awaiting its own durable append before the next. */
async function wardenAppends(producers, count) {
  const file = freshFile();
  const store = new SqliteEventStore({ file, redact: createSecretRedactor(randomBytes(32)) });
  // Warm up (JIT, first pages) outside the measurement.
  for (let index = 0; index < 200; index++) await store.append(toolCall(index));
  let next = 0;
  const seconds = await timed(() =>
    Promise.all(
      Array.from({ length: producers }, async () => {
        while (next < count) await store.append(toolCall(200 + next++));
      }),
    ),
  );
  await store.close();
  return { file, count: next, seconds, extra: 200 };
}

const runs = [];
async function measure(name, producers, run) {
  const result = await run();
  const stored = countRows(result.file);
  if (stored !== result.count + (result.extra ?? 0))
    throw new Error(`${name}: expected ${result.count} rows, found ${stored}`);
  runs.push({
    name,
    producers,
    count: result.count,
    seconds: result.seconds,
    perSecond: result.count / result.seconds,
  });
}

try {
  await measure("raw better-sqlite3, 1 row per commit", 1, () => rawSingleRowCommits(singleEvents));
  await measure(`raw better-sqlite3, ${batchSize} rows per commit`, 1, () => rawBatchedCommits(events));
  await measure("warden SqliteEventStore", 1, () => wardenAppends(1, singleEvents));
  await measure("warden SqliteEventStore", 16, () => wardenAppends(16, events));
  await measure("warden SqliteEventStore", 64, () => wardenAppends(64, events));
} finally {
  rmSync(root, { recursive: true, force: true });
}

const single = runs[0].perSecond;
const batched = runs[1].perSecond;
const header = [
  "path",
  "producers",
  "events",
  "seconds",
  "events/s",
  "vs raw 1-row",
  `vs raw ${batchSize}-row`,
];
const rows = runs.map((run) => [
  run.name,
  String(run.producers),
  String(run.count),
  run.seconds.toFixed(2),
  Math.round(run.perSecond).toLocaleString("en-US"),
  `${(run.perSecond / single).toFixed(2)}x`,
  `${(run.perSecond / batched).toFixed(2)}x`,
]);
const widths = header.map((title, column) =>
  Math.max(title.length, ...rows.map((row) => row[column].length)),
);
const format = (row) =>
  `| ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join(" | ")} |`;
console.log(
  `durable appends, ${process.version}, SQLite ${new Database(":memory:").prepare("SELECT sqlite_version() AS v").get().v}, files in ${process.env.BENCH_DIR ?? tmpdir()}`,
);
console.log(format(header));
console.log(`|${widths.map((width) => "-".repeat(width + 2)).join("|")}|`);
for (const row of rows) console.log(format(row));
