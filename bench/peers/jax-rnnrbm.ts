// The RNN-RBM (rnnrbm, bench/peers/rnnrbm.ts) in jax-js: the CD loss as a
// pure function of the parameters, jax.grad of it (the monitor, the step's
// reported figure, as its aux output) and the SGD update in one function,
// under jax.jit (or op by op for the jax-eager row). The chain's end and the
// biases it samples with go through lax.stopGradient, as the spec's
// stop_gradient and rnnrbm.py's consider_constant.
//
// jax-js 0.1.25 has no lax.scan, so the RNN over the frames is a JS loop
// that jit traces and unrolls: one program per piece length. The mask makes
// padding exact (padded frames add nothing to the cost or the monitor, and
// the RNN only runs forward, so they never reach a real frame's biases), so
// the jit row pads each piece to a multiple of RBM_BUCKET frames: at most
// four programs for the 100-frame pieces. jax-eager runs each piece at its
// own length. Samples are [U < p] with the uniforms the generated trainer
// draws (handed in with the piece).
//
// Arrays are reference counted and every op consumes its operands, so an
// array read more than once carries `.ref` per extra read (see jax.ts).
import type * as JAX from "@jax-js/jax";
import type { StepRunner } from "./peer.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";
import { frames } from "./rnnrbm.ts";

type Jax = typeof JAX;
type Arr = JAX.Array;
type Params = Record<string, Arr>;

/** Frames per bucket of the jit row. */
export const RBM_BUCKET = 25;

export function jaxRnnRbmRunner(jax: Jax, model: RnnRbmModel, pieces: readonly RbmPiece[], jitted: boolean): StepRunner {
  const np = jax.numpy;
  const { maxFrames: T, notes: N, hidden: H, recurrent: R, gibbs: K, lr } = model;
  const width = jitted ? RBM_BUCKET : 1;
  const data = pieces.map((p) => {
    const L = Math.min(T, Math.ceil(p.length / width) * width);
    // The first L frames of each [K, T, ·] block of uniforms, as [K, L, ·].
    const cut = (u: Float32Array, w: number): Float32Array => {
      const out = new Float32Array(K * L * w);
      for (let k = 0; k < K; k++) out.set(frames(u, L, w, k * T * w), k * L * w);
      return out;
    };
    return {
      v: np.array(frames(p.roll, L, N)).reshape([L, N]),
      m: np.array(p.mask.slice(0, L)).reshape([L, 1]),
      uH: np.array(cut(p.uHidden, H)).reshape([K, L, H]),
      uV: np.array(cut(p.uVisible, N)).reshape([K, L, N]),
      uM: np.array(frames(p.uMonitor, L, H)).reshape([L, H]),
    };
  });
  let params: Params = {};
  for (const [name, { shape, data: values }] of Object.entries(model.params)) params[name] = np.array(values.slice()).reshape([...shape]);

  /** [U < p] as 0/1. */
  const sample = (prob: Arr, u: Arr): Arr => np.less(u, prob).astype(np.float32);

  const loss = (p: Params, v: Arr, m: Arr, uH: Arr, uV: Arr, uM: Arr): [Arr, Arr] => {
    const L = v.shape[0]!;
    // v·Wvu + bu for every frame at once (it does not depend on the state).
    const vu = np.dot(v.ref, p.Wvu!).add(p.bu!);
    let u = np.zeros([1, R]);
    const bvs: Arr[] = [];
    const bhs: Arr[] = [];
    for (let t = 0; t < L; t++) {
      // u is u_{t−1}: it sets the biases of frame t's RBM.
      bvs.push(np.dot(u.ref, p.Wuv!.ref));
      bhs.push(np.dot(u.ref, p.Wuh!.ref));
      u = np.tanh(vu.ref.slice(t).add(np.dot(u, p.Wuu!.ref)));
    }
    u.dispose();
    vu.dispose();
    p.Wuv!.dispose();
    p.Wuh!.dispose();
    p.Wuu!.dispose();
    const bvAll = np.concatenate(bvs, 0).add(p.bv!); // [L, N]
    const bhAll = np.concatenate(bhs, 0).add(p.bh!); // [L, H]
    // CD-15 on constants.
    const W = jax.lax.stopGradient(p.W!.ref);
    const Wt = jax.lax.stopGradient(p.W!.ref.transpose());
    const bvC = jax.lax.stopGradient(bvAll.ref);
    const bhC = jax.lax.stopGradient(bhAll.ref);
    let vk = v.ref;
    for (let k = 0; k < K; k++) {
      const h = sample(jax.nn.sigmoid(np.dot(vk, W.ref).add(bhC.ref)), uH.ref.slice(k));
      vk = sample(jax.nn.sigmoid(np.dot(h, Wt.ref).add(bvC.ref)), uV.ref.slice(k));
    }
    uH.dispose();
    uV.dispose();
    const count = m.ref.sum();
    // The monitor: the data's log-likelihood under one more Gibbs half-step
    // from the chain's end, per frame.
    const hm = sample(jax.nn.sigmoid(np.dot(vk.ref, W).add(bhC)), uM);
    const a = np.dot(hm, Wt).add(bvC);
    const nll = v.ref.mul(jax.nn.softplus(a.ref.mul(-1))).add(v.ref.mul(-1).add(1).mul(jax.nn.softplus(a)));
    const monitor = nll.mul(m.ref).sum().div(count.ref).mul(-1);
    // Σ_t m_t·(FE(v)_t − FE(v¹⁵)_t) / frames.
    const feData = v.ref.mul(bvAll.ref).sum(1).add(jax.nn.softplus(np.dot(v, p.W!.ref).add(bhAll.ref)).sum(1)).mul(-1);
    const feSample = vk.ref.mul(bvAll).sum(1).add(jax.nn.softplus(np.dot(vk, p.W!).add(bhAll)).sum(1)).mul(-1);
    const cost = feData.sub(feSample).mul(m.reshape([L])).sum().div(count);
    return [cost, monitor];
  };
  const update = (p: Params, v: Arr, m: Arr, uH: Arr, uV: Arr, uM: Arr): [Arr, Params] => {
    const [grads, monitor] = jax.grad(loss, { hasAux: true })(jax.tree.ref(p), v, m, uH, uV, uM);
    const g = grads as Params;
    const next: Params = {};
    for (const name of Object.keys(p)) next[name] = p[name]!.sub(g[name]!.mul(lr));
    return [monitor, next];
  };
  const trainStep = jitted ? jax.jit(update) : Object.assign(update, { dispose: () => {} });
  let k = 0;
  return {
    step: async () => {
      const { v, m, uH, uV, uM } = data[k++ % data.length]!;
      const [monitor, p] = trainStep(params, v.ref, m.ref, uH.ref, uV.ref, uM.ref);
      params = p;
      const value = monitor.dataSync()[0]!;
      await jax.blockUntilReady(params);
      return value;
    },
    dispose: () => {
      jax.tree.dispose(params);
      for (const d of data) for (const x of [d.v, d.m, d.uH, d.uV, d.uM]) x.dispose();
      trainStep.dispose();
    },
  };
}
