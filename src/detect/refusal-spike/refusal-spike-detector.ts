import type { StoredEvent } from "../../core/events.js";
import { replyFacts } from "../call-facts.js";
import type { Detector, DetectorContext, FindingData } from "../detector.js";
import { binomialUpperTail, LondSequence } from "../statistics/tests.js";

export interface RefusalSpikeOptions {
  /** Replies per tested window (default 20). */
  window?: number;
  /** Replies in the baseline before windows are tested (default 50). */
  minimumBaseline?: number;
  /** False discovery rate over every window tested, by LOND (default 0.05). */
  alpha?: number;
}

interface Baseline {
  refusals: number;
  replies: number;
  windowRefusals: number;
  windowEvents: string[];
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/**
 * "Tasks this agent used to do are now refused": per agent and task kind, each window of
 * replies is tested against the baseline refusal rate with a one-sided binomial test
 * (P(X ≥ k) under Binomial(window, p̂), p̂ with add-one smoothing), and discoveries are chosen
 * by LOND so the false discovery rate over the open-ended sequence of windows stays at α.
 * A window that is not a discovery joins the baseline; evaluation traffic never does.
 * The task kind is the request's `metadata.task_kind`, else `default`.
 */
export function createRefusalSpikeDetector(options: RefusalSpikeOptions = {}): Detector {
  const window = options.window ?? 20;
  const minimumBaseline = options.minimumBaseline ?? 50;
  const lond = new LondSequence(options.alpha ?? 0.05);
  const baselines = new Map<string, Baseline>();
  /** spanId of a model-request → its task kind, until its response arrives. */
  const taskKinds = new Map<string, string>();

  return {
    name: "refusal-spike",
    stateful: true,
    eventTypes: ["model-request", "model-response"],
    inspect(event: StoredEvent, context: DetectorContext): FindingData[] {
      if (event.type === "model-request") {
        const body = (event.data as { body?: unknown }).body;
        const metadata = isRecord(body) && isRecord(body.metadata) ? body.metadata : {};
        const kind = typeof metadata.task_kind === "string" ? metadata.task_kind : "default";
        if (taskKinds.size >= 10_000) taskKinds.delete(taskKinds.keys().next().value!);
        taskKinds.set(event.spanId, kind);
        return [];
      }
      if (context.evaluation) return [];
      const facts = replyFacts(event);
      if (facts === null) return [];
      const taskKind = taskKinds.get(event.spanId) ?? "default";
      taskKinds.delete(event.spanId);
      const key = `${event.agentId}\n${taskKind}`;
      let baseline = baselines.get(key);
      if (baseline === undefined) {
        baseline = { refusals: 0, replies: 0, windowRefusals: 0, windowEvents: [] };
        baselines.set(key, baseline);
      }
      baseline.windowEvents.push(event.id);
      if (facts.refusal) baseline.windowRefusals++;
      if (baseline.windowEvents.length < window) return [];
      const refused = baseline.windowRefusals;
      const events = baseline.windowEvents;
      baseline.windowRefusals = 0;
      baseline.windowEvents = [];
      if (baseline.replies >= minimumBaseline) {
        const rate = (baseline.refusals + 1) / (baseline.replies + 2);
        const pValue = binomialUpperTail(refused, window, rate);
        if (lond.test(pValue)) {
          return [
            {
              detector: "refusal-spike",
              severity: "medium",
              explanation: `agent ${event.agentId} refused ${refused} of its last ${window} ${taskKind} replies; its baseline is ${(100 * rate).toFixed(1)}% over ${baseline.replies} (binomial p = ${pValue.toExponential(2)}, LOND)`,
              taskKind,
              refused,
              window,
              baselineRate: rate,
              pValue,
              evidence: events
                .filter((_, index) => index === 0 || index === events.length - 1)
                .map((eventId) => ({ eventId })),
            },
          ];
        }
      }
      baseline.refusals += refused;
      baseline.replies += window;
      return [];
    },
  };
}
