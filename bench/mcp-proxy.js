// MCP tool call latency and throughput: direct to @modelcontextprotocol/server-filesystem over
// stdio vs the same server behind `warden mcp` (daemon records call, decision and result with
// fsync). One run, same upstream, same client (the official SDK). Run: npm run build && node bench/mcp-proxy.js
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const require = createRequire(import.meta.url);
const filesystemServer = require.resolve("@modelcontextprotocol/server-filesystem/dist/index.js");
const warden = fileURLToPath(new URL("../bin/warden.js", import.meta.url));
const calls = Number(process.env.CALLS ?? 3000);
const concurrency = Number(process.env.CONCURRENCY ?? 8);

const root = mkdtempSync(path.join(tmpdir(), "warden-bench-mcp-"));
const workspace = path.join(root, "workspace");
const dataDir = path.join(root, "state");
const policy = path.join(root, "constitution.yaml");
require("node:fs").mkdirSync(workspace);
writeFileSync(path.join(workspace, "file.txt"), "x".repeat(1024));
writeFileSync(
  policy,
  `version: 1
default: deny
rules:
  - id: reads
    when: 'tool.name == "read_text_file"'
    effect: allow
    rationale: Reading is allowed.
`,
);

async function connect(command, args) {
  const client = new Client({ name: "bench", version: "1" });
  await client.connect(new StdioClientTransport({ command, args, stderr: "inherit" }));
  return client;
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function measure(client) {
  const request = { name: "read_text_file", arguments: { path: path.join(workspace, "file.txt") } };
  for (let index = 0; index < 200; index++) await client.callTool(request);
  const latencies = [];
  for (let index = 0; index < calls; index++) {
    const start = process.hrtime.bigint();
    const result = await client.callTool(request);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (result.isError) throw new Error(`call failed: ${JSON.stringify(result)}`);
  }
  latencies.sort((a, b) => a - b);
  let done = 0;
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (done < calls) {
        done++;
        await client.callTool(request);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), perSecond: calls / seconds };
}

const direct = await connect(process.execPath, [filesystemServer, workspace]);
const directResult = await measure(direct);
await direct.close();

const proxied = await connect(process.execPath, [
  warden,
  "mcp",
  "--data-dir",
  dataDir,
  "--policy",
  policy,
  "--name",
  "files",
  "--",
  process.execPath,
  filesystemServer,
  workspace,
]);
const wardenResult = await measure(proxied);
await proxied.close();

const rows = [
  ["path", "p50 ms", "p99 ms", `calls/s (${concurrency} in flight)`],
  ["direct", directResult.p50.toFixed(3), directResult.p99.toFixed(3), directResult.perSecond.toFixed(0)],
  ["warden mcp", wardenResult.p50.toFixed(3), wardenResult.p99.toFixed(3), wardenResult.perSecond.toFixed(0)],
  [
    "added / ratio",
    `+${(wardenResult.p50 - directResult.p50).toFixed(3)}`,
    `+${(wardenResult.p99 - directResult.p99).toFixed(3)}`,
    `${(wardenResult.perSecond / directResult.perSecond).toFixed(2)}x`,
  ],
];
for (const row of rows)
  console.log(row.map((cell, index) => String(cell).padEnd(index === 0 ? 16 : 22)).join(""));
console.log(
  `(${calls} sequential calls for latency; ${calls} calls with ${concurrency} in flight for throughput; 1 KiB file)`,
);

const { spawnSync } = await import("node:child_process");
spawnSync(process.execPath, [warden, "down", "--data-dir", dataDir], { stdio: "ignore" });
rmSync(root, { recursive: true, force: true });
