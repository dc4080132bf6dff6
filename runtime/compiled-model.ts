// The contract between generated code and the runtime. A generated model
// module (generated/<name>/model.ts) exports a `ModelDescription` and a class
// implementing `CompiledModel`; the runtime's trainer drives it. The runtime
// never imports the compiler: everything it needs is in these plain types.

/** The element types of tensors the runtime holds. */
export type RuntimeDType = "f32" | "i32";

/** A named tensor of the model: an input, parameter or state tensor. */
export interface TensorDesc {
  readonly name: string;
  /** Full static shape. For data inputs, the shape of ONE example (the
   * generated step prepends the batch dimension). */
  readonly shape: readonly number[];
  readonly dtype: RuntimeDType;
  /** For an i32 label input: labels lie in [0, classes). The runtime's
   * synthetic dataset draws labels from this range. */
  readonly classes?: number;
}

/** Parameter initialisation, resolved at compile time to plain numbers
 * (Glorot bounds already computed from the fan-in/fan-out). */
export type InitDesc =
  | { readonly kind: "zeros" }
  | { readonly kind: "constant"; readonly value: number }
  | { readonly kind: "uniform"; readonly low: number; readonly high: number }
  | { readonly kind: "normal"; readonly mean: number; readonly std: number }
  /** Orthogonal square blocks along the longer axis of a rows × cols matrix
   * (runtime/train/orthogonal.ts). */
  | { readonly kind: "orthogonal"; readonly rows: number; readonly cols: number }
  /** Every element given (row-major), resolved at compile time: literal
   * `values`, or `inverse_of` another tensor's. */
  | { readonly kind: "values"; readonly values: readonly number[] }
  /** A scalar state tensor holding the minibatches per epoch of the train
   * split, ⌊n_train / batchSize⌋, filled by the trainer (an epoch-based
   * learning-rate schedule's epoch length; the step never changes it). */
  | { readonly kind: "steps_per_epoch" }
  /** 1 (on_plateau's rate scale, which the trainer changes). */
  | { readonly kind: "one" };

/** A parameter or state tensor: its name, shape, type and initialisation. */
export interface ParamDesc extends TensorDesc {
  readonly init: InitDesc;
}

/** The tutorial's early stopping (patience counted in minibatch iterations). */
export interface EarlyStoppingDesc {
  /** Initial patience in minibatch iterations; null when `patienceEpochs`
   * gives it instead. */
  readonly patience: number | null;
  /** Initial patience in epochs (`patience_epochs:`), converted by the
   * runtime with the phase's minibatches per epoch (known only once the data
   * is loaded); present only when the spec gives it. */
  readonly patienceEpochs?: number;
  readonly patienceIncrease: number;
  readonly improvementThreshold: number;
  /** Validate every this many minibatches; the tutorial uses
   * min(n_train_batches, patience / 2), written as `null`. */
  readonly validationFrequency: number | null;
}

/** One training phase of the spec: its step, epochs, validation and early
 * stopping, learning-rate plateau, sampling. */
export interface PhaseDesc {
  readonly name: string;
  readonly epochs: number;
  /** A sampling phase: `draws` steps on an empty batch (no data), one pass
   * (epochs is 1); its step only updates state tensors. */
  readonly draws?: number;
  /** Sampling phases: state tensors recorded after every draw. */
  readonly record?: readonly RecordDesc[];
  /** Sampling phases: the graph name the step reports (its logged value). */
  readonly report?: string;
  /** Index of the train-step function of the compiled model for this phase. */
  readonly step: number;
  readonly shuffle: boolean;
  readonly earlyStopping: EarlyStoppingDesc | null;
  /** Name of the eval metric used for model selection, e.g. "error". */
  readonly monitor: string | null;
  /** false: the metrics read an input this phase's step never sees (the
   * labels, during unsupervised pretraining), so validating would only
   * measure the untrained classifier; the phase skips it. Default true. */
  readonly validate?: boolean;
  /** The on_plateau learning-rate schedule, driven by the trainer after each
   * validation (runtime/train/plateau.ts). */
  readonly plateau?: PlateauDesc;
}

/** A state tensor recorded after every draw of a sampling phase, written as
 * <name>.safetensors ([draws, ...shape]) and <name>_trace.png, with its
 * empirical mean and covariance (over draws and every axis but the last)
 * printed beside the targets held by the state tensors targetMean/Cov. */
export interface RecordDesc {
  readonly name: string;
  readonly state: string;
  readonly targetMean?: string;
  readonly targetCov?: string;
}

/** rnnslu.py's decay: after a validation `patienceEpochs` or more epochs past
 * the best one, the scalar state `scaleState` (the rate's factor, 1 at the
 * start) is multiplied by `factor`, and with `restoreBest` the best
 * parameters come back; the phase ends once lr × scale < minLr. */
export interface PlateauDesc {
  readonly lr: number;
  readonly factor: number;
  readonly patienceEpochs: number;
  readonly minLr: number;
  readonly restoreBest: boolean;
  readonly scaleState: string;
}

