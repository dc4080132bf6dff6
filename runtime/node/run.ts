// Node side of training runs: atomic file replacement, the run-directory
// store the trainer writes checkpoints and metrics into (checkpoint.safetensors,
// best.safetensors, metrics.jsonl), and `train` bound to such a directory.
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync, appendFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { CompiledModel } from "../compiled-model.ts";
import type { Splits } from "../data/dataset.ts";
import { runTraining } from "../train/trainer.ts";
import type { TrainOptions, TrainSummary } from "../train/trainer.ts";
import type { RunStore } from "../train/run-store.ts";
import { encodePng } from "../image/png.ts";

export interface AtomicWriteOptions {
  /** Bytes per write call (default 4 MiB). */
  readonly chunkSize?: number;
  /** Called after each chunk with the bytes written so far. Tests throw from
   * it to simulate a crash midway; nothing else should need it. */
  readonly onChunk?: (written: number) => void;
}

/** Writes `bytes` to `file` atomically: into `<file>.tmp-<pid>`, fsync, then
 * rename over `file` (atomic on POSIX file systems), then fsync the
 * directory so the rename itself survives a power cut. If anything fails
 * before the rename the temporary file is removed and `file` is untouched,
 * so a crash mid-write never leaves a torn checkpoint. */
export function writeFileAtomic(file: string, bytes: Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const chunk = opts.chunkSize ?? 4 * 1024 * 1024;
  let fd = openSync(tmp, "w");
  try {
    let written = 0;
    while (written < bytes.length) {
      const n = writeSync(fd, bytes, written, Math.min(chunk, bytes.length - written));
      written += n;
      opts.onChunk?.(written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  // Directory fsync is not supported everywhere (e.g. Windows); the rename
  // has happened either way, so failing here would only hide a good write.
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

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
}

/** Trains `model` on `splits`, keeping checkpoints, logs and images (PNG) in
 * opts.outDir; with opts.resume, continues from outDir/checkpoint.safetensors. */
export function train(model: CompiledModel, splits: Splits, opts: NodeTrainOptions): Promise<TrainSummary> {
  return runTraining(model, splits, new NodeRunStore(opts.outDir), { ...opts, encodeImage: opts.encodeImage ?? encodePng });
}
