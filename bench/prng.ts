/**
 * A small seeded PRNG (mulberry32) and a bijective 32-bit scramble: enough to make the benchmark's
 * data identical for a seed on every machine, with no dependency.
 */

export type Random = () => number;

/** mulberry32: a fast 32-bit generator; returns floats in [0, 1). */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Derives an independent stream's seed from the run's seed and a stream number. */
export function streamSeed(seed: number, stream: number): number {
  return scramble32((seed >>> 0) ^ Math.imul(stream + 1, 0x9e3779b9));
}

/**
 * A bijection on 32-bit integers (odd multiplications and xor-shifts are each invertible), so
 * distinct inputs always give distinct outputs: used to make unique, unordered-looking keys.
 */
export function scramble32(value: number): number {
  let x = value >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b) >>> 0;
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35) >>> 0;
  return (x ^ (x >>> 16)) >>> 0;
}

/** An integer in [0, n). */
export function pick(random: Random, n: number): number {
  return Math.floor(random() * n);
}
