// TensorFlow.js peers: the same models on @tensorflow/tfjs (core, the
// gradients of every op, and the `cpu` backend: plain JS kernels) and on
// @tensorflow/tfjs-backend-wasm (XNNPACK kernels compiled to WebAssembly;
// its SIMD build when the engine validates SIMD code). The wasm
// backend's multi-threaded build is never used under Node: tfjs 4.x turns
// WASM_HAS_MULTITHREAD_SUPPORT off when IS_NODE (tfjs issue #3830), and
// forcing it on fails because its pthread workers are Web Workers.
//
// A step is `optimizer.minimize(loss, true)` with tf.train.sgd: tape-based
// gradients of the scalar loss with respect to the tf.Variables, then the
// in-place update; the returned cost is read back (as the generated trainer
// returns its cost), which also waits for the step to finish. minimize runs
// in a tidy scope, so per-step tensors are freed (checked after warm-up).
//
// LeNet on the wasm backend: tfjs-backend-wasm 4.22 has no
// Conv2DBackpropFilter kernel (the conv filter gradient), so its convolutions
// are wrapped in tf.customGrad: forward Conv2D and the input gradient
// (Conv2DBackpropInput) are the backend's own kernels, and the filter
// gradient is computed with other wasm kernels, whichever route was faster
// on that layer's shapes (batch 500, on the 2-core machine):
//  - 20→50 channels: an im2col product, the kh·kw shifted windows of the
//    input sliced and concatenated into [batch·oh·ow, kh·kw·C] and multiplied
//    by dy [batch·oh·ow, O] in one matMul (~0.85 s; the 3-D kernel: ~4.2 s);
//  - 1→20 channels: the backend's Conv3DBackpropFilterV2 on a depth-1 volume
//    (~0.37 s; im2col's 25 one-channel slices and concat: ~1 s).
//
// The Elman RNN (rnnslu): tfjs-rnn.ts; the LSTM (lstm): tfjs-lstm.ts.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as TF from "@tensorflow/tfjs";
import type { BenchBatch, BenchModel, Peer, StepRunner } from "./peer.ts";
import { flipKernel, oneHot } from "./peer.ts";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";
import { tfjsRnnRbmRunner } from "./tfjs-rnnrbm.ts";
import { tfjsLstmRunner } from "./tfjs-lstm.ts";
import { tfjsRnnRunner } from "./tfjs-rnn.ts";
import { tfjsExtraRunner } from "./tfjs-extra.ts";
import type { ExtraBatch, ExtraModel } from "./mnist-extra.ts";

type Tf = typeof TF;
type BackendName = "cpu" | "wasm";

let tfPromise: Promise<Tf> | undefined;
const versions: Record<string, string> = {};
let wasmFeatures = "";

async function loadTf(backend: BackendName): Promise<Tf> {
  tfPromise ??= (async () => {
    // The full package, not tfjs-core alone: only it registers the ops'
    // gradient functions.
    const tf = await import("@tensorflow/tfjs");
    versions.core = tf.version_core;
    return tf;
  })();
  const tf = await tfPromise;
  if (backend === "wasm" && !tf.findBackendFactory("wasm")) {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    // Its .wasm binaries: the package's dist folder, named explicitly
    // rather than left to the loader's guess from the bundle's location.
    const require = createRequire(import.meta.url);
    wasm.setWasmPaths(join(dirname(require.resolve("@tensorflow/tfjs-backend-wasm/package.json")), "dist") + "/");
    versions.wasm = wasm.version_wasm;
  }
  if (!(await tf.setBackend(backend))) throw new Error(`tfjs: backend "${backend}" failed to initialise`);
  await tf.ready();
  if (backend === "wasm") {
    const simd = await tf.env().getAsync("WASM_HAS_SIMD_SUPPORT");
    const threads = await tf.env().getAsync("WASM_HAS_MULTITHREAD_SUPPORT");
    const { getThreadsCount } = await import("@tensorflow/tfjs-backend-wasm");
    wasmFeatures = `SIMD ${simd ? "on" : "off"}, threads ${threads ? `on (${getThreadsCount()})` : "off (1 thread)"}`;
  }
  return tf;
}

