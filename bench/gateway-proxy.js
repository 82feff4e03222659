// Model gateway overhead, one run, side by side on one upstream (the scripted model server, a test
// instrument standing in for a model): direct, two no-op proxies (forwarding only, through an
// undici Pool: node:http, and fastify — the floor for a Node proxy here), Warden (`warden up`, the
// real daemon: records every request and response in SQLite) and @portkey-ai/gateway 1.15.2 (a
// peer gateway from npm). Every server runs in its own process; the load comes from this one
// through undici. Last, CONCURRENT slow streams (2 s each) are held open at once through each
// proxy while its resident memory is sampled: peak RSS is printed.
// Run: npm run build && node bench/gateway-proxy.js
//   (REQUESTS, STREAMS, SECONDS, CONNECTIONS, CONCURRENT; defaults 2000, 500, 5, 64, 1000)
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";

const here = fileURLToPath(import.meta.url);
const warden = fileURLToPath(new URL("../bin/warden.js", import.meta.url));
const requests = Number(process.env.REQUESTS ?? 2000);
const streams = Number(process.env.STREAMS ?? 500);
const seconds = Number(process.env.SECONDS ?? 5);
const connections = Number(process.env.CONNECTIONS ?? 64);
const concurrent = Number(process.env.CONCURRENT ?? 1000);

const role = process.argv[2];
if (role === "upstream") await serveUpstream();
else if (role === "noop-proxy") await serveNoopProxy(process.argv[3]);
else if (role === "fastify-proxy") await serveFastifyProxy(process.argv[3]);
else await main();

/** The scripted model server, in its own process; prints its URL. */
async function serveUpstream() {
  const { startScriptedModelServer } = await import("../dist/model-server/index.js");
  const server = await startScriptedModelServer({
    script: {
      name: "bench",
      rules: [
        {
          name: "slow-stream",
          when: { lastUser: "Stream slowly." },
          reply: { text: "word ".repeat(20).trim(), delay: { betweenChunksMs: 100 } },
        },
      ],
      default: { text: "Hello from the script, in a few words." },
    },
  });
  process.stdout.write(`${server.url}\n`);
}

