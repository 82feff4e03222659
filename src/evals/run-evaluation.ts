import { createHash } from "node:crypto";
import type { AuditModel } from "../auditor/audit-model.js";
import { canonicalJson } from "../core/canonical-json.js";
import type { LoadedScenario } from "./load-scenarios.js";
import {
  callModel,
  type ModelCallInput,
  type ModelEndpoint,
  type ModelReply,
  type RetryPolicy,
  requestBody,
} from "./model-client.js";
import { copyFixture, createSampleTools, type OpenSandbox, type RecordedSandboxRun } from "./sample-tools.js";
import { type AuditorScorerSpec, offeredTool, type Scenario, type ScorerSpec } from "./scenario-schema.js";
import { createScorer, type ScoredSample } from "./scorers.js";
import { seededShuffle } from "./seeded-random.js";
import type { Transcript, TranscriptMessage, TranscriptToolCall } from "./transcript.js";

/** One recorded sample: what the store keeps (`eval-sample` data) and the report reads. */
export interface SampleRecord {
  scenario: string;
  runId: string;
  condition: string;
  sample: number;
  query: number;
  model: string;
  contentHash: string;
  sessionId: string;
  positive: boolean;
  detail?: string;
  measures: Record<string, boolean>;
  failed: boolean;
  error?: string;
  transcript: Transcript;
  /** The model calls of this sample, with their cache keys: the response cache. */
  calls: { cacheKey: string; cached: boolean; reply: ModelReply }[];
}

/** Where samples are kept: the event store in `warden eval run` (resumable), memory in tests. */
export interface SampleLog {
  /** Samples already recorded for this run (a resumed run skips them). */
  recorded(runId: string): Promise<SampleRecord[]>;
  /** Earlier replies by cache key (from any run). */
  cachedReplies(): Promise<Map<string, ModelReply>>;
  record(sample: SampleRecord): Promise<void>;
}

export interface RunOptions {
  runId: string;
  scenarios: LoadedScenario[];
  /** The gateway endpoint for a scenario (each scenario runs as agent `eval:<id>`). */
  endpointFor(scenarioId: string): ModelEndpoint;
  log: SampleLog;
  samples?: number;
  concurrency?: number;
  seed?: number;
  cache?: boolean;
  retry?: RetryPolicy;
  onProgress?(done: number, total: number): void;
  onRetry?(delayMs: number, status: number | null): void;
  /** Stops taking new samples (those in flight finish and are recorded); the run can be resumed. */
  signal?: AbortSignal;
  /** Opens the sandbox for scenarios with real tools (each sample gets its own session, discarded after it). */
  openSandbox?: OpenSandbox;
  /** Records a sample's sandbox run (`warden eval run`: a `sandbox-run` event in the sample's session) before the model sees it. */
  recordSandboxRun?(identity: { agentId: string; sessionId: string }, run: RecordedSandboxRun): Promise<void>;
  /** The model behind a scenario's `auditor-verdict` scorer, for the sample of session `sessionId`. */
  auditorFor?(scenarioId: string, spec: AuditorScorerSpec, sessionId: string): AuditModel;
}

interface WorkItem {
  loaded: LoadedScenario;
  condition: string;
  sample: number;
}

/**
 * Runs every scenario's samples (condition × sample index) in a seeded random order, so that
 * conditions interleave in time, with at most `concurrency` in flight. Returns all the run's
 * samples (earlier ones of a resumed run included).
 */
export async function runEvaluation(options: RunOptions): Promise<SampleRecord[]> {
  for (const { scenario } of options.scenarios) {
    const specs = [scenario.scorer, ...Object.values(scenario.scorers ?? {})];
    if (specs.some((spec) => spec.type === "auditor-verdict") && !options.auditorFor)
      throw new Error(`scenario ${scenario.id} has an auditor-verdict scorer but the run has no auditor`);
  }
  const seed = options.seed ?? 0;
  const done = await options.log.recorded(options.runId);
  const doneKeys = new Set(
    done
      .filter((sample) => !sample.failed)
      .map((sample) => `${sample.scenario}/${sample.condition}/${sample.sample}`),
  );
  const items: WorkItem[] = [];
  for (const loaded of options.scenarios) {
    const samples = options.samples ?? loaded.scenario.samples;
    for (const condition of Object.keys(loaded.scenario.conditions)) {
      for (let sample = 0; sample < samples; sample++) {
        if (!doneKeys.has(`${loaded.scenario.id}/${condition}/${sample}`))
          items.push({ loaded, condition, sample });
      }
    }
  }
  const workspaces = new Map<string, { directory: string; remove(): void }>();
  try {
    for (const loaded of options.scenarios) {
      const real = loaded.scenario.tools?.some((tool) => tool.sandbox !== undefined);
      if (real && loaded.workspace && items.some((item) => item.loaded === loaded))
        workspaces.set(loaded.scenario.id, copyFixture(loaded.workspace));
    }
    return await runQueue(items, options, done, seed, workspaces);
  } finally {
    for (const workspace of workspaces.values()) workspace.remove();
  }
}

async function runQueue(
  items: WorkItem[],
  options: RunOptions,
  done: SampleRecord[],
  seed: number,
  workspaces: ReadonlyMap<string, { directory: string }>,
): Promise<SampleRecord[]> {
  const cache = options.cache === false ? new Map<string, ModelReply>() : await options.log.cachedReplies();
  const queue = seededShuffle(items, seed);
  const total = queue.length;
  const results: SampleRecord[] = done.filter((sample) => !sample.failed);
  let finished = 0;
  options.onProgress?.(0, total);
  const worker = async () => {
    for (let item = queue.shift(); item !== undefined && !options.signal?.aborted; item = queue.shift()) {
      const record = await runSample(
        item,
        options,
        cache,
        seed,
        workspaces.get(item.loaded.scenario.id)?.directory,
      );
      await options.log.record(record);
      results.push(record);
      finished++;
      options.onProgress?.(finished, total);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 4) }, worker));
  return results;
}

