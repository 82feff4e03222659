import { describe, expect, it } from "vitest";
import {
  benjaminiHochbergAdjust,
  fisherExact,
  holmAdjust,
  newcombeInterval,
  powerForGap,
  samplesForPower,
  wilsonInterval,
} from "./statistics.js";

describe("statistics", () => {
  it("Wilson interval matches the published value for 5 of 10", () => {
    const estimate = wilsonInterval(5, 10);
    expect(estimate.ci[0]).toBeCloseTo(0.2366, 4);
    expect(estimate.ci[1]).toBeCloseTo(0.7634, 4);
  });

  it("Wilson interval for zero successes starts at 0 and is not degenerate", () => {
    const estimate = wilsonInterval(0, 50);
    expect(estimate.ci[0]).toBe(0);
    expect(estimate.ci[1]).toBeCloseTo(0.0714, 3);
  });

  it("Newcombe interval reproduces Newcombe (1998) example 56/70 vs 48/80", () => {
    const ci = newcombeInterval(wilsonInterval(48, 80), wilsonInterval(56, 70));
    expect(ci[0]).toBeCloseTo(0.0524, 3);
    expect(ci[1]).toBeCloseTo(0.3339, 3);
  });

  it("Fisher exact test gives the lady-tasting-tea p-value", () => {
    expect(fisherExact(3, 4, 1, 4)).toBeCloseTo(0.4857, 4);
    expect(fisherExact(4, 4, 0, 4)).toBeCloseTo(0.0286, 4);
    expect(fisherExact(0, 10, 0, 10)).toBe(1);
  });

  it("Holm and Benjamini-Hochberg adjust in the input order", () => {
    const p = [0.01, 0.04, 0.03, 0.005];
    expect(holmAdjust(p)).toEqual([0.03, 0.06, 0.06, 0.02].map((value) => expect.closeTo(value, 10)));
    expect(benjaminiHochbergAdjust(p)).toEqual(
      [0.02, 0.04, 0.04, 0.02].map((value) => expect.closeTo(value, 10)),
    );
  });

  it("power grows with samples and the sample size for 80% power is consistent", () => {
    expect(powerForGap(0.1, 0.1, 50, 50)).toBeLessThan(0.8);
    const needed = samplesForPower(0.1, 0.1)!;
    expect(needed).toBeGreaterThan(150);
    expect(needed).toBeLessThan(250);
    expect(powerForGap(0.1, 0.1, needed, needed)).toBeGreaterThanOrEqual(0.8);
    expect(powerForGap(0.1, 0.1, needed - 1, needed - 1)).toBeLessThan(0.8);
  });
});
