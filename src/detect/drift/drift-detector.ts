import type { EventData, StoredEvent } from "../../core/events.js";
import { replyFacts, toolKey } from "../call-facts.js";
import type { Detector, DetectorContext, FindingData } from "../detector.js";
import {
  benjaminiHochberg,
  chiSquaredHomogeneity,
  RunningMoments,
  twoProportions,
  welchDiffer,
} from "../statistics/tests.js";

export interface DriftOptions {
  /** Agent events (replies, tool calls, decisions) per window (default 60). */
  window?: number;
  /** Events in the baseline before windows are compared (default 120). */
  minimumBaseline?: number;
  /** Benjamini–Hochberg false discovery rate across a window's measures (default 0.01). */
  q?: number;
}

/** An agent's behaviour over some events: the fingerprint windows are compared by. */
class Fingerprint {
  events = 0;
  tools = new Map<string, number>();
  replies = 0;
  refusals = 0;
  verbosity = new RunningMoments();
  latency = new RunningMoments();
  decisions = 0;
  denials = 0;
  firstEventId: string | null = null;
  lastEventId: string | null = null;

  merge(other: Fingerprint): void {
    this.events += other.events;
    for (const [tool, count] of other.tools) this.tools.set(tool, (this.tools.get(tool) ?? 0) + count);
    this.replies += other.replies;
    this.refusals += other.refusals;
    this.verbosity.merge(other.verbosity);
    this.latency.merge(other.latency);
    this.decisions += other.decisions;
    this.denials += other.denials;
  }
}

interface Moved {
  measure: string;
  detail: string;
  pValue: number;
}

/**
 * Logic drift: an agent's fingerprint — tool mix, refusal rate, verbosity (reply length),
 * latency, denial rate — in each window of its events against its baseline (all earlier
 * windows). Each measure has its test (chi-squared, two proportions, Welch's t); the measures
 * that moved are chosen by Benjamini–Hochberg and must also move by a margin that matters. The
 * finding names them. Evaluation traffic never feeds the baseline.
 */
export function createDriftDetector(options: DriftOptions = {}): Detector {
  const windowSize = options.window ?? 60;
  const minimumBaseline = options.minimumBaseline ?? 120;
  const q = options.q ?? 0.01;
  const agents = new Map<string, { baseline: Fingerprint; window: Fingerprint }>();

  return {
    name: "drift",
    stateful: true,
    eventTypes: ["model-response", "tool-call", "policy-decision"],
    inspect(event: StoredEvent, context: DetectorContext): FindingData[] {
      if (context.evaluation) return [];
      const state = agents.get(event.agentId) ?? { baseline: new Fingerprint(), window: new Fingerprint() };
      agents.set(event.agentId, state);
      const window = state.window;
      if (event.type === "model-response") {
        const facts = replyFacts(event);
        if (facts === null) return [];
        window.replies++;
        if (facts.refusal) window.refusals++;
        window.verbosity.add(facts.characters);
        window.latency.add(facts.latencyMs);
      } else if (event.type === "tool-call") {
        const tool = toolKey(event.data as EventData<"tool-call">);
        window.tools.set(tool, (window.tools.get(tool) ?? 0) + 1);
      } else {
        window.decisions++;
        if ((event.data as EventData<"policy-decision">).applied.effect === "deny") window.denials++;
      }
      window.events++;
      window.firstEventId ??= event.id;
      window.lastEventId = event.id;
      if (window.events < windowSize) return [];
      state.window = new Fingerprint();
      const baseline = state.baseline;
      const findings: FindingData[] = [];
      if (baseline.events >= minimumBaseline) {
        const moved = compare(baseline, window, q);
        if (moved.length > 0) {
          findings.push({
            detector: "drift",
            severity: "medium",
            explanation: `agent ${event.agentId} drifted over its last ${window.events} events: ${moved.map((item) => `${item.measure} (${item.detail})`).join("; ")}`,
            measures: moved.map((item) => item.measure),
            pValues: Object.fromEntries(moved.map((item) => [item.measure, item.pValue])),
            evidence: [{ eventId: window.firstEventId! }, { eventId: window.lastEventId! }],
          });
        }
      }
      baseline.merge(window);
      return findings;
    },
  };
}

function compare(baseline: Fingerprint, window: Fingerprint, q: number): Moved[] {
  const candidates: (Moved & { matters: boolean })[] = [];
  const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count, 0);
  const baselineCalls = total(baseline.tools);
  const windowCalls = total(window.tools);
  if (baselineCalls > 0 && windowCalls > 0) {
    let distance = 0;
    for (const tool of new Set([...baseline.tools.keys(), ...window.tools.keys()])) {
      distance += Math.abs(
        (baseline.tools.get(tool) ?? 0) / baselineCalls - (window.tools.get(tool) ?? 0) / windowCalls,
      );
    }
    distance /= 2;
    candidates.push({
      measure: "tool mix",
      detail: `total variation ${distance.toFixed(2)}`,
      pValue: chiSquaredHomogeneity(baseline.tools, window.tools),
      matters: distance >= 0.2,
    });
  }
  const rate = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);
  const percent = (value: number) => `${(100 * value).toFixed(0)}%`;
  if (baseline.replies > 0 && window.replies > 0) {
    const before = rate(baseline.refusals, baseline.replies);
    const after = rate(window.refusals, window.replies);
    candidates.push({
      measure: "refusal rate",
      detail: `${percent(before)} → ${percent(after)}`,
      pValue: twoProportions(baseline.refusals, baseline.replies, window.refusals, window.replies),
      matters: Math.abs(after - before) >= 0.1,
    });
  }
  const means = (measure: string, unit: string, before: RunningMoments, after: RunningMoments) => {
    if (before.count < 2 || after.count < 2) return;
    candidates.push({
      measure,
      detail: `mean ${Math.round(before.mean)} → ${Math.round(after.mean)} ${unit}`,
      pValue: welchDiffer(after, before),
      matters: Math.abs(after.mean - before.mean) >= 0.25 * Math.max(1, before.mean),
    });
  };
  means("verbosity", "characters", baseline.verbosity, window.verbosity);
  means("latency", "ms", baseline.latency, window.latency);
  if (baseline.decisions > 0 && window.decisions > 0) {
    const before = rate(baseline.denials, baseline.decisions);
    const after = rate(window.denials, window.decisions);
    candidates.push({
      measure: "denial rate",
      detail: `${percent(before)} → ${percent(after)}`,
      pValue: twoProportions(baseline.denials, baseline.decisions, window.denials, window.decisions),
      matters: Math.abs(after - before) >= 0.1,
    });
  }
  const discovered = new Set(
    benjaminiHochberg(
      candidates.map((candidate) => candidate.pValue),
      q,
    ),
  );
  return candidates
    .filter((candidate, index) => discovered.has(index) && candidate.matters)
    .map(({ measure, detail, pValue }) => ({ measure, detail, pValue }));
}
