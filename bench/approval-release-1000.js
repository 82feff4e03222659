// From a reviewer's decision to the held call's release, over the public HTTP API: the reviewer
// POSTs /api/approvals/ID/approve (Bearer token of a reviewer account), the agent waits on
// POST /v1/warden/tool-calls (its own Warden token). Measured from sending the approval to the
// agent's answer arriving. Two runs: one call held at a time, then HELD calls held at once and
// approved one by one while the rest wait. Goal: p50/p99 ≤ 100 ms.
// Run: npm run build && node bench/approval-release-1000.js   (ROUNDS=200 HELD=1000 to change sizes)

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { silentLogger } from "../dist/core/logger.js";
import { startDaemon } from "../dist/server/daemon.js";
import { DaemonClient } from "../dist/server/daemon-client.js";
import { readOperatorToken } from "../dist/server/daemon-files.js";

const rounds = Number(process.env.ROUNDS ?? 200);
const heldAtOnce = Number(process.env.HELD ?? 1000);
const root = mkdtempSync(path.join(tmpdir(), "warden-bench-release-"));
const policy = path.join(root, "constitution.yaml");
writeFileSync(
  policy,
  "version: 1\ndefault: allow\nrules:\n  - id: held\n    when: 'true'\n    effect: hold\n    holdTimeout: 1h\n    rationale: bench\n",
);
const dataDir = path.join(root, "state");
const daemon = await startDaemon({
  dataDir,
  policyPath: policy,
  logger: silentLogger(),
  config: {
    version: 1,
    listen: { host: "127.0.0.1", port: 0 },
    upstreams: [],
    mcpServers: {},
    gateway: { mcpExecutedTools: [] },
    approvals: { maxHoldsPerAgentPerMinute: 1_000_000, maxOpenHoldsPerAgent: 1_000_000 },
  },
});
const operator = new DaemonClient({
  socketPath: daemon.socketPath,
  role: "operator",
  token: readOperatorToken(dataDir),
});
const { token: reviewerToken } = await operator.call("users-add", {
  name: "bench",
  role: "reviewer",
  password: null,
});
const { token: agentToken } = await operator.call("tokens-create", { agentId: "bench-agent" });
operator.close();

const base = new URL(daemon.httpUrl);
const keepAlive = new http.Agent({ keepAlive: true, maxSockets: heldAtOnce + 16 });

function post(pathname, token, body) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: base.hostname,
        port: base.port,
        path: pathname,
        method: "POST",
        agent: keepAlive,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      },
      (response) => {
        let text = "";
        response.on("data", (chunk) => {
          text += chunk;
        });
        response.on("end", () =>
          resolve({ status: response.statusCode, body: JSON.parse(text), at: process.hrtime.bigint() }),
        );
      },
    );
    request.on("error", reject);
    request.end(JSON.stringify(body));
  });
}

function get(pathname, token) {
  return new Promise((resolve, reject) => {
    http
      .get(
        {
          host: base.hostname,
          port: base.port,
          path: pathname,
          agent: keepAlive,
          headers: { authorization: `Bearer ${token}` },
        },
        (response) => {
          let text = "";
          response.on("data", (chunk) => {
            text += chunk;
          });
          response.on("end", () => resolve(JSON.parse(text)));
        },
      )
      .on("error", reject);
  });
}

async function heldNow(count) {
  for (;;) {
    const { approvals } = await get("/api/approvals", reviewerToken);
    if (approvals.length >= count) return approvals;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Approves each held call in turn; resolves to decision → release latencies (ms). */
async function approveEach(calls, held) {
  const latencies = [];
  for (const approval of held) {
    const sentAt = process.hrtime.bigint();
    const decided = await post(`/api/approvals/${approval.approvalId}/approve`, reviewerToken, {
      scope: "once",
    });
    if (decided.status !== 200) throw new Error(`approve: ${decided.status} ${JSON.stringify(decided.body)}`);
    const answer = await calls.get(approval.approvalId);
    if (answer.body.effect !== "allow") throw new Error(`expected allow, got ${JSON.stringify(answer.body)}`);
    latencies.push(Number(answer.at - sentAt) / 1e6);
  }
  return latencies;
}

function propose(n) {
  return post("/v1/warden/tool-calls", agentToken, { tool: "deploy", arguments: { n } });
}

/** Matches each waiting HTTP call to its approval id through the argument `n`. */
function byApproval(held, pending) {
  return new Map(held.map((approval) => [approval.approvalId, pending.get(approval.arguments.n)]));
}

// One at a time.
const single = [];
for (let round = 0; round < rounds; round++) {
  const pending = new Map([[round, propose(round)]]);
  const held = await heldNow(1);
  single.push(...(await approveEach(byApproval(held, pending), held)));
}

// HELD at once.
const pending = new Map();
for (let n = 0; n < heldAtOnce; n++) pending.set(rounds + n, propose(rounds + n));
const held = await heldNow(heldAtOnce);
const many = await approveEach(byApproval(held, pending), held);

function row(label, latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))].toFixed(2);
  return `${label.padEnd(34)}${String(sorted.length).padEnd(8)}${at(0.5).padEnd(9)}${at(0.99).padEnd(9)}${sorted.at(-1).toFixed(2)}`;
}
console.log("decision → release over HTTP (ms)  calls   p50      p99      max     (goal ≤ 100 ms)");
console.log(row("one held at a time", single));
console.log(row(`${heldAtOnce} held at once`, many));

keepAlive.destroy();
await daemon.close();
rmSync(root, { recursive: true, force: true });
