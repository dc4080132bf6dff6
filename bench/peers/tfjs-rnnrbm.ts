// The RNN-RBM (rnnrbm, bench/peers/rnnrbm.ts) in TensorFlow.js, as a user of
// its core API writes the training step: eager ops on the gradient tape.
// Per step, on a piece of L frames:
//   - v·Wvu for all frames in one matMul (it does not depend on the state);
//   - the RNN, a JS loop of L × (u·Wuv, u·Wuh, u·Wuu, tanh), its biases
//     stacked into bv_all [L, 88] and bh_all [L, 150];
//   - CD-15: 15 × (matMul [L, 88]·[88, 150], sample, matMul by Wᵀ, sample)
//     on all frames at once; a sample is tf.step(p − U) with U the uniforms
//     the generated trainer draws (handed in with the piece), i.e. [U < p];
//   - the free energies of the data and of the chain's end, the cost, and
//     the monitor (the spec's reported figure, read back with dataSync,
//     which also waits for the step);
//   - tf.variableGrads, then SGD (w ← w − lr·g).
//
// stop_gradient: tfjs 4.22 has no such op. The chain runs on detached
// copies of bv_all, bh_all and W (tf.tensor of their values: a read-back of
// 100·238 + 88·150 floats, small beside the step), so its ops do not lie on
// the tape's path from the parameters to the cost and backprop skips them,
// as Theano's consider_constant / the spec's stop_gradient do. Sampling
// through the live tensors instead would backpropagate zeros through all
// 30 matMuls of the chain (tf.step's gradient is zeros, not nothing).
import type * as TF from "@tensorflow/tfjs";
import type { StepRunner } from "./peer.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";
import { frames } from "./rnnrbm.ts";

type Tf = typeof TF;

interface TfPiece {
  readonly length: number;
  /** [L, notes] the piece's frames. */
  readonly v: TF.Tensor2D;
  /** gibbs × [L, hidden] and gibbs × [L, notes] uniforms. */
  readonly uHidden: TF.Tensor2D[];
  readonly uVisible: TF.Tensor2D[];
  /** [L, hidden] the monitor's uniforms. */
  readonly uMonitor: TF.Tensor2D;
}