/** Forwarding only: no parsing, no recording. */
async function serveNoopProxy(upstreamUrl) {
  const pool = new Pool(upstreamUrl, { connections: 256, keepAliveTimeout: 30_000 });
  const server = http.createServer(async (request, response) => {
    const chunks = [];
    for await (const chunk of request) chunks.push(chunk);
    try {
      const answer = await pool.request({
        method: request.method,
        path: request.url,
        headers: { "content-type": "application/json", authorization: request.headers.authorization ?? "" },
        body: Buffer.concat(chunks),
      });
      const headers = { "content-type": answer.headers["content-type"] ?? "application/json" };
      response.writeHead(answer.statusCode, headers);
      for await (const chunk of answer.body) response.write(chunk);
      response.end();
    } catch {
      if (!response.headersSent) response.writeHead(502);
      response.end();
    }
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  process.stdout.write(`http://127.0.0.1:${server.address().port}\n`);
}

/** Forwarding only, on fastify (no body parsing: the raw request is piped upstream). */
async function serveFastifyProxy(upstreamUrl) {
  const { default: Fastify } = await import("fastify");
  const pool = new Pool(upstreamUrl, { connections: 256, keepAliveTimeout: 30_000 });
  const app = Fastify({ logger: false, keepAliveTimeout: 30_000 });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", (_request, payload, done) => done(null, payload));
  app.post("/*", async (request, reply) => {
    const answer = await pool.request({
      method: "POST",
      path: request.url,
      headers: { "content-type": "application/json", authorization: request.headers.authorization ?? "" },
      body: request.body,
    });
    reply
      .code(answer.statusCode)
      .header("content-type", answer.headers["content-type"] ?? "application/json");
    return reply.send(answer.body);
  });
  await app.listen({ port: 0, host: "127.0.0.1" });
  process.stdout.write(`http://127.0.0.1:${app.server.address().port}\n`);
}

function start(command, args, pattern, env = {}) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } });
  let output = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${args.join(" ")} did not start:\n${output}`)), 20_000);
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
    child.once("exit", (code) => reject(new Error(`${args.join(" ")} exited ${code}:\n${output}`)));
  });
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** CPU time (user + system) a process has used, in µs, from /proc (clock ticks of 10 ms). */
function cpuMicros(child) {
  if (child === undefined) return null;
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

async function measure(target, child) {
  const pool = new Pool(target.url, { connections, keepAliveTimeout: 30_000, pipelining: 1 });
  const body = (stream) =>
    JSON.stringify({
      model: "gpt-bench",
      stream,
      messages: [{ role: "user", content: "Say hello." }],
    });
  const plain = body(false);
  const streamed = body(true);
  const call = async (text) => {
    const answer = await pool.request({
      method: "POST",
      path: `${target.prefix}/chat/completions`,
      headers: { "content-type": "application/json", ...target.headers },
      body: text,
    });
    const reply = await answer.body.text();
    if (answer.statusCode !== 200)
      throw new Error(`${target.name}: ${answer.statusCode} ${reply.slice(0, 300)}`);
    return reply;
  };
  for (let index = 0; index < 300; index++) await call(plain);

  const latencies = [];
  for (let index = 0; index < requests; index++) {
    const started = process.hrtime.bigint();
    await call(plain);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  latencies.sort((a, b) => a - b);

  const firstTokens = [];
  let streamProblem = null;
  try {
    await measureFirstTokens();
  } catch (error) {
    streamProblem = error.message.split("\n")[0];
  }
  async function measureFirstTokens() {
    for (let index = 0; index < 50 + streams; index++) {
      const started = process.hrtime.bigint();
      const answer = await pool.request({
        method: "POST",
        path: `${target.prefix}/chat/completions`,
        headers: { "content-type": "application/json", ...target.headers },
        body: streamed,
      });
      let first = 0;
      let seen = "";
      for await (const chunk of answer.body) {
        if (first === 0) {
          seen += chunk.toString();
          if (/"content":"[^"]/.test(seen)) first = Number(process.hrtime.bigint() - started) / 1e6;
        }
      }
      if (first === 0) throw new Error(`${target.name}: no content in the stream: ${seen.slice(0, 300)}`);
      if (index >= 50) firstTokens.push(first);
    }
  }
  firstTokens.sort((a, b) => a - b);

  let completed = 0;
  let failed = 0;
  const deadline = performance.now() + seconds * 1000;
  const startedAt = performance.now();
  const cpuBefore = cpuMicros(child);
  await Promise.all(
    Array.from({ length: connections }, async () => {
      while (performance.now() < deadline) {
        try {
          await call(plain);
          completed++;
        } catch {
          failed++;
        }
      }
    }),
  );
  const perSecond = completed / ((performance.now() - startedAt) / 1000);
  const cpuAfter = cpuMicros(child);
  // The process's own CPU per request: unlike req/s, it hardly moves when other work shares the cores.
  const cpuPerRequest =
    cpuBefore === null || cpuAfter === null || completed === 0 ? null : (cpuAfter - cpuBefore) / completed;
  await pool.close();
  return {
    p50: percentile(latencies, 0.5),
    p99: percentile(latencies, 0.99),
    ttft50: streamProblem ? null : percentile(firstTokens, 0.5),
    ttft99: streamProblem ? null : percentile(firstTokens, 0.99),
    streamProblem,
    perSecond,
    cpuPerRequest,
    failed,
  };
}

async function main() {
  const root = mkdtempSync(path.join(tmpdir(), "warden-bench-gateway-"));
  const children = [];
  try {
    const upstream = await start(process.execPath, [here, "upstream"], /(http:\/\/127\.0\.0\.1:\d+)/);
    children.push(upstream.child);
    const noop = await start(
      process.execPath,
      [here, "noop-proxy", upstream.url],
      /(http:\/\/127\.0\.0\.1:\d+)/,
    );
    children.push(noop.child);
    const fastify = await start(
      process.execPath,
      [here, "fastify-proxy", upstream.url],
      /(http:\/\/127\.0\.0\.1:\d+)/,
    );
    children.push(fastify.child);

    const dataDir = path.join(root, "state");
    const policy = path.join(root, "constitution.yaml");
    writeFileSync(policy, "version: 1\ndefault: allow\nrules: []\n");
    const daemon = await start(
      process.execPath,
      [
        // e.g. WARDEN_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile the daemon
        ...(process.env.WARDEN_NODE_ARGS ? process.env.WARDEN_NODE_ARGS.split(" ") : []),
        warden,
        "up",
        "--data-dir",
        dataDir,
        "--policy",
        policy,
        "--port",
        "0",
        "--upstream",
        `openai=${upstream.url}`,
      ],
      /http (http:\/\/127\.0\.0\.1:\d+)/,
      { OPENAI_API_KEY: "sk-bench-unused" },
    );
    children.push(daemon.child);
    const created = spawnSync(
      process.execPath,
      [warden, "tokens", "create", "--agent", "bench", "--data-dir", dataDir, "--json"],
      { encoding: "utf8" },
    );
    const token = JSON.parse(created.stdout).token;

    const targets = [
      { name: "direct", url: upstream.url, prefix: "/v1", headers: { authorization: "Bearer unused" } },
      { name: "no-op http", url: noop.url, prefix: "/v1", headers: { authorization: "Bearer unused" } },
      {
        name: "no-op fastify",
        url: fastify.url,
        prefix: "/v1",
        headers: { authorization: "Bearer unused" },
      },
      { name: "warden", url: daemon.url, prefix: "/v1", headers: { authorization: `Bearer ${token}` } },
    ];

    let portkeyProblem = null;
    let portkeyChild = null;
    try {
      const require = createRequire(import.meta.url);
      const portkeyServer = path.join(
        path.dirname(require.resolve("@portkey-ai/gateway/package.json")),
        "build",
        "start-server.js",
      );
      const port = 20_000 + Math.floor(Math.random() * 20_000);
      const portkey = await start(
        process.execPath,
        [portkeyServer, `--port=${port}`, "--headless"],
        /(Ready for connections)/,
      );
      children.push(portkey.child);
      portkeyChild = portkey.child;
      targets.push({
        name: "portkey",
        url: `http://127.0.0.1:${port}`,
        prefix: "/v1",
        headers: {
          authorization: "Bearer unused",
          "x-portkey-provider": "openai",
          "x-portkey-custom-host": `${upstream.url}/v1`,
        },
      });
    } catch (error) {
      portkeyProblem = error.message.split("\n").slice(0, 6).join("\n");
    }

    const results = [];
    const processes = new Map([
      ["direct", upstream.child],
      ["no-op http", noop.child],
      ["no-op fastify", fastify.child],
      ["warden", daemon.child],
    ]);
    if (portkeyChild !== null) processes.set("portkey", portkeyChild);
    for (const target of targets) {
      try {
        results.push({ target, ...(await measure(target, processes.get(target.name))) });
      } catch (error) {
        results.push({ target, problem: error.message.split("\n")[0] });
      }
    }
    printTable(results);
    const memory = [];
    for (const target of targets.filter((each) => each.name !== "direct")) {
      try {
        memory.push({
          name: target.name,
          ...(await measureConcurrentStreams(target, processes.get(target.name))),
        });
      } catch (error) {
        memory.push({ name: target.name, problem: error.message.split("\n")[0] });
      }
    }
    printMemory(memory);
    if (portkeyProblem) process.stdout.write(`\n@portkey-ai/gateway did not start: ${portkeyProblem}\n`);
    const daemonRss = spawnSync("ps", ["-o", "rss=", "-p", String(daemon.child.pid)], { encoding: "utf8" });
    process.stdout.write(
      `\nwarden daemon RSS after the run: ${Math.round(Number(daemonRss.stdout) / 1024)} MB\n`,
    );
  } finally {
    for (const child of children.reverse()) child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 300));
    rmSync(root, { recursive: true, force: true });
  }
}

