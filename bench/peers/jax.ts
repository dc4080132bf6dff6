// jax-js peer (@jax-js/jax): the whole SGD step, valueAndGrad of the loss
// plus the update, under one jit() on the `wasm` device (kernels generated
// as WebAssembly, with SIMD where its code generator vectorises). jax-js
// parallelises wasm kernels with Web Workers on SharedArrayBuffer memory;
// Node has no global `Worker`, so here it runs on one thread.
//
// jax-js arrays are reference counted: every use of an array consumes one
// reference, hence the `.ref` on each parameter that is used more than once.
// The step reads back the cost (as the generated trainer returns it) and
// waits for the new parameters before it returns.
//
// The Elman RNN (rnnslu): jax-rnn.ts; the LSTM (lstm): jax-lstm.ts.
//
// LeNet is very slow here: jax-js 0.1.25's generated kernels for the
// convolutions' gradients (the filter gradient above all) take seconds per
// step, and under jit, where the whole step is one program, more than op by
// op (on the 2-core machine: ~80 s for the first, compiling step, then ~20 s
// a step; op by op ~13 s; `--peers jax-eager` measures the latter).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as JAX from "@jax-js/jax";
import { jaxLstmRunner, LSTM_BUCKET } from "./jax-lstm.ts";
import { BUCKET, jaxRnnRunner } from "./jax-rnn.ts";
import { jaxRnnRbmRunner, RBM_BUCKET } from "./jax-rnnrbm.ts";
import type { BenchBatch, BenchModel, Peer, StepRunner } from "./peer.ts";
import { flipKernel, oneHot } from "./peer.ts";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";

type Jax = typeof JAX;
type Arr = JAX.Array;
type Params = Record<string, Arr>;

let jaxPromise: Promise<Jax> | undefined;
let version = "";

async function loadJax(): Promise<Jax> {
  jaxPromise ??= (async () => {
    const jax = await import("@jax-js/jax");
    const devices = await jax.init("wasm");
    if (!devices.includes("wasm")) throw new Error(`jax-js: the wasm device did not start (devices: ${devices.join(", ") || "none"})`);
    jax.defaultDevice("wasm");
    // The package exports no ./package.json: read it beside dist/.
    const main = createRequire(import.meta.url).resolve("@jax-js/jax");
    version = (JSON.parse(readFileSync(join(dirname(main), "..", "package.json"), "utf8")) as { version: string }).version;
    return jax;
  })();
  return jaxPromise;
}

/** Logits of a batch; consumes `p` and `x` (one reference each). */
function forward(jax: Jax, model: BenchModel, p: Params, x: Arr): Arr {
  const np = jax.numpy;
  const B = model.batchSize;
  switch (model.name) {
    case "logreg":
      return np.dot(x, p.W!).add(p.b!);
    case "mlp":
      return np.dot(np.tanh(np.dot(x, p.W1!).add(p.b1!)), p.W2!).add(p.b2!);
    case "sda": {
      // The SdA's fine-tuning net: three sigmoid layers, the softmax's logits.
      const h1 = jax.nn.sigmoid(np.dot(x, p.W1!).add(p.b1!));
      const h2 = jax.nn.sigmoid(np.dot(h1, p.W2!).add(p.b2!));
      const h3 = jax.nn.sigmoid(np.dot(h2, p.W3!).add(p.b3!));
      return np.dot(h3, p.W4!).add(p.b4!);
    }
    case "lenet": {
      // NCHW / OIHW as the generated model; lax.conv correlates, so the
      // filters were flipped once at prepare time (Theano's conv2d convolves).
      const pool = (a: Arr): Arr => jax.lax.reduceWindow(a, np.max, [2, 2], [2, 2]);
      const img = x.reshape([B, 1, 28, 28]);
      const c1 = np.tanh(pool(jax.lax.conv(img, p.W1!, [1, 1], "VALID")).add(p.b1!)); // [B, 20, 12, 12]
      const c2 = np.tanh(pool(jax.lax.conv(c1, p.W2!, [1, 1], "VALID")).add(p.b2!)); // [B, 50, 4, 4]
      const h = np.tanh(np.dot(c2.reshape([B, 800]), p.W3!).add(p.b3!));
      return np.dot(h, p.W4!).add(p.b4!);
    }
  }
}