/** A metric scored over a whole split rather than averaged per example:
 * chunk_f1 is conlleval's F1 (percent, higher is better) of the predicted
 * label sequences, which the evaluation writes as `tokens` label indices per
 * example; the gold labels and lengths are the batch's inputs `labels` and
 * `length`, the label names the dataset's. */
export type SplitMetricDesc =
  | { readonly name: string; readonly kind: "chunk_f1"; readonly labels: string; readonly length: string; readonly tokens: number }
  /** 100 · Σ numerator / Σ denominator over the split: the evaluation writes
   * the numerator as the metric and the denominator as `<name>.den`. */
  | { readonly name: string; readonly kind: "ratio" };

/** The evaluation output holding a ratio metric's denominator: `<name>.den`. */
export const RATIO_DENOMINATOR = ".den";

/** The evaluation's outputs: every metric, and each ratio's denominator. */
export function evalOutputNames(desc: ModelDescription): string[] {
  const ratios = (desc.splitMetrics ?? []).filter((m) => m.kind === "ratio").map((m) => `${m.name}${RATIO_DENOMINATOR}`);
  return [...desc.metrics, ...ratios];
}

/** The spec's `data:` section as the runtime reads it: dataset, batch sizes,
 * split ranges, shuffling. */
export interface DataDesc {
  /** Dataset identifier: "mnist" (embedded default), "mnist-idx", "fashion-mnist", ... */
  readonly dataset: string;
  readonly batchSize: number;
  /** Row ranges [start, end) of the source's train pool, and where test comes from. */
  readonly splits: {
    readonly train: readonly [number, number];
    readonly valid: readonly [number, number];
    readonly test: readonly [number, number];
  };
  /** Per-split source: "train" pool or the separate "test" pool (t10k). */
  readonly testSource: "train" | "test";
  /** Pixel scaling applied on load (MNIST bytes / 255 → [0, 1]). */
  readonly scale: number;
  /** atis: the fold and the context window (the splits are the fold's own). */
  readonly atis?: { readonly fold: number; readonly window: number };
  /** rt-polarity: the vocabulary size (the split is the spec's seed's). */
  readonly polarity?: { readonly vocabulary: number };
}

/** Everything the runtime knows of a compiled spec (generated model.ts's
 * `description`): parameters, state, inputs, phases, metrics, data, images,
 * samplers. */
export interface ModelDescription {
  readonly name: string;
  /** sha256 of the spec text the model was generated from (hex, 16 chars). */
  readonly specHash: string;
  /** The seed of every random draw: initialisation, shuffles, the random
   * ops' counters. The spec's, or a run's own (`ModelOptions.seed`). */
  readonly seed: number;
  /** Set when a run's seed replaced the spec's (`dlt-train --seed`): the
   * spec's seed, which the data's seeded splits keep, so that every seed of
   * a model is validated and tested on the same examples. */
  readonly dataSeed?: number;
  readonly params: readonly ParamDesc[];
  /** Non-trained tensors carried between steps (optimizer slots, chains). */
  readonly state: readonly ParamDesc[];
  /** Per-example data inputs, e.g. x: [784] f32, y: [] i32. */
  readonly inputs: readonly TensorDesc[];
  readonly data: DataDesc;
  readonly phases: readonly PhaseDesc[];
  /** Names of the eval metrics, e.g. ["error", "cost"]. */
  readonly metrics: readonly string[];
  /** Graph values the evaluation also writes per example, `out[name]` of
   * evalBatchSize × prod(shape) (compiled on request: compile's `outputs`,
   * e.g. a classifier's probabilities); absent when none. */
  readonly outputs?: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** The metrics among them scored over a whole split (absent: none). */
  readonly splitMetrics?: readonly SplitMetricDesc[];
  /** Batch size the eval function was compiled for. */
  readonly evalBatchSize: number;
  /** Images of parameters (filters) the trainer writes into the run
   * directory (spec section `images:`); absent when there are none. */
  readonly images?: readonly ImageDesc[];
  /** Sample programs run after training (CompiledModel.sample), in order. */
  readonly samplers?: readonly SamplerDesc[];
}

/** A sampler: chains start from the first `chains` test examples of `input`;
 * each of `rows` calls advances them and yields one image row of `chains`
 * tiles of `imageShape`, written to <run>/<name>.png. */
export interface SamplerDesc {
  readonly name: string;
  /** A data input (chains start from the first test examples) or, with
   * `fromState`, a state tensor (chains start from its value). */
  readonly input: string;
  readonly fromState?: true;
  readonly chains: number;
  readonly rows: number;
  readonly imageShape: readonly [number, number];
  readonly spacing: number;
  /** Each row's `show` is a frame of notes from MIDI note `low`, `dt` s long:
   * the rows are also written as <name>.mid and <name>_roll.png. */
  readonly midi?: { readonly low: number; readonly dt: number };
}

/** When the trainer writes an image: once training has finished (`end`,
 * <name>.png), at the end of every phase (`phase`, <name>_<phase>.png), or
 * after every epoch (`epoch`, <name>_epoch_<E>.png; <name>_<phase>_epoch_<E>.png
 * when the model has several phases; E counts from 1, as the logs). */