type Params = Record<string, TF.Variable>;
type Forward = (x: TF.Tensor2D, p: Params) => TF.Tensor2D;

/** ∂L/∂W of a stride-1 'valid' conv (NHWC input, HWIO filter) without the
 * Conv2DBackpropFilter kernel (see the head of this file). */
function filterGrad(tf: Tf, x: TF.Tensor4D, dy: TF.Tensor4D, kh: number, kw: number): TF.Tensor4D {
  const [b, h, w, c] = x.shape;
  const [, oh, ow, o] = dy.shape;
  if (c === 1) {
    const attrs = { strides: [1, 1, 1], pad: "valid", filterShape: [1, kh, kw, c, o] };
    const dw = tf.engine().runKernel("Conv3DBackpropFilterV2", { x: tf.reshape(x, [b, 1, h, w, c]), dy: tf.reshape(dy, [b, 1, oh, ow, o]) }, attrs as unknown as TF.NamedAttrMap);
    return tf.reshape(dw as TF.Tensor, [kh, kw, c, o]);
  }
  const windows: TF.Tensor4D[] = [];
  for (let r = 0; r < kh; r++) for (let s = 0; s < kw; s++) windows.push(tf.slice(x, [0, r, s, 0], [b, oh, ow, c]));
  const patches = tf.reshape(tf.concat(windows, 3), [b * oh * ow, kh * kw * c]);
  return tf.reshape(tf.matMul(patches, tf.reshape(dy, [b * oh * ow, o]), true, false), [kh, kw, c, o]);
}

/** conv2d (stride 1, 'valid') whose gradient avoids the kernel the wasm
 * backend lacks; `dx` false for a layer whose input is data (no input
 * gradient needed, as tfjs's own conv2d gradient skips it). */
export function conv2dWasm(tf: Tf, x: TF.Tensor4D, w: TF.Tensor4D, dx: boolean): TF.Tensor4D {
  const [kh, kw] = w.shape;
  type Arg = TF.Tensor | TF.GradSaveFunc;
  if (!dx) {
    const f = tf.customGrad((...args: Arg[]) => {
      const wt = args[0] as TF.Tensor4D;
      return {
        value: tf.conv2d(x, wt, 1, "valid"),
        gradFunc: (dy: TF.Tensor) => [filterGrad(tf, x, dy as TF.Tensor4D, kh, kw)],
      };
    });
    return f(w) as TF.Tensor4D;
  }
  const f = tf.customGrad((...args: Arg[]) => {
    const [xt, wt, save] = args as [TF.Tensor4D, TF.Tensor4D, TF.GradSaveFunc];
    save([xt, wt]);
    return {
      value: tf.conv2d(xt, wt, 1, "valid"),
      gradFunc: (dy: TF.Tensor, saved: TF.Tensor[]) => {
        const [xs, ws] = saved as [TF.Tensor4D, TF.Tensor4D];
        return [tf.conv2dTranspose(dy as TF.Tensor4D, ws, xs.shape, 1, "valid"), filterGrad(tf, xs, dy as TF.Tensor4D, kh, kw)];
      },
    };
  });
  return f(x, w) as TF.Tensor4D;
}

