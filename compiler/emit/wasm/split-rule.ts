// Which matrix products a model shares with the CPU runtime's helper thread
// (runtime/cpu/threads.ts), decided here at compile time from the product's
// static shape and written into its call (`split: true`). A model whose
// calls split nothing, and has no convolution split by images, runs on one
// thread (compiler/emit/ts/module.ts): it never starts the helper.
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
//   depends on the data, so halves by rows would be unequal: never split.

/** Fewest multiply-adds (m·n·k) of a product worth splitting. */
export const MIN_SPLIT_WORK = 1 << 21;

/** Shallowest product (k) worth splitting. */
export const MIN_SPLIT_DEPTH = 192;

/** Whether the runtime may share this product with its helper thread (when
 * the model runs two). The runtime halves C by rows in whole 4-row tiles
 * from 8 rows up, else by columns in whole 8-column tiles: below 8 rows
 * there must be at least 16 columns. */
export function splitsProduct(m: number, n: number, k: number, skipZerosA: boolean): boolean {
  if (skipZerosA || k < MIN_SPLIT_DEPTH || m * n * k < MIN_SPLIT_WORK) return false;
  return m >= 8 || n >= 16;
}
