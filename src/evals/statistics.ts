import jStat from "jstat";

/** A proportion with its two-sided interval: `[low, high]`. */
export interface RateEstimate {
  successes: number;
  n: number;
  rate: number;
  ci: [number, number];
}

export interface GapEstimate {
  /** `to` rate minus `from` rate (unobserved − observed). */
  gap: number;
  ci: [number, number];
  /** Two-sided Fisher exact p-value for the 2×2 table. */
  p: number;
}

const defaultConfidence = 0.95;

function criticalValue(confidence: number): number {
  return jStat.normal.inv(1 - (1 - confidence) / 2, 0, 1);
}

/**
 * The Wilson score interval (Wilson 1927). Unlike the Wald interval it stays inside [0, 1]
 * and keeps close to nominal coverage for rates near 0 or 1 and for small n.
 */
export function wilsonInterval(successes: number, n: number, confidence = defaultConfidence): RateEstimate {
  if (n === 0) return { successes, n, rate: Number.NaN, ci: [0, 1] };
  const z = criticalValue(confidence);
  const rate = successes / n;
  const z2 = z * z;
  const centre = (rate + z2 / (2 * n)) / (1 + z2 / n);
  const halfWidth = (z / (1 + z2 / n)) * Math.sqrt((rate * (1 - rate)) / n + z2 / (4 * n * n));
  return { successes, n, rate, ci: [Math.max(0, centre - halfWidth), Math.min(1, centre + halfWidth)] };
}

/**
 * Newcombe's hybrid score interval for the difference of two independent proportions
 * (Newcombe 1998, method 10): it combines the two Wilson intervals, so it inherits their
 * good coverage where the Wald difference interval does not.
 */
export function newcombeInterval(
  from: RateEstimate,
  to: RateEstimate,
  confidence = defaultConfidence,
): [number, number] {
  const a = wilsonInterval(from.successes, from.n, confidence);
  const b = wilsonInterval(to.successes, to.n, confidence);
  const difference = b.rate - a.rate;
  const low = difference - Math.sqrt((b.rate - b.ci[0]) ** 2 + (a.ci[1] - a.rate) ** 2);
  const high = difference + Math.sqrt((b.ci[1] - b.rate) ** 2 + (a.rate - a.ci[0]) ** 2);
  return [Math.max(-1, low), Math.min(1, high)];
}

/**
 * Two-sided Fisher exact test of a 2×2 table (successes/n in two groups): the probability,
 * under the hypergeometric null, of tables no more likely than the one observed.
 */
export function fisherExact(successesA: number, nA: number, successesB: number, nB: number): number {
  const population = nA + nB;
  const successes = successesA + successesB;
  if (population === 0 || successes === 0 || successes === population) return 1;
  const low = Math.max(0, successes - nB);
  const high = Math.min(successes, nA);
  const observed = jStat.hypgeom.pdf(successesA, population, successes, nA);
  // Relative tolerance so that tables as likely as the observed one count despite rounding.
  const threshold = observed * (1 + 1e-7);
  let p = 0;
  for (let k = low; k <= high; k++) {
    const probability = jStat.hypgeom.pdf(k, population, successes, nA);
    if (probability <= threshold) p += probability;
  }
  return Math.min(1, p);
}

export function estimateGap(
  from: RateEstimate,
  to: RateEstimate,
  confidence = defaultConfidence,
): GapEstimate {
  return {
    gap: to.rate - from.rate,
    ci: newcombeInterval(from, to, confidence),
    p: fisherExact(to.successes, to.n, from.successes, from.n),
  };
}

/** Holm's step-down adjustment (controls the family-wise error rate). Order of the input is kept. */
export function holmAdjust(pValues: readonly number[]): number[] {
  const order = pValues.map((p, index) => ({ p, index })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(pValues.length);
  let running = 0;
  order.forEach(({ p, index }, rank) => {
    running = Math.max(running, Math.min(1, (pValues.length - rank) * p));
    adjusted[index] = running;
  });
  return adjusted;
}

/** Benjamini–Hochberg step-up adjustment (controls the false discovery rate). Order is kept. */
export function benjaminiHochbergAdjust(pValues: readonly number[]): number[] {
  const count = pValues.length;
  const order = pValues.map((p, index) => ({ p, index })).sort((x, y) => y.p - x.p);
  const adjusted = new Array<number>(count);
  let running = 1;
  order.forEach(({ p, index }, position) => {
    const rank = count - position;
    running = Math.min(running, (count / rank) * p);
    adjusted[index] = Math.min(1, running);
  });
  return adjusted;
}

/**
 * Approximate power of a two-sided test at level `alpha` to detect a gap of `gap` from a base
 * rate, with `nA` and `nB` samples (normal approximation to two proportions; Fisher's exact
 * test is somewhat more conservative, so read it as an upper bound).
 */
export function powerForGap(baseRate: number, gap: number, nA: number, nB: number, alpha = 0.05): number {
  if (nA === 0 || nB === 0) return 0;
  const p1 = clamp(baseRate, 0, 1);
  const p2 = clamp(baseRate + gap, 0, 1);
  const delta = Math.abs(p2 - p1);
  if (delta === 0) return alpha;
  const pooled = (p1 * nA + p2 * nB) / (nA + nB);
  const z = criticalValue(1 - alpha);
  const nullSd = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  const alternativeSd = Math.sqrt((p1 * (1 - p1)) / nA + (p2 * (1 - p2)) / nB);
  if (alternativeSd === 0) return 1;
  return jStat.normal.cdf((delta - z * nullSd) / alternativeSd, 0, 1);
}

/** Samples per condition for `power` to detect `gap` from `baseRate` (equal groups), or null beyond 1e6. */
export function samplesForPower(baseRate: number, gap: number, power = 0.8, alpha = 0.05): number | null {
  if (powerForGap(baseRate, gap, 1_000_000, 1_000_000, alpha) < power) return null;
  let low = 1;
  let high = 1_000_000;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (powerForGap(baseRate, gap, middle, middle, alpha) >= power) high = middle;
    else low = middle + 1;
  }
  return low;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}
