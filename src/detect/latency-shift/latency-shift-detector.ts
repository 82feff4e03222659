import jStat from "jstat";
import type { StoredEvent } from "../../core/events.js";
import { replyFacts } from "../call-facts.js";
import type { Detector, DetectorContext, FindingData } from "../detector.js";
import { LondSequence } from "../statistics/tests.js";

export interface LatencyShiftOptions {
  /** Replies per tested window (default 20). */
  window?: number;
  /** Replies in the baseline before windows are tested (default 30). */
  minimumBaseline?: number;
  alpha?: number;
}

/** Sums for the least-squares line latency = a + b · output tokens. */
class LineFit {
  count = 0;
  #x = 0;
  #y = 0;
  #xx = 0;
  #xy = 0;
  #yy = 0;

  add(x: number, y: number): void {
    this.count++;
    this.#x += x;
    this.#y += y;
    this.#xx += x * x;
    this.#xy += x * y;
    this.#yy += y * y;
  }

  /** Slope, intercept and the residual standard deviation. */
  fit(): { slope: number; intercept: number; residualDeviation: number } {
    const n = this.count;
    const sxx = this.#xx - (this.#x * this.#x) / n;
    const sxy = this.#xy - (this.#x * this.#y) / n;
    const syy = this.#yy - (this.#y * this.#y) / n;
    const slope = sxx > 1e-9 ? sxy / sxx : 0;
    const intercept = (this.#y - slope * this.#x) / n;
    const residual = Math.max(0, syy - slope * sxy) / Math.max(1, n - 2);
    return { slope, intercept, residualDeviation: Math.sqrt(residual) };
  }
}

interface State {
  baseline: LineFit;
  window: { tokens: number; latency: number; eventId: string }[];
}

/**
 * A significant increase in response time per agent and model, controlling for output length:
 * the baseline is a least-squares line of latency on output tokens; each window's mean residual
 * from it is tested one-sided with Student's t (df = n − 2 of the baseline), discoveries by LOND.
 * Windows that are not discoveries join the baseline; evaluation traffic never does.
 */
export function createLatencyShiftDetector(options: LatencyShiftOptions = {}): Detector {
  const windowSize = options.window ?? 20;
  const minimumBaseline = options.minimumBaseline ?? 30;
  const lond = new LondSequence(options.alpha ?? 0.05);
  const states = new Map<string, State>();

  return {
    name: "latency-shift",
    stateful: true,
    eventTypes: ["model-response"],
    inspect(event: StoredEvent, context: DetectorContext): FindingData[] {
      if (context.evaluation) return [];
      const facts = replyFacts(event);
      if (facts === null) return [];
      const key = `${event.agentId}\n${facts.model}`;
      const state = states.get(key) ?? { baseline: new LineFit(), window: [] };
      states.set(key, state);
      state.window.push({ tokens: facts.outputTokens, latency: facts.latencyMs, eventId: event.id });
      if (state.window.length < windowSize) return [];
      const window = state.window;
      state.window = [];
      const findings: FindingData[] = [];
      let discovered = false;
      if (state.baseline.count >= minimumBaseline) {
        const { slope, intercept, residualDeviation } = state.baseline.fit();
        const residuals = window.map((item) => item.latency - (intercept + slope * item.tokens));
        const meanResidual = residuals.reduce((total, value) => total + value, 0) / residuals.length;
        const expected =
          window.reduce((total, item) => total + intercept + slope * item.tokens, 0) / window.length;
        const deviation = Math.max(residualDeviation, 1e-6);
        const t = meanResidual / (deviation / Math.sqrt(window.length));
        const pValue = Math.min(1, Math.max(0, 1 - jStat.studentt.cdf(t, state.baseline.count - 2)));
        discovered = lond.test(pValue);
        if (discovered) {
          findings.push({
            detector: "latency-shift",
            severity: "low",
            explanation: `${facts.model} answers agent ${event.agentId} ${Math.round(meanResidual)} ms slower than its baseline for the same output length (expected ≈ ${Math.round(expected)} ms; t = ${t.toFixed(1)}, p = ${pValue.toExponential(2)}, LOND)`,
            model: facts.model,
            meanExcessMs: meanResidual,
            pValue,
            evidence: [{ eventId: window[0]!.eventId }, { eventId: window.at(-1)!.eventId }],
          });
        }
      }
      if (!discovered) for (const item of window) state.baseline.add(item.tokens, item.latency);
      return findings;
    },
  };
}