/** Variables in tfjs layouts, converted from the generated model's. */
function makeParams(tf: Tf, model: BenchModel): Params {
  const p = model.params;
  const v = (name: string, data: Float32Array, shape: number[]): TF.Variable => tf.variable(tf.tensor(data, shape), true, `${model.name}_${name}_${Math.random()}`);
  const dense = (name: string): TF.Variable => v(name, p[name]!.data, [...p[name]!.shape]);
  if (model.name === "logreg") return { W: dense("W"), b: dense("b") };
  if (model.name === "mlp") return { W1: dense("W1"), b1: dense("b1"), W2: dense("W2"), b2: dense("b2") };
  if (model.name === "sda") return Object.fromEntries(["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"].map((n) => [n, dense(n)]));
  // lenet, NHWC: filters [O, I, kh, kw] (true convolution) → HWIO (correlation);
  // per-map biases [O, 1, 1] → [O]; W3's rows from NCHW flatten order
  // (c·16 + h·4 + w) to NHWC (h·200 + w·50 + c).
  const hwio = (name: string): TF.Variable => {
    const { data, shape } = p[name]!;
    const [o, i, kh, kw] = shape as [number, number, number, number];
    const flipped = flipKernel(data, shape);
    const out = new Float32Array(data.length);
    for (let a = 0; a < o; a++) for (let b = 0; b < i; b++) for (let r = 0; r < kh; r++) for (let s = 0; s < kw; s++) {
      out[((r * kw + s) * i + b) * o + a] = flipped[((a * i + b) * kh + r) * kw + s]!;
    }
    return v(name, out, [kh, kw, i, o]);
  };
  const w3 = p.W3!;
  const [rows, cols] = w3.shape as [number, number];
  const w3nhwc = new Float32Array(w3.data.length);
  for (let c = 0; c < 50; c++) for (let h = 0; h < 4; h++) for (let w = 0; w < 4; w++) {
    const from = c * 16 + h * 4 + w;
    const to = h * 200 + w * 50 + c;
    w3nhwc.set(w3.data.subarray(from * cols, (from + 1) * cols), to * cols);
  }
  return {
    W1: hwio("W1"), b1: v("b1", p.b1!.data, [20]), W2: hwio("W2"), b2: v("b2", p.b2!.data, [50]),
    W3: v("W3", w3nhwc, [rows, cols]), b3: dense("b3"), W4: dense("W4"), b4: dense("b4"),
  };
}

function forward(tf: Tf, model: BenchModel, backend: BackendName): Forward {
  switch (model.name) {
    case "logreg":
      return (x, p) => tf.add(tf.matMul(x, p.W!), p.b!);
    case "mlp":
      return (x, p) => tf.add(tf.matMul(tf.tanh(tf.add(tf.matMul(x, p.W1!), p.b1!)), p.W2!), p.b2!);
    case "sda":
      // The SdA's fine-tuning net: three sigmoid layers, the softmax's logits.
      return (x, p) => {
        const h1 = tf.sigmoid(tf.add(tf.matMul(x, p.W1!), p.b1!));
        const h2 = tf.sigmoid(tf.add(tf.matMul(h1, p.W2!), p.b2!));
        const h3 = tf.sigmoid(tf.add(tf.matMul(h2, p.W3!), p.b3!));
        return tf.add(tf.matMul(h3, p.W4!), p.b4!);
      };
    case "lenet": {
      const conv = (x: TF.Tensor4D, w: TF.Tensor4D, dx: boolean): TF.Tensor4D =>
        backend === "wasm" ? conv2dWasm(tf, x, w, dx) : tf.conv2d(x, w, 1, "valid");
      return (x, p) => {
        const img = tf.reshape(x, [x.shape[0], 28, 28, 1]) as TF.Tensor4D;
        const c1 = tf.tanh(tf.add(tf.maxPool(conv(img, p.W1 as TF.Tensor as TF.Tensor4D, false), 2, 2, "valid"), p.b1!)) as TF.Tensor4D;
        const c2 = tf.tanh(tf.add(tf.maxPool(conv(c1, p.W2 as TF.Tensor as TF.Tensor4D, true), 2, 2, "valid"), p.b2!)) as TF.Tensor4D;
        const h = tf.tanh(tf.add(tf.matMul(tf.reshape(c2, [x.shape[0], 800]), p.W3!), p.b3!));
        return tf.add(tf.matMul(h, p.W4!), p.b4!);
      };
    }
  }
}

