// The LSTM (lstm, bench/peers/lstm.ts) in TensorFlow.js, as a user of its
// core API writes a custom recurrent training loop: eager ops recorded on
// the gradient tape, each minibatch run for exactly its longest sentence's
// steps (nothing to recompile). Per step:
//   - the embedding lookup of all T·16 words in one tf.gather (time-major);
//   - their input projection x·W + b in one matMul (it does not depend on
//     the state), unstacked into T rows of [16, 512];
//   - the recurrence, a JS loop of T × (matMul h·U, add, split into the
//     four gates, sigmoid / tanh, the cell and state updates with the mask
//     keeping h and c on padded words);
//   - the masked mean of the states, the dropout mask (the step's, handed in
//     with the batch: bench/peers/lstm.ts) scaled by 1/(1 − p), the softmax
//     layer and the NLL;
//   - tf.variableGrads, then Adadelta written out (below);
//   - the cost read back (dataSync), which also waits for the step.
// (tf.layers.lstm in a layers model runs the same kind of loop underneath,
// but has no per-step mask that keeps the state; it masks by skipping.)
//
// Adadelta: tfjs 4.22's tf.train.adadelta divides by the accumulated
// squared gradient *before* this step's update (adadelta_optimizer.js:
// `sqrt(accumulatedGrad + ε)` with the old accumulator, the new one only
// assigned after), where Zeiler's Adadelta, lstm.py and the spec use the
// updated one. On the first step that makes its update the raw gradient
// (√ε/√ε · g) instead of ~√(ε/(0.05 g²))·g: a different optimizer, and the
// costs part from the second step. So the update is written here with the
// same ops tf.train.adadelta runs, in the spec's order.
//
// The wasm backend has no UnsortedSegmentSum kernel (tf.gather's
// gradient), so there the lookup is a tf.customGrad whose gradient is a
// ScatterNd (as in tfjs-rnn.ts); the cpu backend keeps tf.gather's own
// gradient, whose UnsortedSegmentSum loops over all 10,000 embedding rows.
import type * as TF from "@tensorflow/tfjs";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import { embScale, oneHotLabels, timeMajor } from "./lstm.ts";
import type { StepRunner } from "./peer.ts";
import { gatherScatterGrad } from "./tfjs-rnn.ts";

type Tf = typeof TF;

interface TfBatch {
  /** [T·batch] word ids, time-major. */
  readonly words: TF.Tensor1D;
  /** T masks of [batch, 1]. */
  readonly masks: TF.Tensor2D[];
  /** Σ_t mask [batch, 1]: the mean's divisor. */
  readonly count: TF.Tensor2D;
  /** The step's dropout keep mask / (1 − p), [batch, hidden]. */
  readonly keep: TF.Tensor2D;
  /** The embeddings' keep mask / (1 − p), [T·batch, dim] (ones without embedding dropout). */
  readonly embKeep: TF.Tensor2D;
  /** One-hot labels [batch, classes]. */
  readonly gold: TF.Tensor2D;
  readonly steps: number;
}

/** The spec's Adadelta on one variable, in place (Zeiler's order, as
 * lstm.py: the accumulator takes this step's gradient before it divides):
 *   a ← ρa + (1−ρ)g²;  Δ = √((d+ε)/(a+ε))·g;  d ← ρd + (1−ρ)Δ²;  w ← w − Δ. */
export function adadeltaAssign(tf: Tf, w: TF.Variable, g: TF.Tensor, acc: { readonly a: TF.Variable; readonly d: TF.Variable }, rho: number, eps: number): void {
  const { a, d } = acc;
  a.assign(tf.add(tf.mul(a, rho), tf.mul(tf.square(g), 1 - rho)));
  const delta = tf.mul(tf.div(tf.sqrt(tf.add(d, eps)), tf.sqrt(tf.add(a, eps))), g);
  d.assign(tf.add(tf.mul(d, rho), tf.mul(tf.square(delta), 1 - rho)));
  w.assign(tf.sub(w, delta));
}

