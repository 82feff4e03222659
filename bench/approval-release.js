// How fast a held call is released once a reviewer decides: time from sending the approval
// (over the operator socket, as `warden approvals approve` does) to the waiting agent call
// resolving. Goal: within 100 ms. Run: npm run build && node bench/approval-release.js
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { newSpanId, newTraceId } from "../dist/core/ids.js";
import { silentLogger } from "../dist/core/logger.js";
import { startDaemon } from "../dist/server/daemon.js";
import { DaemonClient } from "../dist/server/daemon-client.js";
import { readOperatorToken } from "../dist/server/daemon-files.js";

const rounds = Number(process.env.ROUNDS ?? 300);
const root = mkdtempSync(path.join(tmpdir(), "warden-bench-approval-"));
const policy = path.join(root, "constitution.yaml");
writeFileSync(policy, "version: 1\ndefault: hold\nrules: []\n");
const dataDir = path.join(root, "state");
const daemon = await startDaemon({
  dataDir,
  policyPath: policy,
  logger: silentLogger(),
  socketOnly: true,
  // Every round holds a call: lift the per-agent hold limits (default 30 a minute).
  config: {
    version: 1,
    listen: { host: "127.0.0.1", port: 0 },
    upstreams: [],
    mcpServers: {},
    gateway: { mcpExecutedTools: [] },
    approvals: { maxHoldsPerAgentPerMinute: 1_000_000, maxOpenHoldsPerAgent: 1_000_000 },
  },
});
const agent = new DaemonClient({ socketPath: daemon.socketPath, role: "agent" });
const reviewer = new DaemonClient({
  socketPath: daemon.socketPath,
  role: "operator",
  token: readOperatorToken(dataDir),
});

const latencies = [];
for (let round = 0; round < rounds; round++) {
  const request = {
    via: "mcp",
    method: "tools/call",
    server: "files",
    tool: "write_file",
    arguments: { path: `/tmp/${round}` },
    agentId: "bench",
    sessionId: "bench",
    traceId: newTraceId(),
    spanId: newSpanId(),
  };
  let releasedAt = 0n;
  const waiting = agent.decideToolCall(request).then((verdict) => {
    releasedAt = process.hrtime.bigint();
    return verdict;
  });
  let held = [];
  while (held.length === 0) held = await reviewer.call("approvals-list");
  const sentAt = process.hrtime.bigint();
  await reviewer.call("approvals-decide", {
    approvalId: held[0].approvalId,
    outcome: "approved",
    reviewer: "bench",
    scope: "once",
  });
  const verdict = await waiting;
  if (verdict.effect !== "allow") throw new Error(`expected allow, got ${JSON.stringify(verdict)}`);
  latencies.push(Number(releasedAt - sentAt) / 1e6);
}
latencies.sort((a, b) => a - b);
const at = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))].toFixed(3);
console.log("approval → release (ms)   p50      p99      max");
console.log(
  `                          ${at(0.5).padEnd(9)}${at(0.99).padEnd(9)}${latencies.at(-1).toFixed(3)}   (${rounds} held calls; goal ≤ 100 ms)`,
);
agent.close();
reviewer.close();
await daemon.close();
rmSync(root, { recursive: true, force: true });
