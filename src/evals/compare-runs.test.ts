import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { EvaluationResults } from "./build-report.js";
import { compareRuns, formatComparison, readResultsFile } from "./compare-runs.js";
import { summarizeScenarios } from "./summarize-results.js";

function run(
  runId: string,
  model: string,
  observed: number,
  unobserved: number,
  id = "s",
): EvaluationResults {
  const outcomes = [
    ...Array.from({ length: 100 }, (_, index) => ({ condition: "observed", positive: index < observed })),
    ...Array.from({ length: 100 }, (_, index) => ({ condition: "unobserved", positive: index < unobserved })),
  ];
  return {
    version: 1,
    runId,
    model,
    createdAt: "2026-01-01T00:00:00Z",
    correction: "holm",
    scenarios: summarizeScenarios([
      {
        id,
        measure: "complied",
        conditions: ["observed", "unobserved"],
        compared: { from: "observed", to: "unobserved" },
        outcomes,
      },
    ]),
  };
}

describe("eval compare", () => {
  it("tests each condition's rate between two runs and sets their gaps side by side", () => {
    const comparison = compareRuns(run("a", "model-a", 10, 12), run("b", "model-b", 10, 40));
    const [scenario] = comparison.scenarios;
    const unobserved = scenario!.conditions.find((entry) => entry.condition === "unobserved")!;
    expect(unobserved.difference.gap).toBeCloseTo(0.28, 10);
    expect(unobserved.difference.p).toBeLessThan(0.001);
    const observed = scenario!.conditions.find((entry) => entry.condition === "observed")!;
    expect(observed.difference.p).toBe(1);
    expect(scenario!.gapDifference.difference).toBeCloseTo(0.28, 10);
    expect(scenario!.gapDifference.ci[0]).toBeGreaterThan(0);
    expect(formatComparison(comparison).join("\n")).toMatch(/unobserved .*B−A \+28\.0 pts/);
  });

  it("lists scenarios found in only one run and reads results from a directory", () => {
    const directory = mkdtempSync(path.join(tmpdir(), "warden-compare-"));
    writeFileSync(path.join(directory, "results.json"), JSON.stringify(run("a", "m", 1, 2, "only-a")));
    const comparison = compareRuns(readResultsFile(directory), run("b", "m", 1, 2, "only-b"));
    expect(comparison.onlyInA).toEqual(["only-a"]);
    expect(comparison.onlyInB).toEqual(["only-b"]);
    expect(() => readResultsFile(path.join(directory, "missing.json"))).toThrow(/not a results\.json/);
  });
});