export function tfjsRnnRbmRunner(tf: Tf, model: RnnRbmModel, pieces: readonly RbmPiece[], backend: "cpu" | "wasm"): StepRunner {
  const { maxFrames: T, notes: N, hidden: H, recurrent: R, gibbs: K, lr } = model;
  const data: TfPiece[] = pieces.map((p) => {
    const L = p.length;
    const perStep = (u: Float32Array, width: number): TF.Tensor2D[] =>
      Array.from({ length: K }, (_, k) => tf.tensor2d(frames(u, L, width, k * T * width), [L, width]));
    return {
      length: L,
      v: tf.tensor2d(frames(p.roll, L, N), [L, N]),
      uHidden: perStep(p.uHidden, H),
      uVisible: perStep(p.uVisible, N),
      uMonitor: tf.tensor2d(frames(p.uMonitor, L, H), [L, H]),
    };
  });
  const tag = Math.random();
  const v = (name: string): TF.Variable => {
    const { data: values, shape } = model.params[name]!;
    return tf.variable(tf.tensor(values, [...shape]), true, `rnnrbm_${name}_${tag}`);
  };
  const p = { W: v("W"), bv: v("bv"), bh: v("bh"), Wuh: v("Wuh"), Wuv: v("Wuv"), Wvu: v("Wvu"), Wuu: v("Wuu"), bu: v("bu") };
  const vars = Object.values(p);
  const detach = <R extends TF.Rank>(t: TF.Tensor<R>): TF.Tensor<R> => tf.tensor(t.dataSync(), t.shape) as TF.Tensor<R>;
  /** [U < p] as 0/1. */
  const sample = (prob: TF.Tensor, u: TF.Tensor2D): TF.Tensor2D => tf.step(tf.sub(prob, u)) as TF.Tensor2D;
  /** Free energy per frame, [L]. */
  const freeEnergy = (x: TF.Tensor2D, W: TF.Tensor2D, bvAll: TF.Tensor2D, bhAll: TF.Tensor2D): TF.Tensor1D =>
    tf.neg(tf.add(tf.sum(tf.mul(x, bvAll), 1), tf.sum(tf.softplus(tf.add(tf.matMul(x, W), bhAll)), 1))) as TF.Tensor1D;

  // The monitor, read by `step` after the tape (it needs no gradient).
  let monitor: TF.Scalar | undefined;
  const loss = (s: TfPiece): TF.Scalar => {
    const L = s.length;
    const vu = tf.unstack(tf.matMul(s.v, p.Wvu)) as TF.Tensor1D[]; // L × [R]
    let u: TF.Tensor2D = tf.zeros([1, R]);
    const bvs: TF.Tensor2D[] = [];
    const bhs: TF.Tensor2D[] = [];
    for (let t = 0; t < L; t++) {
      // u is u_{t−1}: it sets the biases of frame t's RBM.
      bvs.push(tf.add(p.bv, tf.matMul(u, p.Wuv)) as TF.Tensor2D);
      bhs.push(tf.add(p.bh, tf.matMul(u, p.Wuh)) as TF.Tensor2D);
      u = tf.tanh(tf.add(tf.add(p.bu, vu[t]!), tf.matMul(u, p.Wuu))) as TF.Tensor2D;
    }
    const bvAll = tf.concat(bvs, 0);
    const bhAll = tf.concat(bhs, 0);
    // CD-15 on constants (see the header).
    const W = detach(p.W as TF.Tensor as TF.Tensor2D);
    const bvC = detach(bvAll);
    const bhC = detach(bhAll);
    let vk: TF.Tensor2D = s.v;
    for (let k = 0; k < K; k++) {
      const h = sample(tf.sigmoid(tf.add(tf.matMul(vk, W), bhC)), s.uHidden[k]!);
      vk = sample(tf.sigmoid(tf.add(tf.matMul(h, W, false, true), bvC)), s.uVisible[k]!);
    }
    const hm = sample(tf.sigmoid(tf.add(tf.matMul(vk, W), bhC)), s.uMonitor);
    const a = tf.add(tf.matMul(hm, W, false, true), bvC);
    // −(v·log σ(a) + (1−v)·log(1−σ(a))) = v·softplus(−a) + (1−v)·softplus(a).
    const nll = tf.add(tf.mul(s.v, tf.softplus(tf.neg(a))), tf.mul(tf.sub(1, s.v), tf.softplus(a)));
    // The spec's monitor is the log-likelihood: the negated NLL per frame.
    monitor = tf.keep(tf.div(tf.sum(nll), -L) as TF.Scalar);
    const Wv = p.W as TF.Tensor as TF.Tensor2D;
    return tf.div(tf.sum(tf.sub(freeEnergy(s.v, Wv, bvAll, bhAll), freeEnergy(vk, Wv, bvAll, bhAll))), L) as TF.Scalar;
  };

  let k = 0;
  return {
    step: () => {
      if (tf.getBackend() !== backend) throw new Error(`tfjs: active backend is ${tf.getBackend()}, expected ${backend}`);
      const s = data[k++ % data.length]!;
      const { value, grads } = tf.variableGrads(() => loss(s), vars);
      tf.tidy(() => {
        for (const w of vars) w.assign(tf.sub(w, tf.mul(grads[w.name]!, lr)));
      });
      tf.dispose(Object.values(grads));
      value.dispose();
      const reported = monitor!.dataSync()[0]!;
      monitor!.dispose();
      return reported;
    },
    liveTensors: () => tf.memory().numTensors,
    dispose: () => {
      for (const d of data) tf.dispose([d.v, ...d.uHidden, ...d.uVisible, d.uMonitor]);
      tf.dispose(vars);
    },
  };
}