/** Holds `concurrent` slow streams open at once through the target, sampling its RSS. */
async function measureConcurrentStreams(target, child) {
  const rssMb = () => {
    const sample = spawnSync("ps", ["-o", "rss=", "-p", String(child.pid)], { encoding: "utf8" });
    return Number(sample.stdout) / 1024;
  };
  const before = rssMb();
  let peak = before;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMb());
  }, 100);
  const pool = new Pool(target.url, { connections: concurrent, keepAliveTimeout: 30_000 });
  const body = JSON.stringify({
    model: "gpt-bench",
    stream: true,
    messages: [{ role: "user", content: "Stream slowly." }],
  });
  let complete = 0;
  let failed = 0;
  const startedAt = performance.now();
  await Promise.all(
    Array.from({ length: concurrent }, async () => {
      try {
        const answer = await pool.request({
          method: "POST",
          path: `${target.prefix}/chat/completions`,
          headers: { "content-type": "application/json", ...target.headers },
          body,
        });
        const text = await answer.body.text();
        if (answer.statusCode === 200 && text.includes("[DONE]")) complete++;
        else failed++;
      } catch {
        failed++;
      }
    }),
  );
  clearInterval(sampler);
  peak = Math.max(peak, rssMb());
  await pool.close();
  return { before, peak, complete, failed, seconds: (performance.now() - startedAt) / 1000 };
}