export type ImageWhen = "end" | "phase" | "epoch";

/** The tutorial's tile_raster_images of a parameter or state tensor: each
 * row (each column with `transpose`, i.e. the rows of its transpose) is an
 * image of `imageShape`; the first tiles[0]·tiles[1] rows are tiled with
 * `spacing` black pixels between them and written as a grayscale PNG. */
export interface ImageDesc {
  readonly name: string;
  readonly tensor: string;
  readonly source: "param" | "state";
  readonly transpose: boolean;
  /** [height, width] of one image. */
  readonly imageShape: readonly [number, number];
  /** [rows, columns] of the grid. */
  readonly tiles: readonly [number, number];
  /** Black pixels between images: [between rows, between columns]. */
  readonly spacing: readonly [number, number];
  /** Scale each image to [0, 1] by its own minimum and maximum. */
  readonly scaleRows: boolean;
  readonly when: ImageWhen;
}

/** A batch: one typed array per data input, batch-major, named as in `inputs`. */
export type Batch = Readonly<Record<string, Float32Array | Int32Array>>;

/** A generated model (generated/<model>/model.ts's `Model`, or the WebGPU
 * model createGpuModel makes): its buffers and the steps the trainer calls. */
export interface CompiledModel {
  readonly desc: ModelDescription;
  /** Parameter and state buffers, owned by the model, updated in place. */
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly state: Readonly<Record<string, Float32Array>>;
  /** One SGD step of phase `desc.phases[p].step` on a batch of
   * `desc.data.batchSize` examples. `step` is the global step counter that
   * random ops mix into their counter. Returns the minibatch training cost;
   * a GPU model (runtime/webgpu/executor.ts) returns it as a promise. */
  trainStep(stepFn: number, batch: Batch, step: number): number | Promise<number>;
  /** Per-example metrics on a batch of `desc.evalBatchSize` examples, written
   * into `out[metric]` (each of length evalBatchSize); asynchronous on a GPU. */
  evaluate(batch: Batch, out: Record<string, Float32Array>): void | Promise<void>;
  /** For a model whose parameters and state live elsewhere (a GPU): copies
   * the host `params` / `state` there. The trainer calls it after
   * initialising, restoring or replacing them on the host. */
  upload?(): void;
  /** The reverse of `upload`: refreshes the host `params` / `state`. The
   * trainer awaits it before reading them (checkpoints, best-model
   * snapshots). Models without it keep the host arrays current. */
  download?(): Promise<void>;
  /** The values computed by the last call of a training step, in execution
   * order, each labelled with its op and spec location — read after a step
   * produced a non-finite cost, to name the op where it first appeared. */
  probe?(stepFn: number): ReadonlyArray<readonly [string, ArrayLike<number>]>;
  /** Sampler `index` of `desc.samplers`: one call on the chains in `batch`
   * (the sampler's input), writing `out.next` (the advanced chains) and
   * `out.show` (what the call's image row shows). `call` is the counter its
   * random draws mix in. CPU only. */
  sample?(index: number, batch: Batch, out: Record<string, Float32Array>, call: number): void;
  /** A copy of `data` (a split's inputs) placed in the model's own memory
   * for good, or undefined where that memory cannot take it. A batch whose
   * arrays are views of the copy is read where it lies: no copy a step.
   * CPU models with an input that only matrix products read have it
   * (runtime/cpu/arena.ts). */
  resident?(data: Float32Array): Float32Array | undefined;
}

/** What a model is built with besides its description (`new Model(options)`). */
export interface ModelOptions {
  /** Another seed for the run's random draws (initialisation, shuffles,
   * dropout and sampler draws): an integer 0 .. 2^32 - 1. The data's splits
   * keep the spec's seed. */
  readonly seed?: number;
}

/** The largest seed: the WebGPU kernels take it as a u32. */
export const MAX_SEED = 0xffffffff;

/** A seed written as text (`--seed N`, a checkpoint's "dlt.seed"): decimal
 * digits up to MAX_SEED, else undefined. */
export function parseSeed(text: string): number | undefined {
  const n = Number(text);
  return /^[0-9]+$/.test(text) && n <= MAX_SEED ? n : undefined;
}

/** The description a model built with `options` runs: the spec's, or a copy
 * with the run's seed (the spec's kept as `dataSeed`). Throws RangeError on
 * a seed that is not an integer 0 .. 2^32 - 1. */
export function describeRun(description: ModelDescription, options: ModelOptions = {}): ModelDescription {
  const seed = options.seed;
  if (seed === undefined || seed === description.seed) return description;
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_SEED) throw new RangeError(`seed ${seed}: a seed is an integer 0 .. ${MAX_SEED}`);
  return { ...description, seed, dataSeed: description.dataSeed ?? description.seed };
}

/** The class a generated model.ts exports as `Model`. */
export type ModelConstructor = new (options?: ModelOptions) => CompiledModel;
