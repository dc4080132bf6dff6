// What bench/train-speed.ts hands to the JS peers it compares the generated
// trainers with, and what it gets back. Every peer trains the same model as
// the spec: same layers, loss, penalties, learning rate and minibatch size,
// starting from the same initial parameters (the generated model's own
// initialisation, copied) and walking the same minibatches, so the
// minibatch costs of the first steps agree across implementations (the
// harness prints them as a check).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";
import type { ExtraBatch, ExtraModel, ExtraModelName } from "./mnist-extra.ts";

export const BENCH_MODELS = ["logreg", "mlp", "lenet", "da", "dnn", "rbm", "dbn", "newmu_convnet", "rnnslu", "lstm", "rnnrbm"] as const;
export type BenchModelName = (typeof BENCH_MODELS)[number];
/** The MNIST models, trained on minibatches {x, y} through `Peer.prepare`;
 * rnnslu (one sentence a step) goes through `Peer.prepareRnn` (rnn.ts),
 * lstm (minibatches of sentences) through `Peer.prepareLstm` (lstm.ts),
 * rnnrbm (one piece of music a step) through `Peer.prepareRnnRbm` (rnnrbm.ts),
 * da, dnn, rbm, dbn and newmu_convnet (random ops in the step) through
 * `Peer.prepareExtra` (mnist-extra.ts). */
export type MnistModelName = Exclude<BenchModelName, "rnnslu" | "lstm" | "rnnrbm" | ExtraModelName>;

/** One minibatch: x is [batch, 784] row-major pixels in [0, 1], y the labels. */
export interface BenchBatch {
  readonly x: Float32Array;
  readonly y: Int32Array;
}

/** The model a peer has to train, read from the spec and the generated model. */
export interface BenchModel {
  readonly name: MnistModelName;
  readonly batchSize: number;
  readonly classes: number;
  /** SGD learning rate of the spec's first phase. */
  readonly lr: number;
  /** L1 / L2 penalty weights (0 when the spec has none) and their parameters.
   * L2 is the squared norm (the tutorial's L2_sqr), L1 the sum of |w|. */
  readonly l1: number;
  readonly l2: number;
  readonly l1Params: readonly string[];
  readonly l2Params: readonly string[];
  /** Initial parameters in the generated model's layout (read-only: a peer
   * copies or converts them): dense weights [in, out], conv filters
   * [out, in, kh, kw] for a true convolution (flipped, as Theano's conv2d),
   * biases as in the spec. */
  readonly params: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

/** A prepared trainer: one call of `step` is one full SGD step (forward,
 * gradient, parameter update) on the next minibatch, finished when it
 * returns (or its promise resolves). It may return the minibatch cost. */
import type { KernelTiming } from "../../runtime/webgpu/executor.ts";

export interface StepRunner {
  step(): number | void | Promise<number | void>;
  /** Live tensors of the library, where it counts them: the harness checks
   * that the count does not grow from step to step. */
  liveTensors?(): number;
  /** Frees what `prepare` allocated (tensors, compiled functions). */
  dispose?(): void | Promise<void>;
  /** Our WebGPU program only: each kernel of the step timed alone
   * (bench/gpu-classes.ts); run after the timed repeats. */
  profile?(): Promise<readonly KernelTiming[]>;
}

export interface Peer {
  /** Column "implementation" of the table, e.g. "tfjs-wasm". */
  readonly name: string;
  /** Loads the library (once) and builds the model and its data tensors;
   * nothing here is timed. Throws when the library cannot run the model. */
  prepare(model: BenchModel, batches: readonly BenchBatch[]): Promise<StepRunner>;
  /** The same for the Elman RNN: one step trains on one sentence. Absent
   * where the peer does not implement it. */
  prepareRnn?(model: RnnModel, sentences: readonly Sentence[]): Promise<StepRunner>;
  /** The same for the LSTM: one step trains on one minibatch of sentences. */
  prepareLstm?(model: LstmModel, batches: readonly LstmBatch[]): Promise<StepRunner>;
  /** The same for the RNN-RBM: one step trains on one piece; it returns the
   * monitor (the spec's reported figure), not the CD cost. */
  prepareRnnRbm?(model: RnnRbmModel, pieces: readonly RbmPiece[]): Promise<StepRunner>;
  /** The same for da, dnn and rbm (mnist-extra.ts): one step trains on one
   * minibatch with the step's uniforms. */
  prepareExtra?(model: ExtraModel, batches: readonly ExtraBatch[]): Promise<StepRunner>;
  /** A line for the table's notes (library version, backend features,
   * workarounds), once the peer has been prepared at least once. */
  note?(): string | undefined;
}

/** The hyperparameters of specs/<name>.yaml that the peers must match. */
export function specHyperparameters(name: MnistModelName, specPath = `specs/${name}.yaml`): Pick<BenchModel, "batchSize" | "lr" | "l1" | "l2" | "l1Params" | "l2Params"> {
  const spec = parse(readFileSync(specPath, "utf8")) as {
    data: { batch_size: number };
    losses: Record<string, Record<string, { weight?: number; params?: string[] }>>;
    phases: { loss: string; optimizer: { sgd?: { lr: number } } }[];
  };
  const phase = spec.phases[0]!;
  const sgd = phase.optimizer.sgd;
  if (!sgd || Object.keys(phase.optimizer).length !== 1) throw new Error(`${specPath}: the peers implement plain SGD only`);
  const terms = spec.losses[phase.loss]!;
  for (const k of Object.keys(terms)) {
    if (k !== "nll" && k !== "l1" && k !== "l2") throw new Error(`${specPath}: loss term "${k}" is not implemented by the peers`);
  }
  return {
    batchSize: spec.data.batch_size,
    lr: sgd.lr,
    l1: terms.l1?.weight ?? 0,
    l2: terms.l2?.weight ?? 0,
    l1Params: terms.l1?.params ?? [],
    l2Params: terms.l2?.params ?? [],
  };
}

/** Minibatch size of specs/<name>.yaml (1 for rnnslu: a sentence a step;
 * 16 sentences for lstm). */
export function specBatchSize(name: BenchModelName, specPath = `specs/${name.replace(/_/g, "-")}.yaml`): number {
  return (parse(readFileSync(specPath, "utf8")) as { data: { batch_size: number } }).data.batch_size;
}

/** Labels as one-hot rows [batch, classes] (the peers' NLL is −Σ onehot·log p). */
export function oneHot(y: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(y.length * classes);
  for (let i = 0; i < y.length; i++) out[i * classes + y[i]!] = 1;
  return out;
}

/** Theano's conv2d is a true convolution; TF and XLA-style convs correlate.
 * Flips the kernel's spatial axes: [O, I, kh, kw] → same shape, reversed taps. */
export function flipKernel(w: Float32Array, shape: readonly number[]): Float32Array {
  const [o, i, kh, kw] = shape as [number, number, number, number];
  const out = new Float32Array(w.length);
  for (let a = 0; a < o * i; a++) {
    for (let r = 0; r < kh; r++) {
      for (let c = 0; c < kw; c++) out[a * kh * kw + r * kw + c] = w[a * kh * kw + (kh - 1 - r) * kw + (kw - 1 - c)]!;
    }
  }
  return out;
}

export function errorMessage(e: unknown): string {
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0]!.slice(0, 200);
}