export function tfjsLstmRunner(tf: Tf, model: LstmModel, batches: readonly LstmBatch[], backend: "cpu" | "wasm"): StepRunner {
  const { batchSize: B, hidden: H, classes, maxLength, rho, eps } = model;
  const data: TfBatch[] = batches.map((b) => {
    const { words, mask } = timeMajor(b, B, maxLength);
    const m = tf.tensor3d(mask, [b.steps, B, 1]);
    const masks = tf.unstack(m) as TF.Tensor2D[];
    const count = tf.sum(m, 0) as TF.Tensor2D;
    m.dispose();
    const keep = tf.tensor2d(b.keep.map((k) => k / (1 - model.dropout)), [B, H]);
    const embKeep = tf.tensor2d(embScale(b, model), [b.steps * B, model.dim]);
    return { words: tf.tensor1d(words, "int32"), masks, count, keep, embKeep, gold: tf.tensor2d(oneHotLabels(b.label, classes), [B, classes]), steps: b.steps };
  });
  const tag = Math.random();
  const v = (name: string): TF.Variable => {
    const { data: values, shape } = model.params[name]!;
    return tf.variable(tf.tensor(values, [...shape]), true, `lstm_${name}_${tag}`);
  };
  const p = { Wemb: v("Wemb"), W: v("lstm_W"), U4: v("lstm_U"), b4: v("lstm_b"), U: v("U"), b: v("b") };
  const vars = Object.values(p);
  // Adadelta's two accumulators per parameter, zero at the start.
  const acc = vars.map((w) => ({ a: tf.variable(tf.zerosLike(w), false), d: tf.variable(tf.zerosLike(w), false) }));
  const emb = p.Wemb as TF.Tensor as TF.Tensor2D;
  const lookup = (words: TF.Tensor1D): TF.Tensor2D => (backend === "wasm" ? gatherScatterGrad(tf, emb, words) : tf.gather(emb, words));

  const loss = (s: TfBatch): TF.Scalar => {
    const T = s.steps;
    const xw = tf.add(tf.matMul(tf.mul(lookup(s.words), s.embKeep), p.W), p.b4); // [T·B, 4H]
    const rows = tf.unstack(tf.reshape(xw, [T, B, 4 * H])) as TF.Tensor2D[];
    let h: TF.Tensor2D = tf.zeros([B, H]);
    let c: TF.Tensor2D = tf.zeros([B, H]);
    const kept: TF.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      const m = s.masks[t]!;
      const [i, f, o, g] = tf.split(tf.add(rows[t]!, tf.matMul(h, p.U4)), 4, 1) as TF.Tensor2D[];
      const cNew = tf.add(tf.mul(tf.sigmoid(f!), c), tf.mul(tf.sigmoid(i!), tf.tanh(g!)));
      const notM = tf.sub(1, m);
      // A padded word (m = 0) keeps the state, as the spec's body.
      c = tf.add(tf.mul(m, cNew), tf.mul(notM, c));
      h = tf.add(tf.mul(m, tf.mul(tf.sigmoid(o!), tf.tanh(c))), tf.mul(notM, h));
      kept.push(tf.mul(h, m));
    }
    const proj = tf.div(tf.addN(kept), s.count);
    const logits = tf.add(tf.matMul(tf.mul(proj, s.keep), p.U), p.b);
    // −mean log softmax at the label (the spec's NLL of the softmax).
    return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), s.gold))), B) as TF.Scalar;
  };

  let k = 0;
  return {
    step: () => {
      if (tf.getBackend() !== backend) throw new Error(`tfjs: active backend is ${tf.getBackend()}, expected ${backend}`);
      const s = data[k++ % data.length]!;
      const { value, grads } = tf.variableGrads(() => loss(s), vars);
      tf.tidy(() => {
        vars.forEach((w, j) => {
          const g = grads[w.name]!;
          adadeltaAssign(tf, w, g, acc[j]!, rho, eps);
        });
      });
      tf.dispose(Object.values(grads));
      const cost = value.dataSync()[0]!;
      value.dispose();
      return cost;
    },
    liveTensors: () => tf.memory().numTensors,
    dispose: () => {
      for (const d of data) tf.dispose([d.words, ...d.masks, d.count, d.keep, d.embKeep, d.gold]);
      tf.dispose(vars);
      tf.dispose(acc.flatMap(({ a, d }) => [a, d]));
    },
  };
}
