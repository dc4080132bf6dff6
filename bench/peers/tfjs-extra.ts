// da, dnn and rbm (bench/peers/mnist-extra.ts) in TensorFlow.js, as a user
// of its core API writes the step: eager ops on the gradient tape, the
// random ops applied with the masks or uniforms our trainer draws at that
// step (handed in, not drawn), tf.variableGrads, then SGD (da, rbm) or
// Adadelta written out (dnn: tfjs 4.22's tf.train.adadelta is not the
// spec's, see tfjs-lstm.ts). The RBM's PCD-15 chain runs outside the tape
// on copies of W and the biases (tfjs has no stop_gradient, as in
// tfjs-rnnrbm.ts); the step returns the pseudo-likelihood, as ours does.
import type * as TF from "@tensorflow/tfjs";
import type { ExtraBatch, ExtraModel } from "./mnist-extra.ts";
import type { StepRunner } from "./peer.ts";
import { oneHot } from "./peer.ts";
import { adadeltaAssign } from "./tfjs-lstm.ts";

type Tf = typeof TF;

export function tfjsExtraRunner(tf: Tf, model: ExtraModel, batches: readonly ExtraBatch[], backend: "cpu" | "wasm"): StepRunner {
  const B = model.batchSize;
  const keeps = model.draws.map((d) => d.keep);
  const data = batches.map((b) => ({
    x: tf.tensor2d(b.x, [B, 784]),
    gold: model.classes > 0 ? tf.tensor2d(oneHot(b.y, model.classes), [B, model.classes]) : undefined,
    // [U < keep] / keep for dropout (dnn), [U < keep] for the corruption
    // (da), the uniforms of each Gibbs step for the RBM.
    masks:
      model.name === "rbm"
        ? b.uniforms.flatMap((u, d) => Array.from({ length: model.draws[d]!.iters }, (_, t) => tf.tensor2d(u.subarray(t * model.draws[d]!.size, (t + 1) * model.draws[d]!.size), [B, model.draws[d]!.size / B])))
        : b.uniforms.map((u, d) => tf.tensor2d(u.map((v) => (v < keeps[d]! ? (model.name === "dnn" ? 1 / keeps[d]! : 1) : 0)), [B, u.length / B])),
  }));
  let persistent: TF.Tensor2D | undefined;
  let stepNo = 0;
  let report = 0;
  const tag = Math.random();
  const v = (name: string): TF.Variable => {
    const { data: values, shape } = model.params[name]!;
    return tf.variable(tf.tensor(values, [...shape]), true, `${model.name}_${name}_${tag}`);
  };
  const names = Object.keys(model.params);
  const p = Object.fromEntries(names.map((n) => [n, v(n)])) as Record<string, TF.Variable>;
  const vars = names.map((n) => p[n]!);
  const acc = vars.map((w) => ({ a: tf.variable(tf.zerosLike(w), false), d: tf.variable(tf.zerosLike(w), false) }));

  const freeEnergy = (v: TF.Tensor2D, W: TF.Tensor2D, vbias: TF.Tensor, hbias: TF.Tensor): TF.Tensor1D =>
    tf.neg(tf.add(tf.sum(tf.mul(v, vbias), 1), tf.sum(tf.softplus(tf.add(tf.matMul(v, W), hbias)), 1))) as TF.Tensor1D;
  const loss = (s: (typeof data)[number]): TF.Scalar => {
    if (model.name === "rbm") {
      const K = model.draws[0]!.iters;
      const [W, vb, hb] = [p.W!, p.vbias!, p.hbias!].map((w) => tf.tensor(w.dataSync(), w.shape)) as [TF.Tensor2D, TF.Tensor, TF.Tensor];
      let h = persistent ?? tf.zeros([B, W.shape[1]]);
      let v: TF.Tensor2D = s.x;
      for (let t = 0; t < K; t++) {
        v = tf.step(tf.sub(tf.sigmoid(tf.add(tf.matMul(h, W, false, true), vb)), s.masks[t]!)) as TF.Tensor2D;
        h = tf.step(tf.sub(tf.sigmoid(tf.add(tf.matMul(v, W), hb)), s.masks[K + t]!)) as TF.Tensor2D;
      }
      persistent?.dispose();
      persistent = tf.keep(h);
      const xi = tf.cast(tf.greater(s.x, 0.5), "float32") as TF.Tensor2D;
      const bit = tf.oneHot([stepNo++ % 784], 784).reshape([1, 784]);
      const flip = tf.add(xi, tf.mul(bit, tf.sub(1, tf.mul(xi, 2)))) as TF.Tensor2D;
      report = tf.mean(tf.mul(tf.log(tf.sigmoid(tf.sub(freeEnergy(flip, W, vb, hb), freeEnergy(xi, W, vb, hb)))), 784)).dataSync()[0]!;
      return tf.sub(tf.mean(freeEnergy(s.x, p.W! as TF.Tensor as TF.Tensor2D, p.vbias!, p.hbias!)), tf.mean(freeEnergy(v, p.W! as TF.Tensor as TF.Tensor2D, p.vbias!, p.hbias!))) as TF.Scalar;
    }
    if (model.name === "da") {
      const y = tf.sigmoid(tf.add(tf.matMul(tf.mul(s.x, s.masks[0]!), p.W!), p.b!));
      const z = tf.sigmoid(tf.add(tf.matMul(y, p.W!, false, true), p.b_prime!));
      return tf.div(tf.neg(tf.sum(tf.add(tf.mul(s.x, tf.log(z)), tf.mul(tf.sub(1, s.x), tf.log(tf.sub(1, z)))))), B) as TF.Scalar;
    }
    const h1 = tf.mul(tf.relu(tf.add(tf.matMul(tf.mul(s.x, s.masks[0]!), p.W1!), p.b1!)), s.masks[1]!);
    const h2 = tf.mul(tf.relu(tf.add(tf.matMul(h1, p.W2!), p.b2!)), s.masks[2]!);
    const nll = tf.neg(tf.sum(tf.mul(tf.logSoftmax(tf.add(tf.matMul(h2, p.W3!), p.b3!)), s.gold!)));
    return tf.add(nll, tf.mul(tf.addN([p.W1!, p.W2!, p.W3!].map((w) => tf.sum(tf.square(w)))), model.l2)) as TF.Scalar;
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
          if (model.name !== "dnn") w.assign(tf.sub(w, tf.mul(g, model.lr)));
          else adadeltaAssign(tf, w, g, acc[j]!, model.rho, model.eps);
        });
      });
      tf.dispose(Object.values(grads));
      const cost = value.dataSync()[0]!;
      value.dispose();
      return model.name === "rbm" ? report : cost;
    },
    liveTensors: () => tf.memory().numTensors,
    dispose: () => {
      for (const d of data) tf.dispose([d.x, ...(d.gold ? [d.gold] : []), ...d.masks]);
      tf.dispose([...vars, ...acc.flatMap((x) => [x.a, x.d]), ...(persistent ? [persistent] : [])]);
    },
  };
}
