// Node side of training runs: the run-directory store the trainer writes
// checkpoints, metrics and images into (checkpoint.safetensors,
// best.safetensors, metrics.jsonl, *.png), and `train` bound to such a
// directory.
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { CompiledModel } from "../compiled-model.ts";
import type { Splits } from "../data/dataset.ts";
import { runTraining } from "../train/trainer.ts";
import type { TrainOptions, TrainSummary } from "../train/trainer.ts";
import type { RunStore } from "../train/run-store.ts";
import { encodePng } from "../image/png.ts";
import { writeFileAtomic } from "./atomic-write.ts";
import { openRunDir } from "./run-dir.ts";
import type { RunDir } from "./run-dir.ts";

/** A run directory on disk (created on first write). */
class NodeRunStore implements RunStore {
  constructor(readonly dir: string) {}

  where(name: string): string {
    return join(this.dir, name);
  }

  private ensureDir(): void {
    mkdirSync(this.dir, { recursive: true });
  }

  async read(name: string): Promise<Uint8Array | null> {
    const file = this.where(name);
    return existsSync(file) ? new Uint8Array(readFileSync(file)) : null;
  }

  async writeAtomic(name: string, bytes: Uint8Array): Promise<void> {
    this.ensureDir();
    writeFileAtomic(this.where(name), bytes);
  }

  async appendLine(name: string, line: string): Promise<void> {
    this.ensureDir();
    appendFileSync(this.where(name), line + "\n");
  }

  async truncateLines(name: string, lines: number): Promise<void> {
    this.ensureDir();
    const file = this.where(name);
    const text = existsSync(file) ? readFileSync(file, "utf8") : "";
    // Log lines are JSON, never empty; a torn last line (crash mid-append)
    // is past the checkpoint's count and is dropped with the rest.
    const kept = text.split("\n").filter((l) => l.length > 0).slice(0, lines);
    writeFileSync(file, kept.map((l) => l + "\n").join(""));
  }
}

export interface NodeTrainOptions extends TrainOptions {
  /** Run directory, created if missing. */
  readonly outDir: string;
  /** A fresh run over an earlier one moves that aside (to
   * `<outDir>.old-<time>`) instead of refusing (E042). */
  readonly overwrite?: boolean;
  /** The directory, already taken with openRunDir (run-dir.ts) by the
   * caller, who releases it; without it train() takes and releases it. */
  readonly runDir?: RunDir;
}

/** Trains `model` on `splits`, keeping checkpoints, logs and images (PNG) in
 * opts.outDir; with opts.resume, continues from outDir/checkpoint.safetensors.
 * The directory is locked for the run (E043); a fresh run refuses to start
 * over an earlier one unless opts.overwrite (E042). */
export async function train(model: CompiledModel, splits: Splits, opts: NodeTrainOptions): Promise<TrainSummary> {
  const held = opts.runDir ?? openRunDir(opts.outDir, { resume: opts.resume, overwrite: opts.overwrite, log: opts.log });
  try {
    return await runTraining(model, splits, new NodeRunStore(opts.outDir), { ...opts, encodeImage: opts.encodeImage ?? encodePng });
  } finally {
    if (!opts.runDir) held.release();
  }
}
