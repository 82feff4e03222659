import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { configSchema } from "../../core/config.js";
import { WardenError } from "../../core/errors.js";
import { createIdFactory, newSpanId, newTraceId } from "../../core/ids.js";
import { createLogger } from "../../core/logger.js";
import { buildResults, formatResultsTable } from "../../evals/build-report.js";
import { gatewayAuditModel } from "../../evals/gateway-audit-model.js";
import { renderHtmlReport } from "../../evals/html-report.js";
import { type LoadedScenario, loadScenarios } from "../../evals/load-scenarios.js";
import type { ModelEndpoint } from "../../evals/model-client.js";
import { ProgressBar } from "../../evals/progress-bar.js";
import { runEvaluation } from "../../evals/run-evaluation.js";
import type { AuditorScorerSpec, ScorerSpec } from "../../evals/scenario-schema.js";
import { createStoreSampleLog } from "../../evals/store-sample-log.js";
import { globToRegExp } from "../../gateway/upstreams.js";
import { findBubblewrap, openSandboxSession } from "../../sandbox/index.js";
import { AgentTokens } from "../../server/agent-tokens.js";
import { startDaemon } from "../../server/daemon.js";
import { ensureDataDir } from "../../server/daemon-files.js";
import { loadConfigFile } from "../../server/load-config.js";
import { dataDirFrom } from "../common-options.js";
import { printError, printLine } from "../output.js";
import { readStore } from "../read-store.js";
import type { EvalReplayOptions, EvalRunOptions } from "./eval.js";
import { parseUpstreamFlag } from "./up.js";

/**
 * Scripted tools never run anything and sandbox tools run only against a throwaway copy of the
 * scenario's fixture, so the default constitution lets every proposal through to be recorded.
 * A --policy is applied like anywhere: a denied call is removed from the reply and never runs.
 */
const evaluationConstitution = "version: 1\ndefault: allow\nrules: []\n";

function positiveInteger(value: string, flag: string, minimum = 1): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < minimum) {
    throw new WardenError("usage", `${flag} must be an integer ≥ ${minimum}, not "${value}"`);
  }
  return number;
}

