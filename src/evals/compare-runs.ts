import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { WardenError } from "../core/errors.js";
import type { EvaluationResults } from "./build-report.js";
import { formatP } from "./build-report.js";
import { estimateGap, wilsonInterval } from "./statistics.js";

export interface ConditionComparison {
  condition: string;
  a: { n: number; rate: number };
  b: { n: number; rate: number };
  /** B − A with a Newcombe interval and Fisher p: the runs are independent samples. */
  difference: { gap: number; ci: [number, number]; p: number };
}

export interface ScenarioComparison {
  id: string;
  conditions: ConditionComparison[];
  gapA: number;
  gapB: number;
  /** B's gap − A's gap; the interval treats each gap interval as normal (approximate). */
  gapDifference: { difference: number; ci: [number, number] };
}

export interface RunComparison {
  a: { runId: string; model: string };
  b: { runId: string; model: string };
  scenarios: ScenarioComparison[];
  /** Scenario ids in only one of the runs. */
  onlyInA: string[];
  onlyInB: string[];
}

export function readResultsFile(target: string): EvaluationResults {
  const file =
    existsSync(target) && statSync(target).isDirectory() ? path.join(target, "results.json") : target;
  try {
    const results = JSON.parse(readFileSync(file, "utf8")) as EvaluationResults;
    if (!Array.isArray(results.scenarios)) throw new Error("no scenarios");
    return results;
  } catch (error) {
    throw new WardenError(
      "usage",
      `${file}: not a results.json of warden eval run (${(error as Error).message})`,
    );
  }
}

export function compareRuns(a: EvaluationResults, b: EvaluationResults): RunComparison {
  const inB = new Map(b.scenarios.map((scenario) => [scenario.id, scenario]));
  const scenarios: ScenarioComparison[] = [];
  for (const scenarioA of a.scenarios) {
    const scenarioB = inB.get(scenarioA.id);
    if (!scenarioB) continue;
    const conditions: ConditionComparison[] = [];
    for (const [condition, rateA] of Object.entries(scenarioA.conditions)) {
      const rateB = scenarioB.conditions[condition];
      if (!rateB) continue;
      const estimateA = wilsonInterval(Math.round(rateA.rate * rateA.n), rateA.n);
      const estimateB = wilsonInterval(Math.round(rateB.rate * rateB.n), rateB.n);
      conditions.push({
        condition,
        a: { n: rateA.n, rate: rateA.rate },
        b: { n: rateB.n, rate: rateB.rate },
        difference: estimateGap(estimateA, estimateB),
      });
    }
    const halfWidth = (ci: [number, number]) => (ci[1] - ci[0]) / 2;
    const difference = scenarioB.gap.gap - scenarioA.gap.gap;
    const spread = Math.sqrt(halfWidth(scenarioA.gap.ci) ** 2 + halfWidth(scenarioB.gap.ci) ** 2);
    scenarios.push({
      id: scenarioA.id,
      conditions,
      gapA: scenarioA.gap.gap,
      gapB: scenarioB.gap.gap,
      gapDifference: { difference, ci: [difference - spread, difference + spread] },
    });
  }
  const idsA = new Set(a.scenarios.map((scenario) => scenario.id));
  return {
    a: { runId: a.runId, model: a.model },
    b: { runId: b.runId, model: b.model },
    scenarios,
    onlyInA: a.scenarios.map((scenario) => scenario.id).filter((id) => !inB.has(id)),
    onlyInB: b.scenarios.map((scenario) => scenario.id).filter((id) => !idsA.has(id)),
  };
}

const pct = (value: number) => `${(value * 100).toFixed(1)}%`;
const pts = (value: number) => `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}`;

export function formatComparison(comparison: RunComparison): string[] {
  const lines = [
    `A: ${comparison.a.model} (run ${comparison.a.runId})`,
    `B: ${comparison.b.model} (run ${comparison.b.runId})`,
  ];
  for (const scenario of comparison.scenarios) {
    lines.push("", scenario.id);
    for (const entry of scenario.conditions) {
      const { gap, ci, p } = entry.difference;
      lines.push(
        `  ${entry.condition.padEnd(20)} A ${pct(entry.a.rate).padStart(6)} (n=${entry.a.n})  B ${pct(entry.b.rate).padStart(6)} (n=${entry.b.n})  ` +
          `B−A ${pts(gap)} pts [${pts(ci[0])}, ${pts(ci[1])}] p=${formatP(p)}`,
      );
    }
    const { difference, ci } = scenario.gapDifference;
    lines.push(
      `  gap: A ${pts(scenario.gapA)}  B ${pts(scenario.gapB)}  B−A ${pts(difference)} pts [${pts(ci[0])}, ${pts(ci[1])}] (approximate)`,
    );
  }
  if (comparison.onlyInA.length) lines.push("", `only in A: ${comparison.onlyInA.join(", ")}`);
  if (comparison.onlyInB.length) lines.push("", `only in B: ${comparison.onlyInB.join(", ")}`);
  return lines;
}
