// The runtime's programmatic API, as `dlt/runtime` exports it (runtime/index.ts):
// train a generated model, evaluate it, save and load its parameters. Thin
// wrappers over the trainer (runtime/train/) for a caller who is not the CLI;
// nothing here touches the file system, so a page or a worker uses the same
// functions (runtime/node/api.ts adds run folders and files for Node).
import type { CompiledModel } from "./compiled-model.ts";
import { BEST_FILE, CHECKPOINT_FILE, decodeSaved, encodeParams } from "./checkpoint/state.ts";
import type { TrainerState } from "./checkpoint/state.ts";
import type { Split, Splits } from "./data/dataset.ts";
import { silentLogger } from "./progress.ts";
import type { Logger } from "./progress.ts";
import { copyBuffers, Evaluator, initModel } from "./train/model-ops.ts";
import { MemoryRunStore } from "./train/run-store.ts";
import type { RunStore } from "./train/run-store.ts";
import { runTraining } from "./train/trainer.ts";
import type { TrainOptions, TrainSummary } from "./train/trainer.ts";

/** Options of {@link train}: the trainer's options, with progress callbacks
 * that may be given one by one. */
export interface TrainApiOptions extends Omit<TrainOptions, "log"> {
  /** Where checkpoints (`checkpoint.safetensors`, `best.safetensors`), the
   * metrics log (`metrics.jsonl`) and images go; a fresh in-memory store by
   * default. Resuming (`resume: true`) reads the checkpoint from it. */
  readonly store?: RunStore;
  /** Progress callbacks, all optional: `batch` after every minibatch
   * (cheap: it runs on the training loop), `record` after every validation
   * with the line the CLI appends to metrics.jsonl, `info` for messages. */
  readonly log?: Partial<Logger>;
}

/** Trains `model` on `data` through every phase of its spec (early stopping,
 * best-model selection, checkpoints in `options.store`), or until
 * `options.maxSteps` / `options.shouldStop`. Resolves to the run's summary
 * (best validation value, test value at the best model, epochs, steps).
 * Rejects with a TrainingError when training diverges (the message names
 * the op where a non-finite value first appeared) and a CheckpointError
 * when `resume` finds no usable checkpoint.
 *
 * @example
 * const summary = await train(new Model(), splits, { maxSteps: 100, log: { record: (r) => console.log(r.valid) } });
 */
export async function train(model: CompiledModel, data: Splits, options: TrainApiOptions = {}): Promise<TrainSummary> {
  const { store, log, ...rest } = options;
  return runTraining(model, data, store ?? new MemoryRunStore(), { ...rest, log: { ...silentLogger, ...log } });
}

/** The spec's metrics (`metrics:` section) of `model`'s current parameters
 * over every example of `split`, as means per example (an error rate as a
 * fraction; a chunk F1 in percent, as conlleval prints it). `what` names the
 * split in error messages. */
export async function evaluate(model: CompiledModel, split: Split, what = "split"): Promise<Record<string, number>> {
  return new Evaluator(model).evaluate(split, what);
}

/** What {@link loadCheckpoint} found in the file. */
export interface LoadedCheckpoint {
  /** The trainer's position when the file is a full training checkpoint
   * (`checkpoint.safetensors`); null for a parameters file
   * (`best.safetensors`, {@link saveCheckpoint}'s output). */
  readonly trainer: TrainerState | null;
  /** Set when the file was written for another version of the spec whose
   * tensors still match this model by name and shape. */
  readonly specChanged?: string;
}

/** Loads saved parameters into `model`: a training checkpoint (its
 * parameters and state tensors) or a parameters file, checked against the
 * model's description (every tensor by name, dtype and shape; CheckpointError
 * otherwise). State tensors a parameters file lacks start as a fresh run
 * starts them. `file` names the bytes in error messages. To continue
 * training from a checkpoint, use `train(..., { resume: true, store })`. */
export async function loadCheckpoint(model: CompiledModel, bytes: Uint8Array, file = CHECKPOINT_FILE): Promise<LoadedCheckpoint> {
  const desc = model.desc;
  const saved = decodeSaved(bytes, file, desc);
  initModel(model);
  copyBuffers(desc.params, saved.params, model.params);
  if (saved.state) copyBuffers(desc.state, saved.state, model.state);
  model.upload?.();
  return { trainer: saved.trainer, ...(saved.specChanged ? { specChanged: saved.specChanged } : {}) };
}

/** `model`'s parameters as a safetensors file, in the layout of a run's
 * `best.safetensors`: what {@link loadCheckpoint}, `dlt-eval --checkpoint`
 * and `dlt-export` read. `info` is added to the file's metadata. */
export async function saveCheckpoint(model: CompiledModel, info: Readonly<Record<string, string>> = {}): Promise<Uint8Array> {
  await model.download?.();
  return encodeParams(model.desc, model.params, { ...info });
}

export { BEST_FILE, CHECKPOINT_FILE };
