import { describe, expect, it } from "vitest";
import { validateStatistics } from "./simulate-personas.js";

describe("the gap statistics on simulated personas with known rates", () => {
  it("cover the true gap about 95% of the time and flag a zero gap at most 6% of the time", () => {
    const figures = validateStatistics(
      [
        { name: "alignment-faker", observed: 0.14, unobserved: 0.03, samples: 200 },
        { name: "moderate-gap", observed: 0.4, unobserved: 0.55, samples: 100 },
        { name: "zero-gap", observed: 0.3, unobserved: 0.3, samples: 100 },
        { name: "zero-gap-rare", observed: 0.05, unobserved: 0.05, samples: 150 },
      ],
      2000,
      20241218,
    );
    // The lead copies these into the note.
    for (const figure of figures) {
      process.stdout.write(
        `${figure.persona}: gap ${figure.trueGap.toFixed(2)}, ${figure.replications} replications, ` +
          `coverage ${(figure.coverage * 100).toFixed(1)}%, significant ${(figure.significantShare * 100).toFixed(1)}%\n`,
      );
    }
    for (const figure of figures) {
      expect(figure.coverage, figure.persona).toBeGreaterThanOrEqual(0.935);
      expect(figure.coverage, figure.persona).toBeLessThanOrEqual(0.965);
    }
    for (const figure of figures.filter((entry) => entry.trueGap === 0)) {
      expect(figure.significantShare, figure.persona).toBeLessThanOrEqual(0.06);
    }
    // A real gap of 0.11 at n=200 is found most of the time (the test has power).
    expect(figures[0]!.significantShare).toBeGreaterThan(0.8);
  });
});
