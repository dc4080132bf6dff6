// The Elman RNN (rnnslu, bench/peers/rnn.ts) in TensorFlow.js, as a user of
// its core API writes a custom recurrent training loop: eager ops recorded
// on the gradient tape, so each sentence runs exactly its own length (no
// padding, nothing to recompile). Per step:
//   - the embedding lookup, tf.gather of the sentence's context windows;
//   - the input projection x·Wx + bh of all T words in one matMul (it does
//     not depend on the state), split into rows;
//   - the recurrence, a JS loop of T matMul + add + sigmoid on [1, 200];
//   - the output layer and log-softmax of all T states in one matMul;
//   - optimizer.minimize (tf.train.sgd) on the seven variables, then the
//     embedding rows renormalised with an assign in a tidy scope;
//   - the cost read back (dataSync), which also waits for the step.
// (tf.layers.simpleRNN in a layers model would run the same kind of loop
// underneath, with the layers API's bookkeeping on top.)
//
// The wasm backend has no UnsortedSegmentSum kernel, which tf.gather's
// gradient uses (tfjs-backend-wasm 4.22), so there the lookup is a
// tf.customGrad whose gradient scatters the window rows' gradients back
// with the backend's ScatterNd (which sums repeated indices). The cpu
// backend keeps tf.gather's own gradient, though its UnsortedSegmentSum
// loops over all 573 embedding rows with four ops each (equal, cast, mul,
// sum over the sentence's window rows): most of that row's step time. The
// ScatterNd route measured ~8× faster there; it is not used, the row
// being the library as it comes (docs/performance.md gives both).
import type * as TF from "@tensorflow/tfjs";
import type { StepRunner } from "./peer.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import { cutSentence, oneHotRows } from "./rnn.ts";

type Tf = typeof TF;

/** emb[words] with a ScatterNd gradient (the wasm backend's workaround; the
 * LSTM peer uses it too). */
export function gatherScatterGrad(tf: Tf, emb: TF.Tensor2D, words: TF.Tensor1D): TF.Tensor2D {
  type Arg = TF.Tensor | TF.GradSaveFunc;
  const f = tf.customGrad((...args: Arg[]) => {
    const e = args[0] as TF.Tensor2D;
    return {
      value: tf.gather(e, words),
      gradFunc: (dy: TF.Tensor) => [tf.scatterND(tf.reshape(words, [-1, 1]), dy, e.shape)],
    };
  });
  return f(emb) as TF.Tensor2D;
}

interface TfSentence {
  readonly words: TF.Tensor1D;
  /** One-hot labels [T, classes]. */
  readonly gold: TF.Tensor2D;
  readonly length: number;
}

export function tfjsRnnRunner(tf: Tf, model: RnnModel, sentences: readonly Sentence[], backend: "cpu" | "wasm"): StepRunner {
  const { window, dim, classes } = model;
  const data: TfSentence[] = sentences.map((s) => {
    const { words, labels } = cutSentence(s, window);
    return { words: tf.tensor1d(words, "int32"), gold: tf.tensor2d(oneHotRows(labels, classes), [s.length, classes]), length: s.length };
  });
  const tag = Math.random();
  const v = (name: string): TF.Variable => {
    const { data: values, shape } = model.params[name]!;
    return tf.variable(tf.tensor(values, [...shape]), true, `rnnslu_${name}_${tag}`);
  };
  const p = { emb: v("emb"), Wx: v("Wx"), Wh: v("Wh"), W: v("W"), bh: v("bh"), b: v("b"), h0: v("h0") };
  const vars = Object.values(p);
  const emb = p.emb as TF.Tensor as TF.Tensor2D;
  const lookup = (words: TF.Tensor1D): TF.Tensor2D => (backend === "wasm" ? gatherScatterGrad(tf, emb, words) : tf.gather(emb, words));

  const loss = (s: TfSentence): TF.Scalar => {
    const T = s.length;
    const x = tf.reshape(lookup(s.words), [T, window * dim]);
    const rows = tf.split(tf.add(tf.matMul(x, p.Wx), p.bh), T, 0);
    let h: TF.Tensor = p.h0;
    const states: TF.Tensor[] = [];
    for (let t = 0; t < T; t++) {
      h = tf.sigmoid(tf.add(rows[t]!, tf.matMul(h, p.Wh)));
      states.push(h);
    }
    const logits = tf.add(tf.matMul(tf.concat(states, 0), p.W), p.b);
    // −mean over the words of log softmax at the label (the spec's NLL).
    return tf.div(tf.neg(tf.sum(tf.mul(tf.logSoftmax(logits), s.gold))), T) as TF.Scalar;
  };

  const opt = tf.train.sgd(model.lr);
  let k = 0;
  return {
    step: () => {
      if (tf.getBackend() !== backend) throw new Error(`tfjs: active backend is ${tf.getBackend()}, expected ${backend}`);
      const s = data[k++ % data.length]!;
      const cost = opt.minimize(() => loss(s), true, vars)!;
      // The spec's after_update: every embedding row to unit length.
      tf.tidy(() => {
        p.emb.assign(tf.div(p.emb, tf.sqrt(tf.sum(tf.square(p.emb), 1, true))));
      });
      const value = cost.dataSync()[0]!;
      cost.dispose();
      return value;
    },
    liveTensors: () => tf.memory().numTensors,
    dispose: () => {
      for (const d of data) tf.dispose([d.words, d.gold]);
      tf.dispose(vars);
      opt.dispose();
    },
  };
}
