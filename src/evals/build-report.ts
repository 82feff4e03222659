import type { LoadedScenario } from "./load-scenarios.js";
import type { SampleRecord } from "./run-evaluation.js";
import { comparedConditions } from "./scenario-schema.js";
import { type ScenarioResult, type SummaryOptions, summarizeScenarios } from "./summarize-results.js";

/** `results.json`: the machine-readable outcome of one run. */
export interface EvaluationResults {
  version: 1;
  runId: string;
  model: string;
  createdAt: string;
  /** How the gap p-values are corrected across scenarios for `significant`. */
  correction: "holm";
  scenarios: ScenarioResult[];
}

export function buildResults(
  runId: string,
  model: string,
  scenarios: LoadedScenario[],
  samples: SampleRecord[],
  options: SummaryOptions = {},
): EvaluationResults {
  const inputs = scenarios.map(({ scenario }) => ({
    id: scenario.id,
    ...(scenario.title ? { title: scenario.title } : {}),
    measure: scorerLabel(scenario.scorer),
    conditions: Object.keys(scenario.conditions),
    compared: comparedConditions(scenario),
    outcomes: samples
      .filter((sample) => sample.scenario === scenario.id)
      .map((sample) => ({
        condition: sample.condition,
        positive: sample.positive,
        measures: sample.measures,
        failed: sample.failed,
      })),
  }));
  return {
    version: 1,
    runId,
    model,
    createdAt: new Date().toISOString(),
    correction: "holm",
    scenarios: summarizeScenarios(inputs, options),
  };
}

function scorerLabel(scorer: LoadedScenario["scenario"]["scorer"]): string {
  const base = scorer.description ?? defaultScorerLabel(scorer);
  return scorer.negate && !scorer.description ? `not: ${base}` : base;
}

function defaultScorerLabel(scorer: LoadedScenario["scenario"]["scorer"]): string {
  switch (scorer.type) {
    case "refusal":
      return "complied (not a refusal)";
    case "called-tool":
      return `called ${scorer.tool}`;
    case "touched-file":
      return `touched ${scorer.path}`;
    case "claims-vs-evidence":
      return `a claim the evidence finds ${scorer.verdicts.join(" or ")}`;
    case "auditor-verdict":
      return `auditor verdict ${scorer.compliant.join(" or ")}`;
    case "classifier":
      return `flagged by ${scorer.name}`;
    case "markers":
      return "markers present";
  }
}

const percent = (value: number) => (Number.isNaN(value) ? "  n/a" : `${(value * 100).toFixed(1)}%`);
const interval = (ci: [number, number]) =>
  Number.isNaN(ci[0]) ? "n/a" : `[${(ci[0] * 100).toFixed(1)}, ${(ci[1] * 100).toFixed(1)}]`;
const signed = (value: number) =>
  Number.isNaN(value) ? "n/a" : `${value >= 0 ? "+" : ""}${(value * 100).toFixed(1)}`;

/** The terminal table: one row per condition, then the gap line. */
export function formatResultsTable(results: EvaluationResults): string[] {
  const lines: string[] = [`model ${results.model}, run ${results.runId}`];
  for (const scenario of results.scenarios) {
    lines.push("", `${scenario.id} — rate = ${scenario.measure}`);
    for (const [name, condition] of Object.entries(scenario.conditions)) {
      const failed = scenario.failed[name] ? `  (${scenario.failed[name]} failed, not counted)` : "";
      lines.push(
        `  ${name.padEnd(20)} n=${String(condition.n).padEnd(5)} ${percent(condition.rate).padStart(6)}  95% CI ${interval(condition.ci)}${failed}`,
      );
      for (const [measure, rates] of Object.entries(scenario.measures)) {
        const rate = rates[name]!;
        lines.push(
          `    ${measure.padEnd(18)}        ${percent(rate.rate).padStart(6)}  95% CI ${interval(rate.ci)}`,
        );
      }
    }
    const { gap, ci, p } = scenario.gap;
    lines.push(
      `  gap ${scenario.compared.to} − ${scenario.compared.from}: ${signed(gap)} pts, 95% CI ${interval(ci)}, ` +
        `Fisher p=${formatP(p)}, Holm p=${formatP(scenario.adjusted.holm)}, BH q=${formatP(scenario.adjusted.benjaminiHochberg)}` +
        (scenario.significant ? "  SIGNIFICANT" : ""),
    );
    if (scenario.powerNote) lines.push(`  power: ${scenario.powerNote}`);
  }
  return lines;
}

export function formatP(p: number): string {
  return p < 0.001 ? "<0.001" : p.toFixed(3);
}
