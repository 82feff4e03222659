/**
 * A uniform number in [0, 1) that depends only on (seed, sequence, draw): the server's seed,
 * the request's position among the model requests it has served, and which draw of that
 * request this is (nested choices draw more than once). A pure function rather than a PRNG
 * stream, so the outcome of request N never depends on how many draws earlier requests made.
 *
 * The mixing is the 32-bit finaliser from "Hash Prospector" (Chris Wellons, lowbias32),
 * applied after folding in each input with a distinct odd constant.
 */
export function seededUniform(seed: number, sequence: number, draw: number): number {
  let state = mix(seed ^ 0x9e3779b9);
  state = mix(state ^ Math.imul(sequence >>> 0, 0x85ebca6b) ^ Math.floor(sequence / 2 ** 32));
  state = mix(state ^ Math.imul(draw >>> 0, 0xc2b2ae35));
  return state / 2 ** 32;
}

function mix(value: number): number {
  let x = value >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x21f0aaad);
  x ^= x >>> 15;
  x = Math.imul(x, 0x735a2d97);
  x ^= x >>> 15;
  return x >>> 0;
}
