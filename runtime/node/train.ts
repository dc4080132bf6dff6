// Node binding of the trainer: a run directory on disk (checkpoint.safetensors,
// best.safetensors, metrics.jsonl), written atomically.
import type { CompiledModel } from "../model.ts";
import type { Splits } from "../data/dataset.ts";
import { runTraining } from "../train/trainer.ts";
import type { TrainOptions, TrainSummary } from "../train/trainer.ts";
import { NodeRunStore } from "./store.ts";

export interface NodeTrainOptions extends TrainOptions {
  /** Run directory, created if missing. */
  readonly outDir: string;
}

/** Trains `model` on `splits`, keeping checkpoints and logs in opts.outDir;
 * with opts.resume, continues from outDir/checkpoint.safetensors. */
export function train(model: CompiledModel, splits: Splits, opts: NodeTrainOptions): Promise<TrainSummary> {
  return runTraining(model, splits, new NodeRunStore(opts.outDir), opts);
}
