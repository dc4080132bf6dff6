// The LSTM (lstm, bench/peers/lstm.ts) in jax-js: the minibatch loss as a
// pure function of the parameters, jax.valueAndGrad of it and the Adadelta
// update (written out with jax.tree-style maps: jax-js has no optax) in one
// function, under jax.jit (or op by op for the jax-eager row).
//
// jax-js 0.1.25 has no lax.scan (nor fori_loop), so the recurrence is a JS
// loop that jit traces and unrolls: a traced program has its number of
// steps baked in and jit compiles one program per input shape. The LSTM's
// mask makes padding exact (a padded word keeps h and c and adds nothing
// to the mean), so the jit row pads each minibatch's scan to a multiple of
// BUCKET steps: the bench's 20 minibatches run 28–47 steps, 3 buckets of 8
// (32, 40, 48) against 15 distinct lengths. jax-eager runs each minibatch
// at its own longest sentence (nothing to compile).
//
// Arrays are reference counted and every op consumes its operands, so an
// array read more than once carries `.ref` per extra read (see jax.ts).
import type * as JAX from "@jax-js/jax";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import { embScale, oneHotLabels, timeMajor } from "./lstm.ts";
import type { StepRunner } from "./peer.ts";

type Jax = typeof JAX;
type Arr = JAX.Array;
type Params = Record<string, Arr>;

/** Bucket width of the jit row: each minibatch's scan is padded to the next
 * multiple of this many steps (capped at the spec's maxlen). */
export const LSTM_BUCKET = 8;

export function jaxLstmRunner(jax: Jax, model: LstmModel, batches: readonly LstmBatch[], jitted: boolean): StepRunner {
  const np = jax.numpy;
  const { batchSize: B, hidden: H, classes, maxLength, rho, eps } = model;
  const width = jitted ? LSTM_BUCKET : 1;
  const data = batches.map((b) => {
    const T = Math.min(maxLength, Math.ceil(b.steps / width) * width);
    // Steps past the batch's longest sentence get mask 0: they keep the state.
    const { words, mask } = timeMajor(b, B, maxLength, T);
    // The word mask times the embeddings' dropout scale, [T·B, dim].
    const scale = embScale(b, model, T);
    for (let r = 0; r < T * B; r++) for (let d = 0; d < model.dim; d++) scale[r * model.dim + d]! *= mask[r]!;
    const count = new Float32Array(B);
    for (let n = 0; n < B; n++) count[n] = b.length[n]!;
    return {
      words: np.array(words, { dtype: np.int32 }),
      masks: np.array(mask).reshape([T, B, 1]),
      embMask: np.array(scale).reshape([T * B, model.dim]),
      count: np.array(count).reshape([B, 1]),
      keep: np.array(b.keep.map((k) => k / (1 - model.dropout))).reshape([B, H]),
      gold: np.array(oneHotLabels(b.label, classes)).reshape([B, classes]),
    };
  });
  let params: Params = {};
  for (const [name, { shape, data: values }] of Object.entries(model.params)) params[name] = np.array(values.slice()).reshape([...shape]);
  // Adadelta's accumulators of squared gradients (a) and updates (d).
  let acc: Params = {};
  let upd: Params = {};
  for (const [name, { shape }] of Object.entries(model.params)) {
    acc[name] = np.zeros([...shape]);
    upd[name] = np.zeros([...shape]);
  }

  const loss = (p: Params, words: Arr, masks: Arr, embMask: Arr, count: Arr, keep: Arr, gold: Arr): Arr => {
    const T = masks.shape[0]!;
    // The input projection of every word at once (it does not depend on the
    // state), time-major [T, B, 4H].
    // The gathered rows times the word mask (0 only on padding, whose
    // steps are masked anyway) and the embeddings' dropout scale: jax-js
    // 0.1.25's jit fails on a scatter (the gather's gradient) whose
    // cotangent is a view ("routine primitive scatter input is not imm"), as
    // in jax-rnn.ts; the product is not one.
    const x = np.take(p.Wemb!, words, 0).mul(embMask);
    const xw = np.dot(x, p.lstm_W!).add(p.lstm_b!).reshape([T, B, 4 * H]);
    let h = np.zeros([B, H]);
    let c = np.zeros([B, H]);
    let sum: Arr | undefined;
    for (let t = 0; t < T; t++) {
      const m = masks.ref.slice(t); // [B, 1]
      const pre = xw.ref.slice(t).add(np.dot(h.ref, p.lstm_U!.ref));
      const i = jax.nn.sigmoid(pre.ref.slice([], [0, H]));
      const f = jax.nn.sigmoid(pre.ref.slice([], [H, 2 * H]));
      const o = jax.nn.sigmoid(pre.ref.slice([], [2 * H, 3 * H]));
      const g = np.tanh(pre.slice([], [3 * H, 4 * H]));
      const notM = m.ref.mul(-1).add(1);
      // A padded word (m = 0) keeps the state, as the spec's body.
      c = m.ref.mul(f.mul(c.ref).add(i.mul(g))).add(notM.ref.mul(c));
      h = m.ref.mul(o.mul(np.tanh(c.ref))).add(notM.mul(h));
      const hm = h.ref.mul(m);
      sum = sum ? sum.add(hm) : hm;
    }
    h.dispose();
    c.dispose();
    xw.dispose();
    masks.dispose();
    p.lstm_U!.dispose();
    // The mean over the words, inverted dropout (keep already / (1 − p)),
    // the softmax layer and the NLL's mean over the batch.
    const proj = sum!.div(count);
    const logp = jax.nn.logSoftmax(np.dot(proj.mul(keep), p.U!).add(p.b!), -1);
    return logp.mul(gold).sum().mul(-1 / B);
  };
  const update = (p: Params, a: Params, d: Params, words: Arr, masks: Arr, embMask: Arr, count: Arr, keep: Arr, gold: Arr): [Arr, Params, Params, Params] => {
    const [cost, grads] = jax.valueAndGrad(loss)(jax.tree.ref(p), words, masks, embMask, count, keep, gold);
    const g = grads as Params;
    const np2: Params = {};
    const na: Params = {};
    const nd: Params = {};
    for (const name of Object.keys(p)) {
      const gi = g[name]!;
      // a ← ρa + (1−ρ)g²;  Δ = √((d+ε)/(a+ε))·g;  d ← ρd + (1−ρ)Δ²;  p ← p − Δ.
      na[name] = a[name]!.mul(rho).add(gi.ref.mul(gi.ref).mul(1 - rho));
      const delta = np.sqrt(d[name]!.ref.add(eps).div(na[name]!.ref.add(eps))).mul(gi);
      nd[name] = d[name]!.mul(rho).add(delta.ref.mul(delta.ref).mul(1 - rho));
      np2[name] = p[name]!.sub(delta);
    }
    return [cost, np2, na, nd];
  };
  const trainStep = jitted ? jax.jit(update) : Object.assign(update, { dispose: () => {} });
  let k = 0;
  return {
    step: async () => {
      const { words, masks, embMask, count, keep, gold } = data[k++ % data.length]!;
      const [cost, p, a, d] = trainStep(params, acc, upd, words.ref, masks.ref, embMask.ref, count.ref, keep.ref, gold.ref);
      params = p;
      acc = a;
      upd = d;
      const value = cost.dataSync()[0]!;
      await jax.blockUntilReady(params);
      return value;
    },
    dispose: () => {
      jax.tree.dispose([params, acc, upd]);
      for (const d of data) for (const x of [d.words, d.masks, d.embMask, d.count, d.keep, d.gold]) x.dispose();
      trainStep.dispose();
    },
  };
}
