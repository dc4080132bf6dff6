// Max-pooling windows with ties, made by hand, and the gradient the ops
// promise for them: each window's cotangent at the FIRST of its maxima in
// window order (row-major within the window), zero everywhere else. Blank
// MNIST patches are full of such windows (all four pixels 0).
//
// Every window holds one "tie set" (two or more of its positions share the
// maximum; the others are lower), chosen so that each set lands on each
// column of the plane (hence on each lane of the wasm 2×2 vector path, which
// does four windows at once, and on its scalar tail) and on each plane and
// row. Three kinds of values: a positive maximum, a negative one, and a zero
// maximum spelled −0 and +0 (equal under <, so still a tie).

import { fromArray, type Tensor } from "../../compiler/ir/tensor.ts";
import type { Shape } from "../../compiler/ir/types.ts";

/** Subsets of the window's positions 0..n−1 with at least two elements:
 * all of them for n ≤ 4, else every pair and the whole window. */
export function tieSets(n: number): number[][] {
  const sets: number[][] = [];
  if (n <= 4) {
    for (let mask = 0; mask < 1 << n; mask++) {
      const s = [...Array(n).keys()].filter((k) => mask & (1 << k));
      if (s.length >= 2) sets.push(s);
    }
  } else {
    for (let a = 0; a < n; a++) for (let b = a + 1; b < n; b++) sets.push([a, b]);
    sets.push([...Array(n).keys()]);
  }
  return sets;
}

export interface TieWindows {
  /** The pooled input [1, C, H, W]. */
  readonly x: Tensor;
  /** The cotangent [1, C, Ho, Wo]: window k (row-major) holds k + 1. */
  readonly ct: Tensor;
  /** The gradient, by hand: ct at each window's first maximum. */
  readonly want: number[];
  /** Windows per tie set, to show each set was used. */
  readonly uses: number[];
}

/** Windows of ph×pw with ties, Ho × Wo windows a plane, as many planes as
 * tie sets, plus `extraRows` and `extraCols` of 9s no window covers (they
 * must get 0). */
export function tieWindows(ph: number, pw: number, Ho: number, Wo: number, extraRows = 0, extraCols = 0): TieWindows {
  const sets = tieSets(ph * pw);
  const C = sets.length;
  const H = Ho * ph + extraRows;
  const W = Wo * pw + extraCols;
  const x = new Array<number>(C * H * W).fill(9);
  const ct = new Array<number>(C * Ho * Wo).fill(0);
  const want = new Array<number>(C * H * W).fill(0);
  const uses = new Array<number>(C).fill(0);
  for (let c = 0; c < C; c++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        const k = (c * Ho + i) * Wo + j;
        const s = (c + 3 * i + j) % C;
        const kind = (c + i + j) % 3;
        const set = sets[s]!;
        uses[s]!++;
        ct[k] = k + 1;
        for (let a = 0; a < ph; a++)
          for (let b = 0; b < pw; b++) {
            const pos = a * pw + b;
            const at = (c * H + i * ph + a) * W + j * pw + b;
            const inSet = set.includes(pos);
            const rank = set.indexOf(pos);
            // kind 0: maximum 0.75, others below it; kind 1: maximum −0.25;
            // kind 2: maximum ±0 (−0 first, then +0 and −0 alternating).
            if (kind === 0) x[at] = inSet ? 0.75 : -1.5 + 0.25 * pos;
            else if (kind === 1) x[at] = inSet ? -0.25 : -2 - 0.5 * pos;
            else x[at] = inSet ? (rank % 2 === 0 ? -0 : 0) : -1 - pos;
          }
        const first = set[0]!;
        want[(c * H + i * ph + Math.floor(first / pw)) * W + j * pw + (first % pw)] = k + 1;
      }
  const xs: Shape = [1, C, H, W];
  return { x: fromArray(xs, "f64", x), ct: fromArray([1, C, Ho, Wo], "f64", ct), want, uses };
}
