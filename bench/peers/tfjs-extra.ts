// da, dnn, rbm, dbn and newmu_convnet (bench/peers/mnist-extra.ts) in TensorFlow.js, as a user
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
import { conv2dWasm } from "./tfjs.ts";

type Tf = typeof TF;

/** newmu_convnet's dropout masks on convolution outputs, [C, H, W] (the
 * fully connected ones stay [batch, units]). */
const CONVNET_MASKS: readonly (readonly [number, number, number] | undefined)[] = [[32, 15, 15], [64, 7, 7]];

export function tfjsExtraRunner(tf: Tf, model: ExtraModel, batches: readonly ExtraBatch[], backend: "cpu" | "wasm"): StepRunner {
  const B = model.batchSize;
  const keeps = model.draws.map((d) => d.keep);
  const data = batches.map((b) => ({
    x: tf.tensor2d(b.x, [B, 784]),
    padded: model.name === "newmu_convnet" ? tf.tidy(() => tf.pad(tf.tensor4d(b.x, [B, 28, 28, 1]), [[0, 0], [2, 2], [2, 2], [0, 0]])) : undefined,
    gold: model.classes > 0 ? tf.tensor2d(oneHot(b.y, model.classes), [B, model.classes]) : undefined,
    // [U < keep] / keep for dropout (dnn), [U < keep] for the corruption
    // (da), the uniforms of each Gibbs step for the RBM.
    masks:
      model.name === "rbm" || model.name === "dbn"
        ? b.uniforms.flatMap((u, d) => Array.from({ length: model.draws[d]!.iters }, (_, t) => tf.tensor2d(u.subarray(t * model.draws[d]!.size, (t + 1) * model.draws[d]!.size), [B, model.draws[d]!.size / B])))
        : model.name === "newmu_convnet"
          ? // [U < keep] / keep, the conv layers' masks from NCHW to NHWC.
            b.uniforms.map((u, d) => {
              const m = tf.tensor(u.map((v) => (v < keeps[d]! ? 1 / keeps[d]! : 0)), [B, u.length / B]);
              const shape = CONVNET_MASKS[d];
              if (!shape) return m;
              const t = tf.transpose(m.reshape([B, ...shape]), [0, 2, 3, 1]);
              m.dispose();
              return t;
            })
          : b.uniforms.map((u, d) => tf.tensor2d(u.map((v) => (v < keeps[d]! ? (model.name === "dnn" ? 1 / keeps[d]! : 1) : 0)), [B, u.length / B])),
  }));
  let persistent: TF.Tensor2D | undefined;
  let stepNo = 0;
  let report = 0;
  const tag = Math.random();
  const v = (name: string): TF.Variable => {
    const { data: values, shape } = model.params[name]!;
    if (model.name === "newmu_convnet" && shape.length === 4) {
      // OIHW, a true convolution → tfjs's HWIO correlation: flipped, transposed.
      return tf.variable(tf.tidy(() => tf.transpose(tf.reverse(tf.tensor4d(values, [...shape] as [number, number, number, number]), [2, 3]), [2, 3, 1, 0])), true, `${model.name}_${name}_${tag}`);
    }
    return tf.variable(tf.tensor(values, [...shape]), true, `${model.name}_${name}_${tag}`);
  };
  // The DBN's first phase trains the first RBM only.
  const names = model.name === "dbn" ? ["W1", "b1", "vb1"] : Object.keys(model.params);
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
    if (model.name === "dbn") {
      const [W, hb, vb] = [p.W1!, p.b1!, p.vb1!].map((w) => tf.tensor(w.dataSync(), w.shape)) as [TF.Tensor2D, TF.Tensor, TF.Tensor];
      const h = tf.sigmoid(tf.add(tf.matMul(s.x, W), hb));
      const pre = tf.add(tf.matMul(tf.step(tf.sub(h, s.masks[0]!)) as TF.Tensor2D, W, false, true), vb);
      const end = tf.step(tf.sub(tf.sigmoid(pre), s.masks[1]!)) as TF.Tensor2D;
      report = tf.mean(tf.sum(tf.add(tf.mul(s.x, tf.softplus(tf.neg(pre))), tf.mul(tf.sub(1, s.x), tf.softplus(pre))), 1)).dataSync()[0]!;
      const [W1, b1, vb1] = [p.W1! as TF.Tensor as TF.Tensor2D, p.b1!, p.vb1!];
      return tf.sub(tf.mean(freeEnergy(s.x, W1, vb1, b1)), tf.mean(freeEnergy(end, W1, vb1, b1))) as TF.Scalar;
    }
    if (model.name === "newmu_convnet") {
      const pool = (a: TF.Tensor4D) => tf.maxPool(a, 2, 2, "same");
      // The full convolution as a valid one of the zero-padded image; the
      // wasm backend's missing filter-gradient kernel worked around as for
      // LeNet (tfjs.ts conv2dWasm).
      const img = s.padded!;
      const l1 = tf.mul(pool(tf.relu(conv2dWasm(tf, img, p.w! as TF.Tensor as TF.Tensor4D, false))), s.masks[0]!) as TF.Tensor4D;
      const l2 = tf.mul(pool(tf.relu(conv2dWasm(tf, l1, p.w2! as TF.Tensor as TF.Tensor4D, true))), s.masks[1]!) as TF.Tensor4D;
      const l3 = tf.mul(tf.transpose(pool(tf.relu(conv2dWasm(tf, l2, p.w3! as TF.Tensor as TF.Tensor4D, true))), [0, 3, 1, 2]).reshape([B, 1152]), s.masks[2]!);
      const l4 = tf.mul(tf.relu(tf.matMul(l3 as TF.Tensor2D, p.w4!)), s.masks[3]!);
      return tf.neg(tf.mean(tf.sum(tf.mul(tf.logSoftmax(tf.matMul(l4 as TF.Tensor2D, p.w_o!)), s.gold!), 1))) as TF.Scalar;
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
          if (model.name === "dnn") adadeltaAssign(tf, w, g, acc[j]!, model.rho, model.eps);
          else if (model.name === "newmu_convnet") {
            // Newmu's RMSprop: acc ← ρ·acc + (1−ρ)·g², w ← w − lr·g/√(acc + ε).
            const a = acc[j]!.a;
            a.assign(tf.add(tf.mul(a, model.rho), tf.mul(tf.square(g), 1 - model.rho)));
            w.assign(tf.sub(w, tf.mul(tf.div(g, tf.sqrt(tf.add(a, model.eps))), model.lr)));
          } else w.assign(tf.sub(w, tf.mul(g, model.lr)));
        });
      });
      tf.dispose(Object.values(grads));
      const cost = value.dataSync()[0]!;
      value.dispose();
      return model.name === "rbm" || model.name === "dbn" ? report : cost;
    },
    liveTensors: () => tf.memory().numTensors,
    dispose: () => {
      for (const d of data) tf.dispose([d.x, ...(d.gold ? [d.gold] : []), ...(d.padded ? [d.padded] : []), ...d.masks]);
      tf.dispose([...vars, ...acc.flatMap((x) => [x.a, x.d]), ...(persistent ? [persistent] : [])]);
    },
  };
}
