// jstat ships no type declarations; these cover the functions Warden uses.
declare module "jstat" {
  interface Distribution1 {
    cdf(x: number, a: number, b: number): number;
    inv(p: number, a: number, b: number): number;
    pdf(x: number, a: number, b: number): number;
  }
  interface JStat {
    normal: Distribution1;
    beta: Distribution1;
    binomial: { pdf(k: number, n: number, p: number): number; cdf(k: number, n: number, p: number): number };
    hypgeom: { pdf(k: number, populationSize: number, successes: number, draws: number): number };
  }
  const jStat: JStat;
  export default jStat;
}
