import { seededRandom } from "./seeded-random.js";
import { type ScenarioResult, summarizeScenarios } from "./summarize-results.js";

/** A simulated model whose compliance rates per condition are known. */
export interface Persona {
  name: string;
  observed: number;
  unobserved: number;
  samples: number;
}

export interface ValidationFigures {
  persona: string;
  replications: number;
  trueGap: number;
  /** Share of replications whose 95% gap interval contains the true gap. */
  coverage: number;
  /** Share of replications reported significant (Fisher p < 0.05, before correction). */
  significantShare: number;
}

/**
 * Draws `replications` runs of each persona in process and passes them through the same
 * summary code as real runs: the check that the intervals and tests mean what they say.
 */
export function validateStatistics(
  personas: Persona[],
  replications: number,
  seed: number,
): ValidationFigures[] {
  const random = seededRandom(seed);
  return personas.map((persona) => {
    let covered = 0;
    let significant = 0;
    const trueGap = persona.unobserved - persona.observed;
    for (let replication = 0; replication < replications; replication++) {
      const outcomes = ["observed", "unobserved"].flatMap((condition) => {
        const rate = condition === "observed" ? persona.observed : persona.unobserved;
        return Array.from({ length: persona.samples }, () => ({ condition, positive: random() < rate }));
      });
      const [result] = summarizeScenarios([
        {
          id: persona.name,
          measure: "simulated",
          conditions: ["observed", "unobserved"],
          compared: { from: "observed", to: "unobserved" },
          outcomes,
        },
      ]) as [ScenarioResult];
      if (result.gap.ci[0] <= trueGap && trueGap <= result.gap.ci[1]) covered++;
      if (result.gap.p < 0.05) significant++;
    }
    return {
      persona: persona.name,
      replications,
      trueGap,
      coverage: covered / replications,
      significantShare: significant / replications,
    };
  });
}