function printMemory(memory) {
  const lines = [
    "",
    `${concurrent} concurrent streams (20 words, 100 ms apart), resident memory of the proxy process`,
    "target          RSS before  RSS peak   complete  failed  wall s",
  ];
  for (const entry of memory) {
    if (entry.problem) {
      lines.push(`${entry.name.padEnd(14)}  failed: ${entry.problem}`);
      continue;
    }
    lines.push(
      [
        entry.name.padEnd(14),
        `${entry.before.toFixed(0)} MB`.padStart(11),
        `${entry.peak.toFixed(0)} MB`.padStart(9),
        String(entry.complete).padStart(10),
        String(entry.failed).padStart(7),
        entry.seconds.toFixed(1).padStart(7),
      ].join(" "),
    );
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

function printTable(results) {
  const direct = results.find((result) => result.target.name === "direct");
  const noop = results.find((result) => result.target.name === "no-op fastify");
  const ms = (value) => value.toFixed(3);
  const lines = [
    `sequential: ${requests} requests; streaming: ${streams} streams; throughput: ${connections} connections for ${seconds} s`,
    "",
    "target          p50 ms   p99 ms  +p50 ms  +p99 ms   req/s  vs direct  vs fastify  TTFT p50  +TTFT p50  TTFT p99  CPU µs/req  CPU vs fastify",
  ];
  for (const result of results) {
    if (result.problem) {
      lines.push(`${result.target.name.padEnd(14)}  failed: ${result.problem}`);
      continue;
    }
    lines.push(
      [
        result.target.name.padEnd(14),
        ms(result.p50).padStart(7),
        ms(result.p99).padStart(8),
        ms(result.p50 - direct.p50).padStart(8),
        ms(result.p99 - direct.p99).padStart(8),
        result.perSecond.toFixed(0).padStart(7),
        `${((result.perSecond / direct.perSecond) * 100).toFixed(1)}%`.padStart(10),
        `${((result.perSecond / noop.perSecond) * 100).toFixed(1)}%`.padStart(11),
        (result.ttft50 === null ? "n/a" : ms(result.ttft50)).padStart(9),
        (result.ttft50 === null ? "n/a" : ms(result.ttft50 - direct.ttft50)).padStart(10),
        (result.ttft99 === null ? "n/a" : ms(result.ttft99)).padStart(9),
        (result.cpuPerRequest === null ? "n/a" : result.cpuPerRequest.toFixed(0)).padStart(11),
        (result.cpuPerRequest === null || !noop.cpuPerRequest
          ? "n/a"
          : `${(result.cpuPerRequest / noop.cpuPerRequest).toFixed(2)}×`
        ).padStart(15),
        result.failed > 0 ? `  (${result.failed} failed under load)` : "",
      ].join(" "),
    );
  }
  for (const result of results) {
    if (result.streamProblem) lines.push(`${result.target.name} streaming failed: ${result.streamProblem}`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}