function makeJaxPeer(jitted: boolean): Peer {
  const name = jitted ? "jax" : "jax-eager";
  // Which model was prepared last: what the note describes.
  let kind: "mnist" | "rnn" | "lstm" | "rnnrbm" = "mnist";
  return {
    name,
    note: () =>
      version
        ? `${name}: @jax-js/jax ${version}, ${jitted ? `jit(valueAndGrad + ${kind === "lstm" ? "Adadelta" : "SGD"} update)` : `valueAndGrad + ${kind === "lstm" ? "Adadelta" : "SGD"} update op by op (no jit)`} on the wasm device (its generated WebAssembly kernels; one thread: no Web Workers in Node)` +
          (kind === "lstm"
            ? jitted
              ? `; the LSTM: Adadelta written out (no optax), no lax.scan: the loop over steps unrolled in the trace, each minibatch's scan padded (masked) to a multiple of ${LSTM_BUCKET} steps, one program per padded length; jax-js 0.1.25's log is off by up to 1.2e-5 (absolute, near ln 2), which its costs show`
              : "; the LSTM: each minibatch for its longest sentence's steps, Adadelta written out; jax-js 0.1.25's log is off by up to 1.2e-5 (absolute, near ln 2), which its costs show"
            : "") +
          (kind === "rnn"
            ? jitted
              ? `; no lax.scan in jax-js: the loop over words is unrolled in the trace, one jit program per ${BUCKET === 1 ? "sentence length (compiled in the warm-up pass)" : `padded length (words padded to multiples of ${BUCKET} and masked)`}; the gather's gradient under jit needs a non-view cotangent (a row mask on the gathered rows)`
              : "; each sentence at its own length"
            : "") +
          (kind === "rnnrbm"
            ? jitted
              ? `; the RNN-RBM: jax.grad with the monitor as aux, lax.stopGradient on the chain, no lax.scan: the loop over frames unrolled in the trace, each piece padded (masked) to a multiple of ${RBM_BUCKET} frames, one program per padded length`
              : "; the RNN-RBM: each piece at its own length, lax.stopGradient on the chain"
            : "")
        : undefined,
    async prepare(model: BenchModel, batches: readonly BenchBatch[]): Promise<StepRunner> {
      const jax = await loadJax();
      kind = "mnist";
      const np = jax.numpy;
      const B = model.batchSize;
      const data = batches.map((b) => ({
        x: np.array(b.x).reshape([B, 784]),
        y: np.array(oneHot(b.y, model.classes)).reshape([B, model.classes]),
      }));
      let params: Params = {};
      for (const [name, { shape, data: values }] of Object.entries(model.params)) {
        const conv = model.name === "lenet" && shape.length === 4;
        params[name] = np.array(conv ? flipKernel(values, shape) : values.slice()).reshape([...shape]);
      }
      const penalized = [...new Set([...model.l1Params, ...model.l2Params])];
      const loss = (p: Params, x: Arr, y: Arr): Arr => {
        // Penalised weights are read twice (forward and penalty): one extra reference each.
        const extra = Object.fromEntries(penalized.map((n) => [n, p[n]!.ref]));
        const logp = jax.nn.logSoftmax(forward(jax, model, p, x), -1);
        let cost = logp.mul(y).sum().mul(-1 / B); // the spec's NLL, −mean log p(label)
        // Zero-weighted penalties are left out (the compiler folds them away).
        const l2 = model.l2 !== 0 ? model.l2Params : [];
        const l1 = model.l1 !== 0 ? model.l1Params : [];
        for (const n of penalized) {
          const w = extra[n]!;
          const inL1 = l1.includes(n);
          if (l2.includes(n)) cost = cost.add(np.square(inL1 ? w.ref : w).sum().mul(model.l2));
          if (inL1) cost = cost.add(np.abs(w).sum().mul(model.l1));
          if (!l2.includes(n) && !inL1) w.dispose();
        }
        return cost;
      };
      const lr = model.lr;
      const update = (p: Params, x: Arr, y: Arr): [Arr, Params] => {
        const [cost, grads] = jax.valueAndGrad(loss)(jax.tree.ref(p), x, y);
        const next = jax.tree.map((w: Arr, g: Arr) => w.sub(g.mul(lr)), p, grads as Params) as Params;
        return [cost, next];
      };
      const trainStep = jitted ? jax.jit(update) : Object.assign(update, { dispose: () => {} });
      let k = 0;
      return {
        step: async () => {
          const { x, y } = data[k++ % data.length]!;
          const [cost, next] = trainStep(params, x.ref, y.ref);
          params = next;
          const value = cost.dataSync()[0]!;
          await jax.blockUntilReady(params);
          return value;
        },
        dispose: () => {
          jax.tree.dispose(params);
          for (const d of data) {
            d.x.dispose();
            d.y.dispose();
          }
          trainStep.dispose();
        },
      };
    },
    async prepareRnn(model: RnnModel, sentences: readonly Sentence[]): Promise<StepRunner> {
      const jax = await loadJax();
      kind = "rnn";
      return jaxRnnRunner(jax, model, sentences, jitted);
    },
    async prepareLstm(model: LstmModel, batches: readonly LstmBatch[]): Promise<StepRunner> {
      const jax = await loadJax();
      kind = "lstm";
      return jaxLstmRunner(jax, model, batches, jitted);
    },
    async prepareRnnRbm(model: RnnRbmModel, pieces: readonly RbmPiece[]): Promise<StepRunner> {
      const jax = await loadJax();
      kind = "rnnrbm";
      return jaxRnnRbmRunner(jax, model, pieces, jitted);
    },
  };
}

export const jaxPeer: Peer = makeJaxPeer(true);
/** The same step without jit (not in the default run; --peers jax-eager). */
export const jaxEagerPeer: Peer = makeJaxPeer(false);