function tfjsPeer(backend: BackendName): Peer {
  // Which model was prepared last: what the note describes.
  let kind: "mnist" | "rnn" | "lstm" | "rnnrbm" = "mnist";
  return {
    name: `tfjs-${backend}`,
    note: () =>
      versions.core
        ? `tfjs-${backend}: @tensorflow/tfjs ${versions.core}` +
          (backend === "wasm" ? `, tfjs-backend-wasm ${versions.wasm ?? "?"} (${wasmFeatures}${kind === "rnnrbm" ? ")" : `; the backend has no ${kind !== "mnist" ? "UnsortedSegmentSum: the embedding gradient in tf.customGrad as a ScatterNd" : "Conv2DBackpropFilter: LeNet's conv filter gradients in tf.customGrad, conv 1 by Conv3DBackpropFilterV2 on a depth-1 volume, conv 2 as an im2col matMul"})`}` : ", tfjs-backend-cpu (plain JS kernels)") +
          (kind === "rnn" ? "; eager ops on the tape, each sentence at its own length (a JS loop over the words), optimizer.minimize (sgd) + an assign for the row normalisation" : "") +
          (kind === "lstm"
            ? "; eager ops on the tape, each minibatch for its longest sentence's steps (a JS loop), tf.variableGrads + Adadelta written out (tf.train.adadelta 4.22 divides by the accumulator before this step's update: not the spec's Adadelta)"
            : "") +
          (kind === "rnnrbm" ? "; eager ops on the tape, the RNN a JS loop over the piece's frames, CD-15 on detached copies (no stop_gradient in tfjs), tf.variableGrads + SGD" : "")
        : undefined,
    async prepare(model: BenchModel, batches: readonly BenchBatch[]): Promise<StepRunner> {
      const tf = await loadTf(backend);
      kind = "mnist";
      const B = model.batchSize;
      const data = batches.map((b) => ({
        x: tf.tensor2d(b.x, [B, 784]),
        y: tf.tensor2d(oneHot(b.y, model.classes), [B, model.classes]),
      }));
      const params = makeParams(tf, model);
      const fwd = forward(tf, model, backend);
      const opt = tf.train.sgd(model.lr);
      const vars = Object.values(params);
      const loss = (x: TF.Tensor2D, y: TF.Tensor2D): TF.Scalar => {
        // −mean log softmax at the label: the spec's NLL of softmax probs
        // (our compiler rewrites log∘softmax to the stable log-softmax too).
        let cost = tf.neg(tf.div(tf.sum(tf.mul(tf.logSoftmax(fwd(x, params)), y)), B)) as TF.Scalar;
        // Zero-weighted penalties are left out (the compiler folds them away).
        if (model.l2 !== 0) cost = tf.add(cost, tf.mul(tf.addN(model.l2Params.map((n) => tf.sum(tf.square(params[n]!)))), model.l2));
        if (model.l1 !== 0) cost = tf.add(cost, tf.mul(tf.addN(model.l1Params.map((n) => tf.sum(tf.abs(params[n]!)))), model.l1));
        return cost;
      };
      let k = 0;
      return {
        step: () => {
          if (tf.getBackend() !== backend) throw new Error(`tfjs: active backend is ${tf.getBackend()}, expected ${backend}`);
          const { x, y } = data[k++ % data.length]!;
          const cost = opt.minimize(() => loss(x, y), true, vars)!;
          const value = cost.dataSync()[0]!;
          cost.dispose();
          return value;
        },
        liveTensors: () => tf.memory().numTensors,
        dispose: () => {
          for (const d of data) tf.dispose([d.x, d.y]);
          tf.dispose(vars);
          opt.dispose();
        },
      };
    },
    async prepareExtra(model: ExtraModel, batches: readonly ExtraBatch[]): Promise<StepRunner> {
      const tf = await loadTf(backend);
      kind = "mnist";
      return tfjsExtraRunner(tf, model, batches, backend);
    },
    async prepareRnn(model: RnnModel, sentences: readonly Sentence[]): Promise<StepRunner> {
      const tf = await loadTf(backend);
      kind = "rnn";
      return tfjsRnnRunner(tf, model, sentences, backend);
    },
    async prepareLstm(model: LstmModel, batches: readonly LstmBatch[]): Promise<StepRunner> {
      const tf = await loadTf(backend);
      kind = "lstm";
      return tfjsLstmRunner(tf, model, batches, backend);
    },
    async prepareRnnRbm(model: RnnRbmModel, pieces: readonly RbmPiece[]): Promise<StepRunner> {
      const tf = await loadTf(backend);
      kind = "rnnrbm";
      return tfjsRnnRbmRunner(tf, model, pieces, backend);
    },
  };
}

export const tfjsCpu: Peer = tfjsPeer("cpu");
export const tfjsWasm: Peer = tfjsPeer("wasm");
