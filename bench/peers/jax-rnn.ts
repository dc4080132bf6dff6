// The Elman RNN (rnnslu, bench/peers/rnn.ts) in jax-js: the loss of one
// sentence as a pure function of the parameters, jax.valueAndGrad of it,
// the SGD update and the embedding rows' renormalisation in one function,
// under jax.jit (or op by op for the jax-eager row).
//
// jax-js 0.1.25 has no lax.scan (nor fori_loop), so the recurrence is a JS
// loop that jit traces and unrolls: the traced program has the sentence's
// length baked in, and jit compiles one program per input shape. The usual
// answers are to pad every sentence to the longest and mask, to pad to a
// few bucket lengths, or to let jit compile one program per length. All
// three are here (BUCKET: the bucket width; 1: the exact length, 46: pad
// everything): padded words get the padding word's windows, a zero input
// mask and zero one-hot label rows, so they add nothing to the loss, whose
// mean divides by Σ gold (the sentence's own length, as the spec's loss).
// jax-eager runs each sentence at its own length (nothing to compile).
//
// Parameters used more than once in the trace carry `.ref` per extra use
// (jax-js arrays are reference counted, see jax.ts).
import type * as JAX from "@jax-js/jax";
import type { StepRunner } from "./peer.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import { oneHotRows } from "./rnn.ts";

type Jax = typeof JAX;
type Arr = JAX.Array;
type Params = Record<string, Arr>;

/** Bucket width of the jit row: sentences are padded to the next multiple
 * (capped at the spec's 46). On the bench's 100 sentences (20 distinct
 * lengths, mean 11.1; 2 cores, load ~5) width 1 gave 122 sentences/s after
 * a first pass of 5.5 s (20 compilations), 4: 74/s, 8: 70/s (first pass
 * 3.9 s), 46: 25/s. ATIS has at most 45 lengths, so compiling each pays
 * off within a few hundred sentences of the 3,983 of an epoch. */
export const BUCKET = 1;

/** The padded length a sentence of `length` words runs at. */
function bucketOf(length: number, width: number, maxLength: number): number {
  return Math.min(maxLength, Math.ceil(length / width) * width);
}

export function jaxRnnRunner(jax: Jax, model: RnnModel, sentences: readonly Sentence[], jitted: boolean): StepRunner {
  const np = jax.numpy;
  const { window, dim, classes, lr } = model;
  // Eager: every sentence at its own length; jit: at its bucket's.
  const width = jitted ? BUCKET : 1;
  const data = sentences.map((s) => {
    const L = bucketOf(s.length, width, model.maxLength);
    // s.words is padded to the spec's 46 with the padding word already.
    // 1 on the window rows of the sentence's words, 0 on the padding's.
    const mask = new Float32Array(L * window).fill(1, 0, s.length * window);
    return {
      words: np.array(s.words.slice(0, L * window), { dtype: np.int32 }),
      mask: np.array(mask).reshape([L * window, 1]),
      gold: np.array(oneHotRows(s.labels.subarray(0, s.length), classes, L)).reshape([L, classes]),
    };
  });
  let params: Params = {};
  for (const [name, { shape, data: values }] of Object.entries(model.params)) params[name] = np.array(values.slice()).reshape([...shape]);

  const loss = (p: Params, words: Arr, mask: Arr, gold: Arr): Arr => {
    const L = gold.shape[0]!;
    // The mask right on the gathered rows also works around jax-js 0.1.25's
    // jit, which fails on a scatter (the gather's gradient) whose input is a
    // view ("routine primitive scatter input is not imm"): the cotangent
    // would be a reshape's, here it is the mask product's.
    const x = np.take(p.emb!, words, 0).mul(mask).reshape([L, window * dim]);
    // The input projection of every word at once (it does not depend on
    // the state), then the recurrence on [1, hidden] rows.
    const xw = np.dot(x, p.Wx!).add(p.bh!);
    let h = p.h0!;
    const states: Arr[] = [];
    for (let t = 0; t < L; t++) {
      h = jax.nn.sigmoid(xw.ref.slice([t, t + 1]).add(np.dot(h, p.Wh!.ref)));
      states.push(h.ref);
    }
    h.dispose();
    xw.dispose();
    p.Wh!.dispose();
    const logp = jax.nn.logSoftmax(np.dot(np.concatenate(states, 0), p.W!).add(p.b!), -1);
    // −Σ gold·log p / Σ gold: the mean over the sentence's words only.
    return logp.mul(gold.ref).sum().mul(-1).div(gold.sum());
  };
  const update = (p: Params, words: Arr, mask: Arr, gold: Arr): [Arr, Params] => {
    const [cost, grads] = jax.valueAndGrad(loss)(jax.tree.ref(p), words, mask, gold);
    const next = jax.tree.map((w: Arr, g: Arr) => w.sub(g.mul(lr)), p, grads as Params) as Params;
    // The spec's after_update: every embedding row to unit length.
    const e = next.emb!;
    next.emb = e.ref.div(np.sqrt(e.ref.mul(e).sum(1, { keepdims: true })));
    return [cost, next];
  };
  const trainStep = jitted ? jax.jit(update) : Object.assign(update, { dispose: () => {} });
  let k = 0;
  return {
    step: async () => {
      const { words, mask, gold } = data[k++ % data.length]!;
      const [cost, next] = trainStep(params, words.ref, mask.ref, gold.ref);
      params = next;
      const value = cost.dataSync()[0]!;
      await jax.blockUntilReady(params);
      return value;
    },
    dispose: () => {
      jax.tree.dispose(params);
      for (const d of data) {
        d.words.dispose();
        d.mask.dispose();
        d.gold.dispose();
      }
      trainStep.dispose();
    },
  };
}
