// Which matrix products a model shares with the CPU runtime's helper thread
// (runtime/cpu/threads.ts), decided here at compile time from the product's
// static shape and written into its call (`split: true`), and whether a
// model runs two threads at all (`twoThreadsPay`, asked by
// compiler/emit/ts/module.ts): one that does not never starts the helper.
//
// Measured on the 2-core build machine (docs/performance.md, "Threads"):
// - A wake-up of the helper and the handshake cost microseconds even while
//   it spins, and the half of C it writes sits dirty in the other core's
//   cache, ~4 ns a float for whoever reads it next. Splitting pays only
//   when each half is long: the LSTM's 16×128×512 products inside its time
//   loop (2^20 multiply-adds) made its step 15 % slower split; logistic
//   regression's 600×10×784 (2^22) and the RBM's 20×500×784 products
//   (2^23) made theirs 22 % and 33 % faster.
// - Shallow products (k < 192: the gradients of batch-20 models, k = 20)
//   write a large C from little work: the MLP's weight update after a split
//   784×500×20 gradient product took 2.0 ms instead of 0.55 ms.
// - The zero-skipping kernels (compiler/emit/wasm/sparse.ts) do work that
//   depends on the data, so halves by rows would be unequal: they split by
//   columns only (splitsSparseProduct).

/** Fewest multiply-adds (m·n·k) of a product worth splitting. */
export const MIN_SPLIT_WORK = 1 << 21;

/** Shallowest product (k) worth splitting. */
export const MIN_SPLIT_DEPTH = 192;

/** Whether the runtime may share this product with its helper thread (when
 * the model runs two). The runtime halves C by columns in whole 8-column
 * tiles when it has under 64 rows and at least 16 columns, else by rows in
 * whole 4-row tiles: it needs 16 columns or 8 rows. */
export function splitsProduct(m: number, n: number, k: number): boolean {
  if (k < MIN_SPLIT_DEPTH || m * n * k < MIN_SPLIT_WORK) return false;
  return m >= 8 || n >= 16;
}

/** Whether a product that skips A's zeros (compiler/emit/wasm/sparse.ts) is
 * shared: by columns only (each thread reads the same lists of A's
 * non-zeros), in whole 32-column strips, so C needs 64 columns; the work
 * threshold is the dense kernels' (when A is dense enough the runtime splits
 * the dense kernel instead). */
export function splitsSparseProduct(m: number, n: number, k: number): boolean {
  return n >= 64 && k >= MIN_SPLIT_DEPTH && m * n * k >= MIN_SPLIT_WORK;
}

/** The share of a dense product's work a zero-skipping product is expected
 * to do, for the thread decision (the runtime decides per call from the
 * count): a data input's or a corrupted input's pixels are ~19 % non-zero
 * on MNIST, and skipping costs about a multiply-add's worth more per
 * non-zero; a 0/1 sample is near half ones at first and its terms are adds
 * only. newmu-net's 128×625×784 product of pixels, split, gained nothing
 * (whole runs, paired: 1.02× the one-thread time) while counted whole it
 * had asked for two threads. */
export const SPARSE_WORK_SHARE = { values: 0.25, binary: 0.5 } as const;

/** What one training step would share with the helper thread (tallied by
 * compiler/emit/ts/render.ts as it renders the step). */
export interface SplitWork {
  /** Multiply-adds of the products marked split, a scan's steps counted. */
  readonly madds: number;
  /** Floats of the parameters those products read or write. */
  readonly paramFloats: number;
  /** Convolutions split by images (convBlock, fullConv). */
  readonly imageSplits: boolean;
}

/** Multiply-adds a thread does a nanosecond in these kernels (~40 GFLOP/s). */
const MADDS_PER_NS = 20;

/** Nanoseconds to move a float written by one core into the other's cache. */
const NS_PER_MOVED_FLOAT = 4;

/** Whether two threads pay for a step: convolutions split by images always
 * did (LeNet +19-25 %); otherwise the half of the split products' work the
 * helper takes must outweigh moving the helper's half of the parameters
 * those products read, which the main thread rewrites every step (the SGD
 * update runs on it), into the helper's cache. The dA, whose tied W
 * (392,000 floats) three split products read once each, ran 16 % slower on
 * two threads; the RBM, whose PCD-15 chain reads W thirty times a step,
 * ran 20 % faster; logistic regression's W is 7,840 floats. */
export function twoThreadsPay(w: SplitWork): boolean {
  if (w.imageSplits) return true;
  return w.madds / 2 / MADDS_PER_NS > (w.paramFloats / 2) * NS_PER_MOVED_FLOAT;
}
