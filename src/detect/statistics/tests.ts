import jStat from "jstat";

/** P(X ≥ k) for X ~ Binomial(n, p): the one-sided p-value of seeing k or more. */
export function binomialUpperTail(k: number, n: number, p: number): number {
  if (k <= 0) return 1;
  if (k > n) return 0;
  return clampProbability(1 - jStat.binomial.cdf(k - 1, n, p));
}

/** One-sided Welch t-test that sample A's mean exceeds sample B's; the p-value. */
export function welchGreater(a: RunningMoments, b: RunningMoments): number {
  if (a.count < 2 || b.count < 2) return 1;
  const varianceA = a.variance / a.count;
  const varianceB = b.variance / b.count;
  const standardError = Math.sqrt(varianceA + varianceB);
  if (standardError === 0) return a.mean > b.mean ? 0 : 1;
  const t = (a.mean - b.mean) / standardError;
  // Welch–Satterthwaite degrees of freedom.
  const degrees =
    (varianceA + varianceB) ** 2 / (varianceA ** 2 / (a.count - 1) + varianceB ** 2 / (b.count - 1));
  return clampProbability(1 - jStat.studentt.cdf(t, degrees));
}

/** Two-sided Welch t-test that the means differ; the p-value. */
export function welchDiffer(a: RunningMoments, b: RunningMoments): number {
  const greater = welchGreater(a, b);
  return clampProbability(2 * Math.min(greater, 1 - greater));
}

/**
 * Pearson's chi-squared test of homogeneity between two count tables over the same categories
 * (a baseline and a window); categories seen in neither are dropped. The p-value.
 */
export function chiSquaredHomogeneity(
  baseline: ReadonlyMap<string, number>,
  window: ReadonlyMap<string, number>,
): number {
  const categories = [...new Set([...baseline.keys(), ...window.keys()])];
  if (categories.length < 2) return 1;
  const baselineTotal = sum(baseline.values());
  const windowTotal = sum(window.values());
  const total = baselineTotal + windowTotal;
  if (baselineTotal === 0 || windowTotal === 0) return 1;
  let statistic = 0;
  for (const category of categories) {
    const column = (baseline.get(category) ?? 0) + (window.get(category) ?? 0);
    for (const [observed, rowTotal] of [
      [baseline.get(category) ?? 0, baselineTotal],
      [window.get(category) ?? 0, windowTotal],
    ] as const) {
      const expected = (rowTotal * column) / total;
      if (expected > 0) statistic += (observed - expected) ** 2 / expected;
    }
  }
  return clampProbability(1 - jStat.chisquare.cdf(statistic, categories.length - 1));
}

/** Two-sided test that two proportions differ (pooled z-test); the p-value. */
export function twoProportions(
  successesA: number,
  countA: number,
  successesB: number,
  countB: number,
): number {
  if (countA === 0 || countB === 0) return 1;
  const pooled = (successesA + successesB) / (countA + countB);
  const standardError = Math.sqrt(pooled * (1 - pooled) * (1 / countA + 1 / countB));
  if (standardError === 0) return successesA / countA === successesB / countB ? 1 : 0;
  const z = Math.abs(successesA / countA - successesB / countB) / standardError;
  return clampProbability(2 * (1 - jStat.normal.cdf(z, 0, 1)));
}

/**
 * Benjamini–Hochberg (1995): which of a family of p-values are discoveries at false discovery
 * rate `q`. Returns their indexes.
 */
export function benjaminiHochberg(pValues: readonly number[], q: number): number[] {
  const order = pValues.map((p, index) => [p, index] as const).sort((left, right) => left[0] - right[0]);
  let cutoff = -1;
  order.forEach(([p], rank) => {
    if (p <= ((rank + 1) / order.length) * q) cutoff = rank;
  });
  return order.slice(0, cutoff + 1).map(([, index]) => index);
}

/**
 * LOND (Javanmard & Montanari, "Online rules for control of false discovery rate", 2018): the
 * i-th test of an open-ended sequence is a discovery when p ≤ α·γᵢ·(D + 1), with D the
 * discoveries so far and γᵢ = 6 / (π² i²) (Σγᵢ = 1). Controls the FDR at α over the whole
 * sequence, as a detector that keeps testing windows needs.
 */
export class LondSequence {
  #tests = 0;
  #discoveries = 0;
  constructor(readonly alpha: number) {}

  /** Tests one p-value; true when it is a discovery. */
  test(pValue: number): boolean {
    this.#tests++;
    const gamma = 6 / (Math.PI ** 2 * this.#tests ** 2);
    const discovery = pValue <= this.alpha * gamma * (this.#discoveries + 1);
    if (discovery) this.#discoveries++;
    return discovery;
  }

  get tests(): number {
    return this.#tests;
  }
}

/** Count, mean and variance of a stream (Welford's algorithm). */
export class RunningMoments {
  count = 0;
  mean = 0;
  #squares = 0;

  add(value: number): void {
    this.count++;
    const delta = value - this.mean;
    this.mean += delta / this.count;
    this.#squares += delta * (value - this.mean);
  }

  /** Adds another stream's values, as if added one by one (Chan et al.). */
  merge(other: RunningMoments): void {
    if (other.count === 0) return;
    const count = this.count + other.count;
    const delta = other.mean - this.mean;
    this.#squares += other.#squares + (delta * delta * this.count * other.count) / count;
    this.mean += (delta * other.count) / count;
    this.count = count;
  }

  /** The sample variance (n − 1). */
  get variance(): number {
    return this.count < 2 ? 0 : this.#squares / (this.count - 1);
  }
}

function sum(values: Iterable<number>): number {
  let total = 0;
  for (const value of values) total += value;
  return total;
}

function clampProbability(value: number): number {
  return Number.isNaN(value) ? 1 : Math.min(1, Math.max(0, value));
}
