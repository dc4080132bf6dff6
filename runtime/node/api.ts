// The Node half of the runtime API (`dlt/runtime/node`): the browser-safe
// functions of runtime/api.ts given run folders and files. `train` with an
// `outDir` keeps its checkpoints, metrics log and PNG images in that folder
// under the run-folder lock (E043) and the no-silent-overwrite rule (E042),
// as dlt-train does; `loadCheckpoint` and `saveCheckpoint` take paths.
import { readFileSync } from "node:fs";
import type { CompiledModel, ModelDescription } from "../compiled-model.ts";
import { loadCheckpoint as loadBytes, saveCheckpoint as saveBytes, train as trainInStore } from "../api.ts";
import type { LoadedCheckpoint, TrainApiOptions } from "../api.ts";
import { CheckpointError } from "../checkpoint/safetensors.ts";
import type { Splits } from "../data/dataset.ts";
import { silentLogger } from "../progress.ts";
import type { TrainSummary } from "../train/trainer.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { loadRunData } from "./main.ts";
import { train as trainInFolder } from "./run.ts";

/** Options of the Node {@link train}: those of `dlt/runtime`'s, or, with
 * `outDir`, a run folder on disk instead of a store. */
export type NodeTrainApiOptions =
  | TrainApiOptions
  | (Omit<TrainApiOptions, "store"> & {
      /** The run folder (created if missing): checkpoint.safetensors,
       * best.safetensors, metrics.jsonl and the spec's images as PNG. */
      readonly outDir: string;
      /** A fresh run over an earlier one moves that aside (to
       * `<outDir>.old-<time>`) instead of refusing (E042). */
      readonly overwrite?: boolean;
    });

/** Trains `model` on `data` as `dlt/runtime`'s `train` does; with
 * `options.outDir`, in a run folder on disk, which `resume: true`
 * continues bit-exactly and which `dlt-train --resume --out DIR` and
 * `dlt-eval --out DIR` also read. The folder is locked while training. */
export async function train(model: CompiledModel, data: Splits, options: NodeTrainApiOptions = {}): Promise<TrainSummary> {
  if (!("outDir" in options)) return trainInStore(model, data, options);
  const { log, ...rest } = options;
  return trainInFolder(model, data, { ...rest, log: { ...silentLogger, ...log } });
}

/** Loads saved parameters into `model` from a file path (a run's
 * `best.safetensors` or `checkpoint.safetensors`, or any file
 * {@link saveCheckpoint} wrote) or from the file's bytes. */
export async function loadCheckpoint(model: CompiledModel, source: string | Uint8Array): Promise<LoadedCheckpoint> {
  if (typeof source !== "string") return loadBytes(model, source);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(source));
  } catch (e) {
    throw new CheckpointError(`${source}: cannot read the checkpoint (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return loadBytes(model, bytes, source);
}

/** `model`'s parameters as a safetensors file (see `dlt/runtime`'s
 * saveCheckpoint); with `file`, also written there atomically (a crash
 * leaves the old file or the new, never a torn one). */
export async function saveCheckpoint(model: CompiledModel, file?: string, info: Readonly<Record<string, string>> = {}): Promise<Uint8Array> {
  const bytes = await saveBytes(model, info);
  if (file !== undefined) writeFileAtomic(file, bytes);
  return bytes;
}

/** Where a model's data comes from, for {@link loadData}. */
export interface LoadDataOptions {
  /** The dataset's files (dlt-train --data): the MNIST or Fashion-MNIST
   * folder, the ATIS folder, the rt-polarity folder, the Nottingham zip's
   * folder...; the embedded digits or the default location otherwise. */
  readonly dataDir?: string;
  /** Another dataset of the same layout (dlt-train --dataset), e.g.
   * "fashion-mnist" for an MNIST spec, "jsb" for a Nottingham one. */
  readonly dataset?: string;
  /** Another cross-validation fold (atis 0-4, rt-polarity 0-9). */
  readonly fold?: number;
}

/** The train, validation and test splits of the spec's dataset, read as
 * dlt-train reads them (rejects with a DataError naming the file and item
 * on bad data). */
export async function loadData(desc: ModelDescription, options: LoadDataOptions = {}): Promise<Splits> {
  return loadRunData(desc, { dataDir: options.dataDir, dataset: options.dataset, fold: options.fold });
}
