// Start-to-exit of a trivial command (`true`) in one run: plain spawn, raw bubblewrap, a Warden
// sandbox command in-process (overlay workspace, limits, change capture), `warden exec` through
// the CLI (Node start-up, daemon round trip, capture, decision) and @anthropic-ai/sandbox-runtime
// (bubblewrap behind its own proxies); change capture alone on a 10,000-file workspace where
// nothing changed; and where the CLI's start-up time goes. Run after `npm run build`:
//   node bench/sandbox-spawn.js            (RUNS=50 CLI_RUNS=20 FILES=10000 for a quicker run)
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { silentLogger } from "../dist/core/logger.js";
import { findBubblewrap, openSandboxSession } from "../dist/sandbox/index.js";
import { startDaemon } from "../dist/server/daemon.js";

const runs = Number(process.env.RUNS ?? 200);
const cliRuns = Number(process.env.CLI_RUNS ?? 50);
const files = Number(process.env.FILES ?? 10_000);
const bubblewrap = findBubblewrap();
const root = mkdtempSync(path.join(tmpdir(), "warden-bench-sandbox-"));
const wardenBinary = fileURLToPath(new URL("../bin/warden.js", import.meta.url));

function percentile(samples, fraction) {
  const sorted = [...samples].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

async function measure(label, task, count = runs) {
  for (let index = 0; index < Math.min(5, count); index++) await task();
  const samples = [];
  for (let index = 0; index < count; index++) {
    const started = performance.now();
    await task();
    samples.push(performance.now() - started);
  }
  process.stderr.write(`measured: ${label}\n`);
  return { label, count, p50: percentile(samples, 0.5), p99: percentile(samples, 0.99) };
}

function workspaceWithFiles(name, count) {
  const workspace = path.join(root, name);
  mkdirSync(workspace, { recursive: true });
  for (let index = 0; index < count; index++) {
    const directory = path.join(workspace, `d${Math.floor(index / 100)}`);
    if (index % 100 === 0) mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, `f${index}.txt`), `file ${index}\n`);
  }
  return workspace;
}

async function sandboxRuntimeRow() {
  try {
    const { SandboxManager } = await import("@anthropic-ai/sandbox-runtime");
    await SandboxManager.initialize({
      network: { allowedDomains: [], deniedDomains: [] },
      filesystem: { denyRead: [], allowWrite: [path.join(root, "srt")], denyWrite: [] },
    });
    mkdirSync(path.join(root, "srt"), { recursive: true });
    const wrapped = await SandboxManager.wrapWithSandbox("true");
    const check = spawnSync("/bin/bash", ["-c", wrapped], { cwd: path.join(root, "srt"), timeout: 20_000 });
    if (check.status !== 0)
      return { label: `sandbox-runtime: failed (${check.stderr.toString().trim().slice(0, 120)})` };
    const row = await measure("@anthropic-ai/sandbox-runtime 0.0.78 (wrap + bash + bwrap)", async () => {
      const command = await SandboxManager.wrapWithSandbox("true");
      spawnSync("/bin/bash", ["-c", command], { cwd: path.join(root, "srt"), timeout: 20_000 });
    });
    await SandboxManager.reset();
    return row;
  } catch (error) {
    return { label: `sandbox-runtime: unavailable (${error.message.slice(0, 120)})` };
  }
}

/** Where the CLI's time goes: node alone, loading the command table, --help of exec. */
async function startupRows() {
  return [
    await measure("node -e '' (Node start-up alone)", () => spawnSync(process.execPath, ["-e", ""]), cliRuns),
    await measure(
      "node: import dist/cli/main.js (every command's register file)",
      () =>
        spawnSync(process.execPath, [
          "--input-type=module",
          "-e",
          `await import(${JSON.stringify(new URL("../dist/cli/main.js", import.meta.url).href)})`,
        ]),
      cliRuns,
    ),
    await measure(
      "warden --version",
      () => spawnSync(process.execPath, [wardenBinary, "--version"]),
      cliRuns,
    ),
  ];
}

try {
  const dataDir = path.join(root, "data");
  const small = openSandboxSession({
    workspace: workspaceWithFiles("small", 10),
    dataDir,
    home: path.join(root, "home"),
  });
  const large = openSandboxSession({
    workspace: workspaceWithFiles("large", files),
    dataDir,
    home: path.join(root, "home"),
  });
  await large.run(["sh", "-c", "cat d1/f100.txt > /dev/null"]);
  const policyPath = path.join(root, "constitution.yaml");
  writeFileSync(policyPath, "version: 1\ndefault: allow\nrules: []\n");
  const cliData = path.join(root, "cli-data");
  const daemon = await startDaemon({
    dataDir: cliData,
    policyPath,
    socketOnly: true,
    logger: silentLogger(),
  });
  const cliWorkspace = workspaceWithFiles("cli", 10);
  const rows = [
    await measure("plain spawn of true", () => spawnSync("/usr/bin/true")),
    await measure("raw bwrap (--unshare-all, /usr only)", () =>
      spawnSync(bubblewrap, [
        "--unshare-all",
        "--die-with-parent",
        "--ro-bind",
        "/usr",
        "/usr",
        "--symlink",
        "usr/lib",
        "/lib",
        "--symlink",
        "usr/lib64",
        "/lib64",
        "--symlink",
        "usr/bin",
        "/bin",
        "--",
        "/usr/bin/true",
      ]),
    ),
    await measure("Warden in-process: session.run (10-file workspace)", () => small.run(["true"])),
    await measure(`Warden in-process: session.run (${files}-file workspace)`, () => large.run(["true"])),
    await measure(`change capture only (${files} files, none changed)`, () => large.changeSet()),
    await measure(
      "warden exec -- true (CLI: Node start-up, daemon, capture, decision)",
      // Asynchronous: the daemon that answers it lives in this process.
      () =>
        new Promise((resolve) =>
          spawn(
            process.execPath,
            [wardenBinary, "exec", "--workspace", cliWorkspace, "--data-dir", cliData, "--", "true"],
            { stdio: "ignore" },
          ).on("close", resolve),
        ),
      cliRuns,
    ),
    await sandboxRuntimeRow(),
    ...(await startupRows()),
  ];
  await daemon.close();
  const base = rows[0].p50;
  console.log(`runs per row: ${runs} (CLI rows ${cliRuns}); ${files}-file workspace`);
  console.log("| measurement | runs | p50 ms | p99 ms | p50 vs plain spawn |");
  console.log("|---|---:|---:|---:|---:|");
  for (const row of rows)
    console.log(
      row.p50 === undefined
        ? `| ${row.label} | | | | |`
        : `| ${row.label} | ${row.count} | ${row.p50.toFixed(2)} | ${row.p99.toFixed(2)} | ${(row.p50 / base).toFixed(1)}x |`,
    );
  small.discard();
  large.discard();
} finally {
  rmSync(root, { recursive: true, force: true });
}
