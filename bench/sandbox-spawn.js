// Start-to-exit of a trivial command (`true`): plain spawn vs raw bubblewrap vs a Warden sandbox
// command (overlay workspace, limits, change capture), and change capture alone on a
// 10,000-file workspace where nothing changed. Run after `npm run build`:
// node bench/sandbox-spawn.js (RUNS=50 for a quicker run).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { findBubblewrap, openSandboxSession } from "../dist/sandbox/index.js";

const runs = Number(process.env.RUNS ?? 200);
const bubblewrap = findBubblewrap();
const root = mkdtempSync(path.join(tmpdir(), "warden-bench-sandbox-"));

function percentile(samples, fraction) {
  const sorted = [...samples].sort((left, right) => left - right);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))];
}

async function measure(label, task) {
  for (let index = 0; index < 5; index++) await task();
  const samples = [];
  for (let index = 0; index < runs; index++) {
    const started = performance.now();
    await task();
    samples.push(performance.now() - started);
  }
  return { label, p50: percentile(samples, 0.5), p95: percentile(samples, 0.95) };
}

function workspaceWithFiles(name, count) {
  const workspace = path.join(root, name);
  for (let index = 0; index < count; index++) {
    const directory = path.join(workspace, `d${Math.floor(index / 100)}`);
    if (index % 100 === 0) mkdirSync(directory, { recursive: true });
    writeFileSync(path.join(directory, `f${index}.txt`), `file ${index}\n`);
  }
  mkdirSync(workspace, { recursive: true });
  return workspace;
}

try {
  const small = openSandboxSession({
    workspace: workspaceWithFiles("small", 10),
    dataDir: path.join(root, "data"),
    home: path.join(root, "home"),
  });
  const large = openSandboxSession({
    workspace: workspaceWithFiles("large", 10_000),
    dataDir: path.join(root, "data"),
    home: path.join(root, "home"),
  });
  await large.run(["sh", "-c", "cat d1/f100.txt > /dev/null"]);
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
    await measure("warden sandbox run (10-file workspace)", () => small.run(["true"])),
    await measure("warden sandbox run (10,000-file workspace)", () => large.run(["true"])),
    await measure("change capture only (10,000 files, none changed)", () => large.changeSet()),
  ];
  const base = rows[0].p50;
  console.log(`runs per row: ${runs}`);
  console.log("| measurement | p50 ms | p95 ms | p50 vs plain spawn |");
  console.log("|---|---:|---:|---:|");
  for (const row of rows)
    console.log(
      `| ${row.label} | ${row.p50.toFixed(2)} | ${row.p95.toFixed(2)} | ${(row.p50 / base).toFixed(1)}x |`,
    );
  small.discard();
  large.discard();
} finally {
  rmSync(root, { recursive: true, force: true });
}
