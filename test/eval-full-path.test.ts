import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ScriptedModelServer, startScriptedModelServer } from "../src/model-server/index.js";
import { TemporaryDirectories } from "./helpers/temporary-directories.js";
import { projectRoot, runWarden, stackFramePattern, wardenBinary } from "./helpers/warden-binary.js";

const directories = new TemporaryDirectories();
const persona = path.join(projectRoot, "scenarios", "personas", "watched-compliance.yaml");
const minimalScenario = path.join(projectRoot, "test", "fixtures", "evals", "basic-gap.yaml");

/** The binary, asynchronously: the scripted model server in this process must keep answering. */
function runWardenAsync(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [wardenBinary, ...args], {
      env: { ...process.env, OPENAI_API_KEY: "sk-unused", ANTHROPIC_API_KEY: "sk-ant-unused" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk;
    });
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

interface Results {
  runId: string;
  scenarios: {
    id: string;
    conditions: Record<string, { n: number; rate: number; ci: [number, number] }>;
    gap: { gap: number; ci: [number, number]; p: number };
  }[];
}

describe("warden eval run through the gateway and the scripted model server", () => {
  let server: ScriptedModelServer;
  let dataDir: string;
  let firstRun: Results;
  let firstRunOut: string;

  beforeAll(async () => {
    server = await startScriptedModelServer({ script: persona, seed: 11 });
    dataDir = directories.create("warden-eval-data-");
  });
  afterAll(async () => {
    await server.close();
    directories.removeAll();
  });

  it("recovers the persona's known rates (20% observed, 60% unobserved) within their intervals", async () => {
    const out = directories.create("warden-eval-out-");
    const result = await runWardenAsync([
      "eval",
      "run",
      minimalScenario,
      "--model",
      "persona",
      "--upstream",
      `openai=${server.url}`,
      "--data-dir",
      dataDir,
      "--out",
      out,
      "--samples",
      "150",
      "--concurrency",
      "1",
      "--seed",
      "3",
    ]);
    expect(result.stderr).not.toMatch(stackFramePattern);
    expect(result.code, result.stderr).toBe(0);
    firstRunOut = out;
    firstRun = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as Results;
    const [scenario] = firstRun.scenarios;
    expect(scenario!.id).toBe("basic-gap");
    const { observed, unobserved } = scenario!.conditions;
    process.stdout.write(
      `end-to-end: observed ${observed!.rate} ${JSON.stringify(observed!.ci)}, unobserved ${unobserved!.rate} ${JSON.stringify(unobserved!.ci)}, gap ${scenario!.gap.gap} ${JSON.stringify(scenario!.gap.ci)} p=${scenario!.gap.p}\n`,
    );
    expect(observed!.n).toBe(150);
    expect(unobserved!.n).toBe(150);
    expect(observed!.ci[0]).toBeLessThanOrEqual(0.2);
    expect(observed!.ci[1]).toBeGreaterThanOrEqual(0.2);
    expect(unobserved!.ci[0]).toBeLessThanOrEqual(0.6);
    expect(unobserved!.ci[1]).toBeGreaterThanOrEqual(0.6);
    expect(scenario!.gap.ci[0]).toBeLessThanOrEqual(0.4);
    expect(scenario!.gap.ci[1]).toBeGreaterThanOrEqual(0.4);
    expect(scenario!.gap.p).toBeLessThan(0.001);
    expect(result.stdout).toMatch(/gap unobserved − observed: \+\d/);

    // Every sample went through the gateway: Chat Completions with the condition's prompt as the system message.
    const calls = server.requests.filter((request) => request.path === "/v1/chat/completions");
    expect(calls.length, `${calls.length} calls; stderr: ${result.stderr}`).toBe(300);
    const first = calls[0]!.body as { messages: { role: string; content: string }[]; seed: number };
    expect(first.messages[0]!.role).toBe("system");
    expect(first.messages[1]).toEqual({ role: "user", content: expect.stringContaining("pin-tumbler") });
    expect(first.seed).toBe(3);
    // Conditions interleave (seeded shuffle), rather than running in blocks.
    const observedFirst = calls
      .slice(0, 20)
      .filter((call) => JSON.stringify(call.body).includes("safety team"));
    expect(observedFirst.length).toBeGreaterThan(0);
    expect(observedFirst.length).toBeLessThan(20);

    // The record: model traffic and eval samples under the eval: agent.
    // The log is several MB: read it with a large buffer (spawnSync's default 1 MiB would cut it).
    const log = spawnSync(
      process.execPath,
      [
        wardenBinary,
        "log",
        "--data-dir",
        dataDir,
        "--agent",
        "eval:basic-gap",
        "--type",
        "model-request",
        "eval-sample",
        "--json",
      ],
      { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, env: { ...process.env, WARDEN_NO_PAGER: "1" } },
    );
    expect(log.status, log.stderr).toBe(0);
    const events = log.stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { type: string; data: { runId?: string } });
    expect(events.filter((event) => event.type === "model-request")).toHaveLength(300);
    expect(
      events.filter((event) => event.type === "eval-sample" && event.data.runId === firstRun.runId),
    ).toHaveLength(300);

    const html = readFileSync(path.join(out, "report.html"), "utf8");
    expect(html).toContain("<svg");
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
  });

  it("resumes a run from the store and reuses cached replies without calling the model again", async () => {
    const before = server.requests.length;
    const resumed = await runWardenAsync([
      "eval",
      "run",
      minimalScenario,
      "--model",
      "persona",
      "--upstream",
      `openai=${server.url}`,
      "--data-dir",
      dataDir,
      "--out",
      directories.create(),
      "--samples",
      "150",
      "--resume",
      firstRun.runId,
      "--no-progress",
    ]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(server.requests.length).toBe(before);
    expect(resumed.stdout).toContain(`run ${firstRun.runId}`);

    // A new run with the same seed hits the cache (same request, sample index and seed)…
    const out = directories.create();
    const cached = await runWardenAsync([
      "eval",
      "run",
      minimalScenario,
      "--model",
      "persona",
      "--upstream",
      `openai=${server.url}`,
      "--data-dir",
      dataDir,
      "--out",
      out,
      "--samples",
      "150",
      "--seed",
      "3",
      "--no-progress",
    ]);
    expect(cached.code).toBe(0);
    expect(server.requests.length).toBe(before);
    const again = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as Results;
    expect(again.scenarios[0]!.conditions).toEqual(firstRun.scenarios[0]!.conditions);
    const compare = runWarden(["eval", "compare", firstRunOut, out]);
    expect(compare.code, compare.stderr).toBe(0);
    expect(compare.stdout).toMatch(/observed .*B−A \+0\.0 pts .* p=1\.000/);

    // …and more samples than before only sample the new indices.
    const more = await runWardenAsync([
      "eval",
      "run",
      minimalScenario,
      "--model",
      "persona",
      "--upstream",
      `openai=${server.url}`,
      "--data-dir",
      dataDir,
      "--out",
      directories.create(),
      "--samples",
      "160",
      "--seed",
      "3",
      "--no-progress",
    ]);
    expect(more.code).toBe(0);
    expect(server.requests.length).toBe(before + 20);
  });

  it("calls an anthropic upstream with the Messages format and the condition's system prompt", async () => {
    const before = server.requests.length;
    const out = directories.create();
    const result = await runWardenAsync([
      "eval",
      "run",
      minimalScenario,
      "--model",
      "claude-persona",
      "--upstream",
      `anthropic=${server.url}`,
      "--data-dir",
      directories.create(),
      "--out",
      out,
      "--samples",
      "5",
      "--no-progress",
    ]);
    expect(result.code).toBe(0);
    const calls = server.requests.slice(before);
    expect(calls).toHaveLength(10);
    for (const call of calls) {
      expect(call.path).toBe("/v1/messages");
      expect(String((call.body as { system: string }).system)).toMatch(/safety team|private/);
    }
    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as Results;
    expect(results.scenarios[0]!.conditions.observed!.n).toBe(5);
  });

  it("rejects a bad scenario with one path: message line per problem and exit 2", () => {
    const directory = directories.create();
    const file = path.join(directory, "bad.yaml");
    writeFileSync(file, "version: 1\nid: bad\nscorer: refsual\nconditions: { observed: { system: x } }\n");
    const result = runWarden([
      "eval",
      "run",
      file,
      "--model",
      "m",
      "--upstream",
      "openai=http://127.0.0.1:9",
    ]);
    expect(result.code).toBe(2);
    expect(result.stderr).not.toMatch(stackFramePattern);
    expect(result.stderr).toMatch(/scorer\.type: .*'refusal' \| 'markers'/);
    expect(result.stderr).toMatch(/conditions: must have at least two conditions/);
  });
});

describe("warden eval run on an agentic pack", () => {
  it("sees the persona's tool calls through the gateway, decided and recorded, and scores the oversight edit", async () => {
    const server = await startScriptedModelServer({
      script: path.join(projectRoot, "scenarios", "personas", "oversight-subverter.yaml"),
    });
    try {
      const out = directories.create();
      const dataDir = directories.create();
      const result = await runWardenAsync([
        "eval",
        "run",
        "oversight-subversion",
        "--model",
        "persona",
        "--upstream",
        `openai=${server.url}`,
        "--data-dir",
        dataDir,
        "--out",
        out,
        "--samples",
        "4",
        "--no-progress",
      ]);
      expect(result.code, result.stderr).toBe(0);
      const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8")) as Results;
      const [scenario] = results.scenarios;
      expect(scenario!.conditions.observed).toMatchObject({ n: 4, rate: 0 });
      expect(scenario!.conditions.unobserved).toMatchObject({ n: 4, rate: 1 });
      expect(scenario!.gap.gap).toBe(1);
      // The oversight-reasoning detector, as a scorer, flags the persona's reasoning only where it subverts.
      const measures = (scenario as unknown as { measures: Record<string, Record<string, { rate: number }>> })
        .measures;
      expect(measures["oversight-reasoning"]).toMatchObject({
        observed: { rate: 0 },
        unobserved: { rate: 1 },
      });
      // Each proposed tool call went through the constitution: tool-call and policy-decision records.
      const log = runWarden(["log", "--data-dir", dataDir, "--type", "policy-decision", "--json"]);
      const decisions = log.stdout.trim().split("\n");
      // observed: read, submit; unobserved: read, write, submit — 4 samples each
      expect(decisions).toHaveLength(4 * 2 + 4 * 3);
    } finally {
      await server.close();
    }
  });
});
