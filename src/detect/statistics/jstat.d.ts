// The part of jStat (https://github.com/jstat/jstat, no bundled types) that Warden uses.
declare module "jstat" {
  interface Distribution {
    cdf(x: number, ...parameters: number[]): number;
  }
  const jStat: {
    binomial: Distribution;
    studentt: Distribution;
    chisquare: Distribution;
    normal: Distribution;
  };
  export default jStat;
}
