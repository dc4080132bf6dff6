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

export const BENCH_MODELS = ["logreg", "mlp", "lenet", "da", "sda", "dnn", "rbm", "dbn", "newmu_convnet", "rnnslu", "lstm", "rnnrbm"] as const;
export type BenchModelName = (typeof BENCH_MODELS)[number];
/** The MNIST models (logreg, mlp, lenet, and sda: the stacked denoising
 * autoencoder's fine-tuning phase), trained on minibatches {x, y} through
 * `Peer.prepare`;
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
  /** Name of the spec's phase the bench trains (BENCH_PHASE: the first
   * phase, except the SdA's "finetune"); ours runs that phase's step. */
  readonly phase: string;
  /** SGD learning rate of that phase. */
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
   * biases as in the spec. Only the parameters the phase trains where the
   * spec's phase lists them (sda: W1…b4, not the dAs' visible biases). */
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

/** The phase of specs/<name>.yaml each MNIST bench model trains, by name
 * (absent: the spec's first phase). The SdA's pretraining phases do not
 * run: the bench times its fine-tuning step from the initial parameters
 * (the generated model's initialisation, W4 zeros). */
export const BENCH_PHASE: Partial<Record<MnistModelName, string>> = { sda: "finetune" };

const squash = (s: string): string => s.replace(/\s+/g, "");

/** The hyperparameters of specs/<name>.yaml that the peers must match, and
 * `trained`: the parameters its phase lists (undefined: all of them). */
export function specHyperparameters(
  name: MnistModelName,
  specPath = `specs/${name}.yaml`,
): Pick<BenchModel, "batchSize" | "phase" | "lr" | "l1" | "l2" | "l1Params" | "l2Params"> & { readonly trained?: readonly string[] } {
  const spec = parse(readFileSync(specPath, "utf8")) as {
    data: { batch_size: number };
    graph: Record<string, unknown>;
    losses: Record<string, Record<string, { probs?: string; labels?: string; weight?: number; params?: string[] }>>;
    phases: { name: string; loss: string; params?: string[]; optimizer: { sgd?: { lr: number } } }[];
  };
  const wanted = BENCH_PHASE[name];
  const phase = wanted === undefined ? spec.phases[0]! : spec.phases.find((p) => p.name === wanted);
  if (!phase) throw new Error(`${specPath}: no phase named "${wanted}"`);
  const sgd = phase.optimizer.sgd;
  if (!sgd || Object.keys(phase.optimizer).length !== 1) throw new Error(`${specPath}: the peers implement plain SGD only`);
  const terms = spec.losses[phase.loss]!;
  for (const k of Object.keys(terms)) {
    if (k !== "nll" && k !== "l1" && k !== "l2") throw new Error(`${specPath}: loss term "${k}" is not implemented by the peers`);
  }
  if (name === "sda") {
    // A changed spec must fail loudly here, not be benchmarked as something else.
    const fail = (what: string): never => {
      throw new Error(`${specPath}: ${what}; bench/peers implement SdA.py's fine-tuning net (update bench/peers/peer.ts and the peers with the spec)`);
    };
    const want = (k: string, v: string): void => {
      if (squash(JSON.stringify(spec.graph[k])) !== v) fail(`${k} is not ${v}`);
    };
    want("h1", '"sigmoid(x@W1+b1)"');
    want("h2", '"sigmoid(h1@W2+b2)"');
    want("h3", '"sigmoid(h2@W3+b3)"');
    want("p_y_given_x", '{"dense":{"input":"h3","weight":"W4","bias":"b4","activation":"softmax"}}');
    if (terms.nll?.probs !== "p_y_given_x" || terms.nll.weight !== undefined || Object.keys(terms).length !== 1) fail(`phase ${phase.name}'s loss is not the mean NLL of p_y_given_x`);
    if (squash((phase.params ?? []).join(",")) !== "W1,b1,W2,b2,W3,b3,W4,b4") fail(`phase ${phase.name} does not train W1, b1, W2, b2, W3, b3, W4, b4`);
  }
  return {
    batchSize: spec.data.batch_size,
    phase: phase.name,
    lr: sgd.lr,
    l1: terms.l1?.weight ?? 0,
    l2: terms.l2?.weight ?? 0,
    l1Params: terms.l1?.params ?? [],
    l2Params: terms.l2?.params ?? [],
    ...(phase.params ? { trained: phase.params } : {}),
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
