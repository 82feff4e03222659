// jStat (https://github.com/jstat/jstat) ships no type declarations; these cover the
// distributions Warden uses (detectors' tests and the evaluation statistics).
declare module "jstat" {
  interface Distribution {
    cdf(x: number, ...parameters: number[]): number;
    inv(p: number, ...parameters: number[]): number;
    pdf(x: number, ...parameters: number[]): number;
  }
  interface JStat {
    normal: Distribution;
    beta: Distribution;
    binomial: Distribution;
    studentt: Distribution;
    chisquare: Distribution;
    hypgeom: { pdf(k: number, populationSize: number, successes: number, draws: number): number };
  }
  const jStat: JStat;
  export default jStat;
}
