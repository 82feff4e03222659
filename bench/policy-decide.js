// Policy decision latency: a 100-rule constitution, indexed vs every rule evaluated, and the
// built-in rules on their own. The built-in rules look up every string of a call in the file
// system (one lstat per distinct path prefix), so their cost is the cost of lstat on the
// machine; the last row measures it. Run after `npm run build`: node bench/policy-decide.js
// (DECISIONS=50000 for a quicker run).
import { lstatSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBuiltinRules } from "../dist/policy/builtin/builtin-rules.js";
import { createPolicyEngine, parseConstitution } from "../dist/policy/index.js";

const decisionsPerRow = Number(process.env.DECISIONS ?? 200_000);
const warmupDecisions = 20_000;
const servers = ["filesystem", "shell", "slack", "github", "browser"];

/** 100 rules: 40 on one tool name, 20 on a list of names, 20 on a server, 20 unindexed. */
function benchmarkConstitution() {
  const rules = [];
  const effects = ["allow", "deny", "hold"];
  for (let index = 0; index < 40; index++) {
    rules.push({
      id: `tool-${index}`,
      when: `tool.name == "tool_${index}" && has(tool.arguments.path) && tool.arguments.path.startsWith("/protected/${index}/")`,
      effect: effects[index % 3],
    });
  }
  for (let index = 0; index < 20; index++) {
    rules.push({
      id: `tool-list-${index}`,
      when: `tool.name in ["tool_${index}", "tool_${index + 20}", "other_${index}"] && has(tool.arguments.size) && tool.arguments.size > ${1000 + index}`,
      effect: effects[index % 3],
    });
  }
  for (let index = 0; index < 20; index++) {
    rules.push({
      id: `server-${index}`,
      when: `tool.server == "${servers[index % servers.length]}" && "label-${index}" in session.labels`,
      effect: effects[index % 3],
    });
  }
  for (let index = 0; index < 20; index++) {
    const conditions = [
      `has(tool.arguments.path) && tool.arguments.path.matches(r"^/var/log/app${index}/[a-z0-9_-]+\\.log$")`,
      `has(tool.arguments.path) && tool.arguments.path.startsWith("/etc/app${index}/")`,
      `tool.name in ["forbidden_${index}", "dangerous_${index}"] || "quarantined-${index}" in session.labels`,
      `agent.id == "agent-${index}" && time.hour >= 22`,
    ];
    rules.push({
      id: `unindexed-${index}`,
      when: conditions[index % conditions.length],
      effect: effects[index % 3],
    });
  }
  const yaml = [
    "version: 1",
    "default: deny",
    "rules:",
    ...rules.flatMap((rule) => [
      `  - id: ${rule.id}`,
      `    when: ${JSON.stringify(rule.when)}`,
      `    effect: ${rule.effect}`,
      ...(rule.effect === "allow" ? [] : [`    rationale: Benchmark rule ${rule.id}.`]),
    ]),
  ].join("\n");
  const result = parseConstitution(yaml, "benchmark.yaml");
  if (!result.ok) throw new Error(result.problems.join("\n"));
  return result.constitution;
}

/** Calls over 50 tools and 5 servers; `withArguments` adds a path and a size (strings make the built-in rules look up files). */
function calls(withArguments) {
  const list = [];
  for (let index = 0; index < 64; index++) {
    const callArguments = withArguments ? { path: `src/module_${index}/index.ts`, size: index * 10 } : {};
    list.push({
      agent: { id: `agent-${index % 7}` },
      tool: {
        server: servers[index % servers.length],
        name: `tool_${index % 50}`,
        method: "tools/call",
        arguments: callArguments,
      },
      session: { id: "session-1", labels: index % 3 === 0 ? ["label-3"] : [] },
    });
  }
  return list;
}

function measure(decideOne, inputs) {
  for (let index = 0; index < warmupDecisions; index++) decideOne(inputs[index % inputs.length]);
  const samples = new Float64Array(decisionsPerRow);
  const started = process.hrtime.bigint();
  for (let index = 0; index < decisionsPerRow; index++) {
    const input = inputs[index % inputs.length];
    const before = process.hrtime.bigint();
    decideOne(input);
    samples[index] = Number(process.hrtime.bigint() - before) / 1000;
  }
  const elapsedSeconds = Number(process.hrtime.bigint() - started) / 1e9;
  samples.sort();
  const percentile = (fraction) =>
    samples[Math.min(samples.length - 1, Math.floor(samples.length * fraction))];
  return {
    perSecond: decisionsPerRow / elapsedSeconds,
    p50: percentile(0.5),
    p99: percentile(0.99),
    max: samples[samples.length - 1],
  };
}

const temporaryRoot = mkdtempSync(path.join(tmpdir(), "warden-bench-policy-"));
try {
  const dataDir = path.join(temporaryRoot, "data");
  const workspaceRoot = path.join(temporaryRoot, "workspace");
  mkdirSync(dataDir);
  mkdirSync(workspaceRoot);
  const builtinOptions = { dataDir, workspaceRoot };
  const constitution = benchmarkConstitution();
  const indexed = createPolicyEngine({ constitution, builtins: builtinOptions });
  const naive = createPolicyEngine({ constitution, builtins: builtinOptions, ruleSelection: "all" });
  const builtins = createBuiltinRules(builtinOptions);
  const now = new Date();

  const missingFile = path.join(workspaceRoot, "missing");
  const rows = [
    ["decide, indexed, no arguments", measure((input) => indexed.decide(input, now), calls(false))],
    ["decide, every rule, no arguments", measure((input) => naive.decide(input, now), calls(false))],
    ["decide, indexed, {path, size}", measure((input) => indexed.decide(input, now), calls(true))],
    ["decide, every rule, {path, size}", measure((input) => naive.decide(input, now), calls(true))],
    ["built-in rules only, {path, size}", measure((input) => builtins.check(input.tool), calls(true))],
    [
      "reference: one lstat of a missing file",
      measure(() => lstatSync(missingFile, { throwIfNoEntry: false }), [0]),
    ],
  ];

  const baseline = rows[0][1].p50;
  console.log(
    `${constitution.rules.length} rules, ${decisionsPerRow} decisions per row, Node ${process.version}`,
  );
  console.log("| case | decisions/s | p50 µs | p99 µs | max µs | p50 vs first row |");
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, result] of rows) {
    console.log(
      `| ${name} | ${Math.round(result.perSecond).toLocaleString("en-US")} | ${result.p50.toFixed(2)} | ${result.p99.toFixed(2)} | ${result.max.toFixed(0)} | ${(result.p50 / baseline).toFixed(2)}x |`,
    );
  }
} finally {
  rmSync(temporaryRoot, { recursive: true, force: true });
}
