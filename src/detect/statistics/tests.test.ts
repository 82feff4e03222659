import { describe, expect, it } from "vitest";
import {
  benjaminiHochberg,
  binomialUpperTail,
  chiSquaredHomogeneity,
  LondSequence,
  RunningMoments,
  twoProportions,
  welchGreater,
} from "./tests.js";

const moments = (values: number[]) => {
  const running = new RunningMoments();
  for (const value of values) running.add(value);
  return running;
};

describe("statistical tests", () => {
  it("gives the binomial upper tail", () => {
    // P(X >= 4) for Binomial(20, 0.1) = 1 - 0.8670...
    expect(binomialUpperTail(4, 20, 0.1)).toBeCloseTo(0.133, 3);
    expect(binomialUpperTail(0, 20, 0.1)).toBe(1);
    expect(binomialUpperTail(21, 20, 0.1)).toBe(0);
  });

  it("tests Welch's t one-sided: a clear increase is significant, noise is not", () => {
    const base = moments([10, 11, 9, 10, 12, 10, 9, 11, 10, 10]);
    expect(welchGreater(moments([20, 21, 19, 22, 20]), base)).toBeLessThan(0.001);
    expect(welchGreater(moments([10, 11, 9, 10, 10]), base)).toBeGreaterThan(0.2);
  });

  it("merges running moments as if the values were added one by one", () => {
    const left = moments([1, 2, 3]);
    left.merge(moments([10, 20]));
    const all = moments([1, 2, 3, 10, 20]);
    expect(left.mean).toBeCloseTo(all.mean, 10);
    expect(left.variance).toBeCloseTo(all.variance, 10);
  });

  it("tests homogeneity of two count tables", () => {
    const same = chiSquaredHomogeneity(
      new Map([
        ["a", 50],
        ["b", 50],
      ]),
      new Map([
        ["a", 25],
        ["b", 25],
      ]),
    );
    expect(same).toBeGreaterThan(0.9);
    const moved = chiSquaredHomogeneity(
      new Map([
        ["a", 90],
        ["b", 10],
      ]),
      new Map([
        ["a", 10],
        ["b", 40],
      ]),
    );
    expect(moved).toBeLessThan(1e-6);
    expect(twoProportions(5, 100, 40, 100)).toBeLessThan(1e-6);
    expect(twoProportions(5, 100, 6, 100)).toBeGreaterThan(0.5);
  });

  it("controls the false discovery rate with Benjamini-Hochberg", () => {
    expect(benjaminiHochberg([0.01, 0.03, 0.02, 0.5], 0.05).sort()).toEqual([0, 1, 2]);
    // Step-up: the largest rank under its threshold carries the smaller ones with it.
    expect(benjaminiHochberg([0.04, 0.04, 0.04, 0.04], 0.05)).toHaveLength(4);
    expect(benjaminiHochberg([0.01, 0.04, 0.03, 0.5], 0.05)).toEqual([0]);
    expect(benjaminiHochberg([0.2, 0.5, 0.9], 0.05)).toEqual([]);
  });

  it("spends LOND's budget over an open-ended sequence: uniform p-values rarely pass, tiny ones do", () => {
    const lond = new LondSequence(0.05);
    let discoveries = 0;
    for (let index = 1; index <= 1000; index++) if (lond.test((index * 0.6180339887) % 1)) discoveries++;
    expect(discoveries).toBe(0);
    const fresh = new LondSequence(0.05);
    expect(fresh.test(1e-6)).toBe(true);
    expect(fresh.test(1e-6)).toBe(true);
  });
});
