// Philox4x32-10, the counter-based generator of Salmon et al., "Parallel
// random numbers: as easy as 1, 2, 3" (SC 2011), with the Random123
// constants. A random number is a pure function of (seed, salt, step, iter,
// index), so generated code, the reference evaluator and a WGSL kernel all
// draw the same value for the same element in any order.
//
// Integer-exact in doubles: the 32x32 -> 64 bit product is split into 16-bit
// halves (every partial product and sum stays below 2^32), so the same code
// ports to WGSL's u32 arithmetic and no BigInt is needed on the hot path.
// The runtime must not import the compiler; this module imports nothing.

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** High 32 bits of the 64-bit product of two u32 values. */
function mulhi(a: number, b: number): number {
  const a0 = a & 0xffff, a1 = a >>> 16;
  const b0 = b & 0xffff, b1 = b >>> 16;
  // Schoolbook on 16-bit digits; each line is < 2^32, so exact in f64 and u32.
  const t = a1 * b0 + ((a0 * b0) >>> 16);
  const w = (t & 0xffff) + a0 * b1;
  return (a1 * b1 + (t >>> 16) + (w >>> 16)) >>> 0;
}

/** Ten Philox rounds on counter (c0..c3) with key (k0, k1); writes 4 words. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  c0 >>>= 0; c1 >>>= 0; c2 >>>= 0; c3 >>>= 0; k0 >>>= 0; k1 >>>= 0;
  for (let r = 0; r < 10; r++) {
    if (r > 0) {
      // Weyl key schedule: the key is bumped before every round but the first.
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const hi0 = mulhi(M0, c0), lo0 = Math.imul(M0, c0) >>> 0;
    const hi1 = mulhi(M1, c2), lo1 = Math.imul(M1, c2) >>> 0;
    const n0 = (hi1 ^ c1 ^ k0) >>> 0;
    const n2 = (hi0 ^ c3 ^ k1) >>> 0;
    c0 = n0; c1 = lo1; c2 = n2; c3 = lo0;
  }
  out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}

// One block of output is cached: consecutive elements share a counter block
// (4 lanes for uniform, 2 for normal), so a sequential sweep runs Philox once
// per block instead of once per element. Keyed on the full Philox input.
const block = new Uint32Array(4);
let cc0 = -1, cc1 = -1, cc2 = -1, cc3 = -1, ck0 = -1, ck1 = -1;

function draw(seed: number, c0: number, salt: number, step: number, iter: number): Uint32Array {
  // The seed may exceed 32 bits (JS numbers are exact to 2^53): its high
  // part goes into the second key word.
  const k0 = seed >>> 0;
  const k1 = (W0 ^ Math.floor(seed / 4294967296)) >>> 0;
  c0 >>>= 0; const c1 = salt >>> 0, c2 = step >>> 0, c3 = iter >>> 0;
  if (c0 !== cc0 || c1 !== cc1 || c2 !== cc2 || c3 !== cc3 || k0 !== ck0 || k1 !== ck1) {
    philox4x32(c0, c1, c2, c3, k0, k1, block);
    cc0 = c0; cc1 = c1; cc2 = c2; cc3 = c3; ck0 = k0; ck1 = k1;
  }
  return block;
}

/** The raw 32-bit word for element i (lane i & 3 of block i >>> 2). */
export function uint32(seed: number, salt: number, step: number, iter: number, i: number): number {
  return draw(seed, i >>> 2, salt, step, iter)[i & 3]!;
}

const TWO_M24 = 1 / 16777216;

/** Uniform in [0, 1): the top 24 bits, so the value is exact in f32 and
 * never rounds up to 1 (which (x / 2^32) in f32 would). */
export function uniform(seed: number, salt: number, step: number, iter: number, i: number): number {
  return (draw(seed, i >>> 2, salt, step, iter)[i & 3]! >>> 8) * TWO_M24;
}

/** Standard normal by Box-Muller on lanes 0 and 1 of block i >>> 1; even i
 * takes the cosine, odd i the sine of the same pair. */
export function normal(seed: number, salt: number, step: number, iter: number, i: number): number {
  const x = draw(seed, i >>> 1, salt, step, iter);
  // u1 in (0, 1]: log(0) would give an infinite radius.
  const u1 = ((x[0]! >>> 8) + 1) * TWO_M24;
  const u2 = (x[1]! >>> 8) * TWO_M24;
  const r = Math.sqrt(-2 * Math.log(u1));
  const a = 2 * Math.PI * u2;
  return (i & 1) === 0 ? r * Math.cos(a) : r * Math.sin(a);
}

/** Fisher-Yates permutation of 0..n-1 into out[0..n), a pure function of
 * (seed, salt). floor(u * (j + 1)) with u < 1 is always <= j. */
/** The iteration counter reserved for permutations (see shuffle). */
export const SHUFFLE_ITER = 0xffffffff;

export function shuffle(seed: number, salt: number, n: number, out: Int32Array): void {
  for (let k = 0; k < n; k++) out[k] = k;
  for (let j = n - 1; j > 0; j--) {
    // iter = 0xFFFFFFFF: graph random ops use iter = scan step (small), so a
    // permutation never shares a stream with a random op of the model.
    const p = Math.floor(uniform(seed, salt, 0, SHUFFLE_ITER, j) * (j + 1));
    const t = out[j]!;
    out[j] = out[p]!;
    out[p] = t;
  }
}
