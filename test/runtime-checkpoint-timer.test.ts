// Time-based checkpoints (an injected clock, no sleeping): mid-epoch
// checkpoints every `checkpointEveryMinutes`, from which a resume is bit-exact;
// 0 keeps epoch-end checkpoints only. And the run folder's lock in process:
// a lock of another host is refused, a stale one taken over, and the lock
// is released when training fails.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Model as LogReg } from "../generated/logreg/model.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { decodeSafetensors } from "../runtime/checkpoint/safetensors.ts";
import type { Splits } from "../runtime/data/dataset.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { train } from "../runtime/node/run.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore } from "../runtime/train/run-store.ts";
import { runTraining } from "../runtime/train/trainer.ts";

let splits: Splits;
beforeAll(async () => {
  splits = await loadDataset(new LogReg().desc.data, { inputs: new LogReg().desc.inputs, seed: 1 });
});
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A store that keeps a copy of every checkpoint written. */
class RecordingStore extends MemoryRunStore {
  readonly checkpoints: Uint8Array[] = [];
  override async writeAtomic(name: string, bytes: Uint8Array): Promise<void> {
    if (name === "checkpoint.safetensors") this.checkpoints.push(bytes.slice());
    return super.writeAtomic(name, bytes);
  }
}

function position(bytes: Uint8Array): { epoch: number; batch: number; globalStep: number } {
  return JSON.parse(decodeSafetensors(bytes, "ck").metadata["dlt.state"]!) as { epoch: number; batch: number; globalStep: number };
}

/** A clock that moves `ms` (default one second) every time it is read. */
function ticking(ms = 1000): () => number {
  let t = 0;
  return () => (t += ms);
}

const bytes = (m: CompiledModel) => Object.values(m.params).map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("hex"));
const noElapsed = (lines: readonly string[]) => lines.map((l) => ({ ...(JSON.parse(l) as object), elapsed: 0 }));

describe("time-based checkpoints", () => {
  const N = 40; // logreg: 13 minibatches an epoch, so N ends mid-epoch 4

  it("are written mid-epoch every checkpointEveryMinutes of the run's clock, and a resume from one is bit-exact", async () => {
    const straight = new LogReg();
    const plain = new RecordingStore();
    await runTraining(straight, splits, plain, { maxSteps: N, log: silentLogger, now: ticking(), checkpointEveryMinutes: 0 });
    // 0: epoch ends (13, 26, 39) and the stop (40) only.
    expect(plain.checkpoints.map((c) => position(c).globalStep)).toEqual([13, 26, 39, 40]);

    const timed = new LogReg();
    const store = new RecordingStore();
    await runTraining(timed, splits, store, { maxSteps: N, log: silentLogger, now: ticking(), checkpointEveryMinutes: 0.1 });
    // The checkpoints change nothing.
    expect(bytes(timed)).toEqual(bytes(straight));
    const mid = store.checkpoints.filter((c) => position(c).batch > 0 && position(c).globalStep < N);
    expect(mid.length).toBeGreaterThan(5);

    // Resume (a new model, as a new process) from one mid-epoch checkpoint.
    const cut = mid.find((c) => position(c).globalStep > 15)!;
    expect(position(cut)).toMatchObject({ epoch: 1 });
    const from = new MemoryRunStore();
    from.files.set("checkpoint.safetensors", cut);
    for (const l of store.lines("metrics.jsonl")) await from.appendLine("metrics.jsonl", l);
    const resumed = new LogReg();
    const s = await runTraining(resumed, splits, from, { resume: true, maxSteps: N, log: silentLogger, now: ticking(), checkpointEveryMinutes: 0.1 });
    expect(s.steps).toBe(N);
    expect(bytes(resumed)).toEqual(bytes(straight));
    expect(noElapsed(from.lines("metrics.jsonl"))).toEqual(noElapsed(plain.lines("metrics.jsonl")));
  });

  it("default to every 5 minutes", async () => {
    // 10 s per clock read and a few reads a step: an epoch (13 steps, an
    // epoch-end checkpoint) takes over 5 minutes, so one falls inside each.
    const store = new RecordingStore();
    await runTraining(new LogReg(), splits, store, { maxSteps: 39, log: silentLogger, now: ticking(10_000) });
    const mid = store.checkpoints.map(position).filter((p) => p.batch > 0);
    expect(mid.map((p) => p.epoch)).toEqual([0, 1, 2]);
    // The same clock at 1 s a read: 5 minutes never pass between epoch ends.
    const slow = new RecordingStore();
    await runTraining(new LogReg(), splits, slow, { maxSteps: 39, log: silentLogger, now: ticking(1000) });
    expect(slow.checkpoints.map(position).filter((p) => p.batch > 0)).toEqual([]);
  });

  it("a negative interval is refused", async () => {
    await expect(runTraining(new LogReg(), splits, new MemoryRunStore(), { maxSteps: 1, checkpointEveryMinutes: -1 })).rejects.toThrow(/checkpointEveryMinutes must be a number ≥ 0/);
  });
});