export async function runEvalCommand(target: string, options: EvalRunOptions): Promise<void> {
  const scenarios = loadScenarios(target);
  const samples = options.samples === undefined ? undefined : positiveInteger(options.samples, "--samples");
  const concurrency = positiveInteger(options.concurrency, "--concurrency");
  const seed = positiveInteger(options.seed, "--seed", 0);
  const retries = positiveInteger(options.retries, "--retries", 0);
  const examples = positiveInteger(options.examples, "--examples", 0);
  const powerGap = Number(options.powerGap);
  if (!(powerGap > 0 && powerGap < 1)) throw new WardenError("usage", "--power-gap must be between 0 and 1");
  if (options.resume !== undefined && !/^[0-9A-HJKMNP-TV-Z]{26}$/.test(options.resume)) {
    throw new WardenError("usage", `--resume takes a run id (a ULID), not "${options.resume}"`);
  }

  const dataDir = dataDirFrom(options);
  const configPath = options.config ? path.resolve(options.config) : null;
  const config = configPath ? loadConfigFile(configPath) : configSchema.parse({ version: 1 });
  for (const flag of options.upstream ?? []) config.upstreams.push(parseUpstreamFlag(flag));
  config.listen = { ...config.listen, port: 0 };
  const upstream = upstreamServing(config.upstreams, options.model);
  if (!upstream) {
    throw new WardenError(
      "usage",
      `no upstream serves model "${options.model}": give --upstream openai=URL (or anthropic=URL) or a --config with upstreams`,
    );
  }

  const auditors = auditorEndpoints(scenarios, config.upstreams, options.model);
  if (scenarios.some(({ scenario }) => scenario.tools?.some((tool) => tool.sandbox !== undefined))) {
    // Real tools run only in the sandbox: without bubblewrap nothing runs at all.
    findBubblewrap();
  }

  ensureDataDir(dataDir);
  let policyPath = options.policy ? path.resolve(options.policy) : (config.policy ?? null);
  if (!policyPath) {
    policyPath = path.join(dataDir, "eval-constitution.yaml");
    writeFileSync(policyPath, evaluationConstitution, { mode: 0o600 });
  }
  const runId = options.resume ?? createIdFactory()();
  // Tokens exist before the daemon starts, which reads them once.
  const tokens = new AgentTokens(dataDir);
  const tokenByScenario = new Map(
    scenarios.map(({ scenario }) => [scenario.id, tokens.create(`eval:${scenario.id}`)]),
  );
  const auditorToken = auditors.size > 0 ? tokens.create("eval:auditor") : "";

  const logger = createLogger({ name: "warden-eval", level: process.env.WARDEN_LOG_LEVEL ?? "warn" });
  const daemon = await startDaemon({ dataDir, policyPath, configPath, config, logger });
  try {
    const baseUrl = daemon.httpUrl!;
    const endpointFor = (scenarioId: string): ModelEndpoint => ({
      baseUrl,
      token: tokenByScenario.get(scenarioId)!,
      format: upstream.format,
      model: options.model,
      upstream: `${upstream.format}=${upstream.baseUrl}`,
    });
    const retry = { maxRetries: retries, baseDelayMs: 500, maxDelayMs: 30_000 };
    const auditorFor = (_scenarioId: string, spec: AuditorScorerSpec, sessionId: string) => {
      const auditor = auditors.get(spec)!;
      return gatewayAuditModel(
        {
          baseUrl,
          token: auditorToken,
          format: auditor.upstream.format,
          model: auditor.model,
          upstream: `${auditor.upstream.format}=${auditor.upstream.baseUrl}`,
        },
        { sessionId: `${sessionId}:audit`, retry },
      );
    };
    const log = createStoreSampleLog(daemon.store);
    const progress = options.progress ? new ProgressBar(process.stderr, `eval ${runId}`) : null;
    let retriesSeen = 0;
    const interrupted = new AbortController();
    const interrupt = () => {
      printError(`interrupted: finishing the samples in flight; resume with --resume ${runId}`);
      interrupted.abort();
    };
    process.once("SIGINT", interrupt);
    process.once("SIGTERM", interrupt);
    printError(
      `eval run ${runId}: ${scenarios.length} scenarios, model ${options.model} via ${upstream.name}`,
    );
    const records = await runEvaluation({
      runId,
      scenarios,
      endpointFor,
      log,
      ...(samples === undefined ? {} : { samples }),
      concurrency,
      seed,
      cache: options.cache,
      retry,
      auditorFor,
      openSandbox: (workspace) => openSandboxSession({ workspace, dataDir }),
      recordSandboxRun: async (identity, run) => {
        await daemon.store.append({
          type: "sandbox-run",
          ...identity,
          traceId: newTraceId(),
          spanId: newSpanId(),
          data: { ...run, via: "eval" },
        });
      },
      onProgress: (done, total) => progress?.update(done, total),
      onRetry: () => {
        retriesSeen++;
      },
      signal: interrupted.signal,
    });
    process.off("SIGINT", interrupt);
    process.off("SIGTERM", interrupt);
    await daemon.store.flush();
    const results = buildResults(runId, options.model, scenarios, records, { powerGap });
    const out = path.resolve(options.out ?? path.join("eval-results", runId));
    mkdirSync(out, { recursive: true });
    writeFileSync(path.join(out, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
    writeFileSync(path.join(out, "report.html"), renderHtmlReport(results, records, examples));
    for (const line of formatResultsTable(results)) printLine(line);
    const failed = records.filter((record) => record.failed);
    if (failed.length > 0) {
      printError(
        `${failed.length} samples failed (not counted; resume with --resume ${runId}): ${failed[0]!.error}`,
      );
    }
    if (retriesSeen > 0) printError(`${retriesSeen} model calls were retried`);
    printLine("");
    printLine(`results: ${path.join(out, "results.json")}`);
    printLine(`report:  ${path.join(out, "report.html")}`);
  } finally {
    await daemon.close();
  }
}

type UpstreamConfig = ReturnType<typeof configSchema.parse>["upstreams"][number];

function serves(upstream: UpstreamConfig, model: string): boolean {
  return upstream.models === undefined || upstream.models.some((glob) => globToRegExp(glob).test(model));
}

function upstreamServing(upstreams: UpstreamConfig[], model: string): UpstreamConfig | undefined {
  return upstreams.find((candidate) => serves(candidate, model));
}

/**
 * The upstream and model behind every auditor-verdict scorer, checked before anything runs:
 * the named upstream must exist and be the one the gateway routes the auditor model to.
 */
function auditorEndpoints(
  scenarios: LoadedScenario[],
  upstreams: UpstreamConfig[],
  evaluatedModel: string,
): Map<AuditorScorerSpec, { upstream: UpstreamConfig; model: string }> {
  const found = new Map<AuditorScorerSpec, { upstream: UpstreamConfig; model: string }>();
  const problems: string[] = [];
  for (const { scenario, file } of scenarios) {
    const specs: [string, ScorerSpec][] = [
      ["scorer", scenario.scorer],
      ...Object.entries(scenario.scorers ?? {}).map(([name, spec]): [string, ScorerSpec] => [
        `scorers.${name}`,
        spec,
      ]),
    ];
    for (const [at, spec] of specs) {
      if (spec.type !== "auditor-verdict") continue;
      const model = spec.model ?? evaluatedModel;
      const routed = upstreamServing(upstreams, model);
      if (spec.upstream === undefined) {
        if (routed) found.set(spec, { upstream: routed, model });
        else problems.push(`${at}.model: no upstream serves auditor model "${model}" (${file})`);
        continue;
      }
      const named = upstreams.find((candidate) => candidate.name === spec.upstream);
      const names = upstreams.map((candidate) => candidate.name).join(", ") || "none";
      if (!named)
        problems.push(
          `${at}.upstream: no upstream named "${spec.upstream}" (configured: ${names}) (${file})`,
        );
      else if (!serves(named, model))
        problems.push(`${at}.upstream: upstream "${named.name}" does not serve model "${model}" (${file})`);
      else if (
        upstreams.find((candidate) => candidate.format === named.format && serves(candidate, model)) !== named
      )
        problems.push(
          `${at}.upstream: the gateway routes model "${model}" to an upstream listed before "${named.name}" (${file})`,
        );
      else found.set(spec, { upstream: named, model });
    }
  }
  if (problems.length > 0)
    throw new WardenError("config-invalid", `scenario problems:\n${problems.join("\n")}`);
  return found;
}

export async function compareRunsCommand(a: string, b: string, options: { json?: boolean }): Promise<void> {
  const { compareRuns, formatComparison, readResultsFile } = await import("../../evals/compare-runs.js");
  const comparison = compareRuns(readResultsFile(a), readResultsFile(b));
  if (options.json) printLine(JSON.stringify(comparison, null, 2));
  else for (const line of formatComparison(comparison)) printLine(line);
}

export async function replayCommand(options: EvalReplayOptions): Promise<void> {
  const { defaultReplayCues, scenarioYaml, scenariosFromTraces } = await import(
    "../../evals/replay-traces.js"
  );
  const dataDir = dataDirFrom(options);
  const events = readStore(dataDir, {
    types: ["model-request"],
    limit: 1_000_000,
    ...(options.agent ? { agentId: options.agent } : {}),
    ...(options.session ? { sessionId: options.session } : {}),
  });
  const scenarios = scenariosFromTraces(events, {
    observedCue: options.observedCue ?? defaultReplayCues.observed,
    unobservedCue: options.unobservedCue ?? defaultReplayCues.unobserved,
    samples: positiveInteger(options.samples, "--samples"),
  });
  if (scenarios.length === 0) {
    throw new WardenError(
      "usage",
      `no recorded sessions to replay in ${dataDir} (Chat Completions, Responses or Messages)`,
    );
  }
  const out = path.resolve(options.out);
  mkdirSync(out, { recursive: true });
  for (const scenario of scenarios) {
    const file = path.join(out, `${String(scenario.id)}.yaml`);
    writeFileSync(file, scenarioYaml(scenario));
    printLine(file);
  }
  printLine(
    `${scenarios.length} scenarios; run them with: warden eval run ${out} --model NAME --upstream ...`,
  );
}
