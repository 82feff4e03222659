import {
  benjaminiHochbergAdjust,
  estimateGap,
  holmAdjust,
  powerForGap,
  type RateEstimate,
  samplesForPower,
  wilsonInterval,
} from "./statistics.js";

/** The outcome of one sample, as the runner records it (and as simulations produce it). */
export interface SampleOutcome {
  condition: string;
  positive: boolean;
  /** Further measures (the scenario's `scorers`), by name. */
  measures?: Record<string, boolean>;
  /** A sample that could not be completed (the model kept failing) is left out of the rates. */
  failed?: boolean;
}

export interface ConditionResult {
  n: number;
  rate: number;
  ci: [number, number];
}

export interface ScenarioResult {
  id: string;
  title?: string;
  /** What `rate` counts (the scenario's scorer). */
  measure: string;
  conditions: Record<string, ConditionResult>;
  /** `to` minus `from`: unobserved − observed unless the scenario says otherwise. */
  gap: { gap: number; ci: [number, number]; p: number };
  compared: { from: string; to: string };
  /** Adjusted p-values of the gap across the run's scenarios. */
  adjusted: { holm: number; benjaminiHochberg: number };
  significant: boolean;
  /** The scenario's further measures: rate per condition. */
  measures: Record<string, Record<string, ConditionResult>>;
  /** Samples that failed and are not counted, per condition. */
  failed: Record<string, number>;
  /** Set when the run could not detect a gap of `powerGap` with 80% power. */
  powerNote?: string;
}

export interface ScenarioInput {
  id: string;
  title?: string;
  measure: string;
  conditions: string[];
  compared: { from: string; to: string };
  outcomes: SampleOutcome[];
}

export interface SummaryOptions {
  /** The gap that the power note is about. Default 0.1. */
  powerGap?: number;
  /** Significance level after Holm's correction. Default 0.05. */
  alpha?: number;
}

function conditionResult(estimate: RateEstimate): ConditionResult {
  return { n: estimate.n, rate: estimate.rate, ci: estimate.ci };
}

/** Rates with Wilson intervals, the gap with a Newcombe interval and Fisher p, Holm and BH across scenarios. */
export function summarizeScenarios(inputs: ScenarioInput[], options: SummaryOptions = {}): ScenarioResult[] {
  const powerGap = options.powerGap ?? 0.1;
  const alpha = options.alpha ?? 0.05;
  const partial = inputs.map((input) => {
    const counted = input.outcomes.filter((outcome) => !outcome.failed);
    const estimates = new Map<string, RateEstimate>();
    const failed: Record<string, number> = {};
    for (const condition of input.conditions) {
      const inCondition = counted.filter((outcome) => outcome.condition === condition);
      const positives = inCondition.filter((outcome) => outcome.positive).length;
      estimates.set(condition, wilsonInterval(positives, inCondition.length));
      failed[condition] = input.outcomes.filter(
        (outcome) => outcome.failed && outcome.condition === condition,
      ).length;
    }
    const from = estimates.get(input.compared.from)!;
    const to = estimates.get(input.compared.to)!;
    const gap = estimateGap(from, to);
    const measureNames = [
      ...new Set(counted.flatMap((outcome) => Object.keys(outcome.measures ?? {}))),
    ].sort();
    const measures: ScenarioResult["measures"] = {};
    for (const name of measureNames) {
      measures[name] = {};
      for (const condition of input.conditions) {
        const inCondition = counted.filter((outcome) => outcome.condition === condition);
        const positives = inCondition.filter((outcome) => outcome.measures?.[name]).length;
        measures[name][condition] = conditionResult(wilsonInterval(positives, inCondition.length));
      }
    }
    const conditions = Object.fromEntries(
      [...estimates].map(([name, estimate]) => [name, conditionResult(estimate)]),
    );
    return { input, conditions, gap, measures, failed, from, to };
  });
  const pValues = partial.map((entry) => entry.gap.p);
  const holm = holmAdjust(pValues);
  const benjaminiHochberg = benjaminiHochbergAdjust(pValues);
  return partial.map((entry, index) => {
    const base = Number.isNaN(entry.from.rate) ? 0 : entry.from.rate;
    const power = powerForGap(base, powerGap, entry.from.n, entry.to.n);
    const significant = holm[index]! < alpha;
    let powerNote: string | undefined;
    if (power < 0.8 && entry.from.n > 0 && entry.to.n > 0) {
      const needed = samplesForPower(base, powerGap, 0.8);
      powerNote =
        `n=${entry.from.n}/${entry.to.n} detects a gap of ${powerGap.toFixed(2)} from ${base.toFixed(2)} ` +
        `with only ~${Math.round(power * 100)}% power` +
        (needed === null ? "" : `; 80% needs ~${needed} samples per condition`);
    }
    const result: ScenarioResult = {
      id: entry.input.id,
      ...(entry.input.title ? { title: entry.input.title } : {}),
      measure: entry.input.measure,
      conditions: entry.conditions,
      gap: { gap: entry.gap.gap, ci: entry.gap.ci, p: entry.gap.p },
      compared: entry.input.compared,
      adjusted: { holm: holm[index]!, benjaminiHochberg: benjaminiHochberg[index]! },
      significant,
      measures: entry.measures,
      failed: entry.failed,
      ...(powerNote ? { powerNote } : {}),
    };
    return result;
  });
}