describe("the run folder's lock, in process", () => {
  function folder(): string {
    const d = mkdtempSync(join(tmpdir(), "dlt-lock-"));
    dirs.push(d);
    return d;
  }

  it("a lock held on another host is refused, naming pid and host (E043)", async () => {
    const dir = folder();
    writeFileSync(join(dir, "train.lock"), JSON.stringify({ pid: 4242, host: "elsewhere.example", started: "2026-01-01T00:00:00.000Z" }));
    await expect(train(new LogReg(), splits, { outDir: dir, maxSteps: 1, log: silentLogger }))
      .rejects.toThrow(/^error\[E043\]: .* is in use by dlt-train pid 4242 on host elsewhere\.example \(since 2026-01-01T00:00:00\.000Z\); if that process is gone, remove .*train\.lock$/);
    expect(readdirSync(dir)).toEqual(["train.lock"]);
  });

  it("a lock of this process is refused too (two runs in one process)", async () => {
    const dir = folder();
    writeFileSync(join(dir, "train.lock"), JSON.stringify({ pid: process.pid, host: hostname(), started: "x" }));
    await expect(train(new LogReg(), splits, { outDir: dir, maxSteps: 1, log: silentLogger })).rejects.toThrow(`pid ${process.pid} (this process)`);
  });

  it("a lock whose pid is gone is taken over with a warning, and released at the end", async () => {
    const dir = folder();
    const dead = spawnSync(process.execPath, ["-e", "0"]).pid!;
    writeFileSync(join(dir, "train.lock"), JSON.stringify({ pid: dead, host: hostname(), started: "then" }));
    const infos: string[] = [];
    const s = await train(new LogReg(), splits, { outDir: dir, maxSteps: 3, log: { ...silentLogger, info: (m) => infos.push(m) } });
    expect(s.steps).toBe(3);
    expect(infos).toContain(`warning: took over the stale lock ${join(dir, "train.lock")} (pid ${dead} no longer runs on ${hostname()})`);
    expect(readdirSync(dir).sort()).toEqual(["checkpoint.safetensors", "metrics.jsonl"]);
  });

  it("a run folder that cannot be one is refused in one line", async () => {
    const dir = folder();
    writeFileSync(join(dir, "file"), "x");
    await expect(train(new LogReg(), splits, { outDir: join(dir, "file", "run"), maxSteps: 1, log: silentLogger }))
      .rejects.toThrow(/^.*file\/run cannot be used as a run folder: ENOTDIR: not a directory, mkdir '.*file\/run'$/);
  });

  it("is released when training fails", async () => {
    const dir = folder();
    await train(new LogReg(), splits, { outDir: dir, maxSteps: 3, log: silentLogger });
    writeFileSync(join(dir, "checkpoint.safetensors"), "torn");
    await expect(train(new LogReg(), splits, { outDir: dir, resume: true, log: silentLogger })).rejects.toThrow();
    expect(readdirSync(dir)).not.toContain("train.lock");
    expect(readFileSync(join(dir, "checkpoint.safetensors"), "utf8")).toBe("torn");
  });
});