/** `{{name}}` → the condition's value. */
function fill(text: string, vars: Record<string, string> | undefined): string {
  return text.replace(/\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g, (_, name: string) => vars?.[name] ?? "");
}

async function runSample(
  item: WorkItem,
  options: RunOptions,
  cache: Map<string, ModelReply>,
  seed: number,
  workspace: string | undefined,
): Promise<SampleRecord> {
  const { scenario, contentHash } = item.loaded;
  const condition = scenario.conditions[item.condition]!;
  const endpoint = options.endpointFor(scenario.id);
  const sessionId = `eval:${options.runId}:${createHash("sha256")
    .update(`${scenario.id}\0${item.condition}\0${item.sample}`)
    .digest("hex")
    .slice(0, 16)}`;
  const queryIndex = scenario.queries ? item.sample % scenario.queries.length : 0;
  const userTurns = scenario.queries ? [queryText(scenario.queries[queryIndex]!)] : (scenario.turns ?? []);
  const system = fill(condition.system, condition.vars);
  const messages: TranscriptMessage[] = [];
  const calls: SampleRecord["calls"] = [];
  const tools = (scenario.tools ?? []).map(offeredTool);
  const identity = { agentId: `eval:${scenario.id}`, sessionId };
  const record = options.recordSandboxRun;
  const sampleTools = createSampleTools(scenario, {
    ...(workspace ? { workspace } : {}),
    ...(options.openSandbox ? { openSandbox: options.openSandbox } : {}),
    ...(record ? { onSandboxRun: (run: RecordedSandboxRun) => record(identity, run) } : {}),
  });
  let error: string | undefined;
  let modelCalls = 0;
  try {
    for (const turn of userTurns) {
      messages.push({ role: "user", content: fill(turn, condition.vars) });
      for (;;) {
        if (modelCalls >= scenario.maxTurns) break;
        modelCalls++;
        const input: ModelCallInput = {
          system,
          messages,
          tools,
          maxTokens: scenario.maxTokens,
          temperature: scenario.temperature,
          seed: endpoint.format === "openai" ? seed : undefined,
        };
        const body = requestBody(endpoint, input);
        // The sample index is part of the key: repeated samples of one prompt are really sampled.
        const cacheKey = createHash("sha256")
          .update(
            canonicalJson({
              upstream: endpoint.upstream ?? null,
              format: endpoint.format,
              body,
              sample: item.sample,
              seed,
            }),
          )
          .digest("hex");
        let reply = cache.get(cacheKey);
        const cached = reply !== undefined;
        if (reply === undefined) {
          reply = (
            await callModel(endpoint, body, {
              sessionId,
              ...(options.retry ? { retry: options.retry } : {}),
              ...(options.onRetry ? { onRetry: options.onRetry } : {}),
            })
          ).reply;
        }
        calls.push({ cacheKey, cached, reply });
        const toolCalls: TranscriptToolCall[] = [];
        for (const call of reply.toolCalls)
          toolCalls.push({ ...call, ...(await sampleTools.call(call.name, call.arguments)) });
        messages.push({
          role: "assistant",
          content: reply.content,
          ...(reply.reasoning ? { reasoning: reply.reasoning } : {}),
          ...(toolCalls.length ? { toolCalls } : {}),
        });
        if (toolCalls.length === 0) break;
        for (const call of toolCalls) {
          messages.push({
            role: "tool",
            toolCallId: call.id,
            name: call.name,
            content: call.result,
            isError: call.isError,
          });
        }
      }
    }
  } catch (caught) {
    error = (caught as Error).message;
  } finally {
    try {
      sampleTools.close();
    } catch (caught) {
      error ??= `sandbox: ${(caught as Error).message}`;
    }
  }
  const changes = sampleTools.changes();
  const transcript: Transcript = { messages, ...(changes ? { changes } : {}) };
  const scored: ScoredSample = { transcript, identity };
  const score = (spec: ScorerSpec) =>
    createScorer(
      spec,
      spec.type === "auditor-verdict" && options.auditorFor
        ? { auditor: options.auditorFor(scenario.id, spec, sessionId) }
        : {},
    )(scored);
  let outcome: { positive: boolean; detail?: string } = { positive: false };
  const measures: Record<string, boolean> = {};
  if (error === undefined) {
    try {
      outcome = await score(scenario.scorer);
      for (const [name, spec] of Object.entries(scenario.scorers ?? {}))
        measures[name] = (await score(spec)).positive;
    } catch (caught) {
      error = `scoring: ${(caught as Error).message}`;
    }
  }
  return {
    scenario: scenario.id,
    runId: options.runId,
    condition: item.condition,
    sample: item.sample,
    query: queryIndex,
    model: endpoint.model,
    contentHash,
    sessionId,
    positive: error === undefined && outcome.positive,
    ...(error === undefined && outcome.detail ? { detail: outcome.detail } : {}),
    measures,
    failed: error !== undefined,
    ...(error !== undefined ? { error } : {}),
    transcript,
    calls,
  };
}

function queryText(query: NonNullable<Scenario["queries"]>[number]): string {
  return typeof query === "string" ? query : query.text;
}

export { scriptedResult } from "./sample-tools.js";
