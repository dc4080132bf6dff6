// The messages between the page (main.ts) and its worker (worker.ts). Plain
// data only (structured clone); pixels and checkpoints travel as bytes.
import type { Diagnostic } from "../../compiler/frontend/diagnostics.ts";
import type { MetricsRecord } from "dlt/runtime";

export type Backend = "webgpu" | "cpu";

export type ToWorker =
  /** Compile the spec; answered by `compiled`. */
  | { readonly type: "compile"; readonly text: string; readonly file: string }
  /** Compile (if needed) and train from the start, or from `checkpoint` (a
   * full training checkpoint's bytes, e.g. one trained in Node). */
  | { readonly type: "train"; readonly text: string; readonly file: string; readonly backend: Backend; readonly chunk: number; readonly maxSteps?: number; readonly checkpoint?: Uint8Array; readonly digitsUrl: string }
  | { readonly type: "pause" }
  | { readonly type: "resume" }
  | { readonly type: "stop" }
  /** The run's last checkpoint, answered by `checkpoint`. */
  | { readonly type: "checkpoint" }
  /** The classifier's probabilities for one 28×28 image (784 values in [0, 1]), answered by `probabilities`. */
  | { readonly type: "classify"; readonly pixels: Float32Array }
  /** Predicted × true class counts over the test split, answered by `confusion`. */
  | { readonly type: "confusion" }
  /** The spec's samplers (an RBM's Gibbs chains from test digits), answered by `image` messages. */
  | { readonly type: "samples" };

export interface TrainProgress {
  readonly step: number;
  readonly epoch: number;
  readonly phase: string;
  readonly cost: number;
  readonly examplesPerSecond: number;
}

export type FromWorker =
  /** The worker's modules are evaluated and it listens (sent once, first). */
  | { readonly type: "ready" }
  | { readonly type: "compiled"; readonly ok: boolean; readonly diagnostics: readonly Diagnostic[]; readonly files: Readonly<Record<string, string>>; readonly lowered: string; readonly model: string | null; readonly ms: number }
  | { readonly type: "started"; readonly backend: Backend; readonly device: string; readonly note?: string }
  | { readonly type: "progress"; readonly progress: TrainProgress }
  | { readonly type: "record"; readonly record: MetricsRecord }
  /** First-layer filters (or the spec's image) as grayscale pixels. */
  | { readonly type: "image"; readonly name: string; readonly width: number; readonly height: number; readonly pixels: Uint8Array }
  | { readonly type: "state"; readonly state: "running" | "paused" | "finished" | "stopped"; readonly steps: number; readonly summary?: string }
  | { readonly type: "checkpoint"; readonly bytes: Uint8Array | null; readonly name: string }
  | { readonly type: "probabilities"; readonly probabilities: readonly number[] }
  /** matrix[true][predicted], and the error rate it implies. */
  | { readonly type: "confusion"; readonly matrix: readonly (readonly number[])[]; readonly error: number }
  | { readonly type: "error"; readonly message: string };
