// The trainer end to end on a hand-written model: bit-exact resume, best
// model selection, early stopping and NaN detection. The model is a
// 784→10 softmax regression with momentum (its velocities are the `state`)
// and a step-keyed random perturbation of the gradient, so restoring the
// state and the global step both matter.
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import type { Batch, CompiledModel, ModelDescription, PhaseDesc } from "../runtime/compiled-model.ts";
import { uniform } from "../runtime/rng/philox.ts";
import { sliceSplit } from "../runtime/data/dataset.ts";
import type { Splits } from "../runtime/data/dataset.ts";
import { decodeCheckpoint, decodeParams } from "../runtime/checkpoint/state.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { train } from "../runtime/node/run.ts";
import { TrainingError } from "../runtime/train/training-error.ts";

const D = 784;
const K = 10;

const pretrain: PhaseDesc = { name: "warmup", epochs: 1, step: 0, shuffle: true, earlyStopping: null, monitor: null };
const finetune: PhaseDesc = {
  name: "finetune",
  epochs: 5,
  step: 1,
  shuffle: true,
  earlyStopping: { patience: 40, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: null },
  monitor: "error",
};

function makeDesc(phases: readonly PhaseDesc[]): ModelDescription {
  return {
    name: "fake-softmax",
    specHash: "feedfacecafe0001",
    seed: 1234,
    params: [
      { name: "W", shape: [D, K], dtype: "f32", init: { kind: "uniform", low: -0.01, high: 0.01 } },
      { name: "b", shape: [K], dtype: "f32", init: { kind: "zeros" } },
    ],
    state: [
      { name: "vW", shape: [D, K], dtype: "f32", init: { kind: "zeros" } },
      { name: "vb", shape: [K], dtype: "f32", init: { kind: "zeros" } },
    ],
    inputs: [
      { name: "x", shape: [D], dtype: "f32" },
      { name: "y", shape: [], dtype: "i32", classes: K },
    ],
    data: { dataset: "mnist", batchSize: 30, splits: { train: [0, 1000], valid: [0, 200], test: [0, 200] }, testSource: "test", scale: 1 / 255 },
    phases,
    metrics: ["error", "cost"],
    evalBatchSize: 64,
  };
}

class FakeSoftmax implements CompiledModel {
  readonly params = { W: new Float32Array(D * K), b: new Float32Array(K) };
  readonly state = { vW: new Float32Array(D * K), vb: new Float32Array(K) };
  private readonly p = new Float32Array(64 * K);
  nanAtStep = -1;

  constructor(readonly desc: ModelDescription) {}

  private forward(x: Float32Array, rows: number): void {
    const { W, b } = this.params;
    for (let r = 0; r < rows; r++) {
      let max = -Infinity;
      for (let k = 0; k < K; k++) {
        let s = b[k];
        for (let i = 0; i < D; i++) s += x[r * D + i] * W[i * K + k];
        this.p[r * K + k] = s;
        max = Math.max(max, s);
      }
      let z = 0;
      for (let k = 0; k < K; k++) z += (this.p[r * K + k] = Math.exp(this.p[r * K + k] - max));
      for (let k = 0; k < K; k++) this.p[r * K + k] /= z;
    }
  }

  trainStep(stepFn: number, batch: Batch, step: number): number {
    if (step === this.nanAtStep) return NaN;
    const x = batch.x as Float32Array;
    const y = batch.y as Int32Array;
    const B = this.desc.data.batchSize;
    this.forward(x, B);
    const lr = stepFn === 0 ? 0.05 : 0.1;
    let cost = 0;
    for (let r = 0; r < B; r++) cost -= Math.log(this.p[r * K + y[r]]);
    for (let r = 0; r < B; r++) this.p[r * K + y[r]] -= 1;
    const { W, b } = this.params;
    const { vW, vb } = this.state;
    for (let i = 0; i < D; i++) {
      for (let k = 0; k < K; k++) {
        let g = 0;
        for (let r = 0; r < B; r++) g += x[r * D + i] * this.p[r * K + k];
        g = g / B + 1e-3 * (uniform(this.desc.seed, 99, step, 0, i * K + k) - 0.5);
        vW[i * K + k] = 0.9 * vW[i * K + k] - lr * g;
        W[i * K + k] += vW[i * K + k];
      }
    }
    for (let k = 0; k < K; k++) {
      let g = 0;
      for (let r = 0; r < B; r++) g += this.p[r * K + k];
      vb[k] = 0.9 * vb[k] - (lr * g) / B;
      b[k] += vb[k];
    }
    return cost / B;
  }

  evaluate(batch: Batch, out: Record<string, Float32Array>): void {
    const y = batch.y as Int32Array;
    this.forward(batch.x as Float32Array, this.desc.evalBatchSize);
    for (let r = 0; r < this.desc.evalBatchSize; r++) {
      let arg = 0;
      for (let k = 1; k < K; k++) if (this.p[r * K + k] > this.p[r * K + arg]) arg = k;
      out.error[r] = arg === y[r] ? 0 : 1;
      out.cost[r] = -Math.log(this.p[r * K + y[r]]);
    }
  }
}

let splits: Splits;
beforeAll(async () => {
  const all = await loadDataset(makeDesc([]).data);
  splits = {
    train: sliceSplit(all.train, [0, 1000], "train"),
    valid: sliceSplit(all.valid, [0, 200], "valid"),
    test: sliceSplit(all.test, [0, 200], "test"),
    source: "embedded slice",
  };
});

function outDir(): string {
  return mkdtempSync(join(tmpdir(), "dlt-run-"));
}

function bytesOf(m: CompiledModel): Buffer {
  const parts = [...Object.values(m.params), ...Object.values(m.state)].map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength));
  return Buffer.concat(parts);
}

/** metrics.jsonl without the wall-clock field. */
function metrics(dir: string): unknown[] {
  return readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => ({ ...(JSON.parse(l) as Record<string, unknown>), elapsed: 0 }));
}

/** Trains to `total` steps, stopping and resuming (a new model object each
 * time, as a new process would) at every cut. */
async function runWithCuts(desc: ModelDescription, cuts: readonly number[], total: number): Promise<{ model: FakeSoftmax; dir: string }> {
  const dir = outDir();
  let model = new FakeSoftmax(desc);
  let resume = false;
  for (const stop of [...cuts, total]) {
    model = new FakeSoftmax(desc);
    const s = await train(model, splits, { outDir: dir, resume, maxSteps: stop });
    expect(s.steps).toBe(stop);
    resume = true;
  }
  return { model, dir };
}

describe("resume", () => {
  it("40 steps straight equal 20 + resume + 20 bit for bit (mid-epoch)", async () => {
    const desc = makeDesc([pretrain, finetune]);
    const straight = await runWithCuts(desc, [], 40);
    const resumed = await runWithCuts(desc, [20], 40);
    expect(bytesOf(resumed.model).equals(bytesOf(straight.model))).toBe(true);
    expect(bytesOf(straight.model).equals(bytesOf(new FakeSoftmax(desc)))).toBe(false);
    expect(readdirSync(resumed.dir).sort()).toEqual(["checkpoint.safetensors", "metrics.jsonl"]);
  });

  it("stays exact across several cuts, a phase boundary and a best-model snapshot", async () => {
    const desc = makeDesc([pretrain, finetune]);
    // warmup: 33 steps; finetune validates every 20 minibatches (global 53).
    const straight = await runWithCuts(desc, [], 60);
    const resumed = await runWithCuts(desc, [7, 33, 34, 53, 55], 60);
    expect(bytesOf(resumed.model).equals(bytesOf(straight.model))).toBe(true);
    expect(metrics(resumed.dir)).toEqual(metrics(straight.dir));
    const ckpt = (dir: string) => decodeCheckpoint(readFileSync(join(dir, "checkpoint.safetensors")), "ck", desc);
    const a = ckpt(straight.dir);
    const b = ckpt(resumed.dir);
    expect({ ...b.trainer, elapsed: 0 }).toEqual({ ...a.trainer, elapsed: 0 });
    expect(a.trainer).toMatchObject({ phase: 1, epoch: 0, batch: 27, globalStep: 60 });
    expect(a.best).not.toBeNull();
  });
});

describe("training runs", () => {
  it("finishes with the best-validation parameters and reports them", async () => {
    const desc = makeDesc([{ ...finetune, epochs: 2 }]);
    const dir = outDir();
    const model = new FakeSoftmax(desc);
    const s = await train(model, splits, { outDir: dir });
    expect(s).toMatchObject({ epochs: 2, steps: 66, stoppedEarly: false, finished: true });
    expect(s.bestValid).toBeGreaterThan(0);
    expect(s.bestValid).toBeLessThan(0.5);
    expect(s.testAtBest).not.toBeNull();
    const best = decodeParams(readFileSync(join(dir, "best.safetensors")), "best", desc);
    expect(Buffer.from(best.get("W")!.buffer).equals(Buffer.from(model.params.W.buffer))).toBe(true);
    // Validations at iters 19, 39, 59 (frequency min(33, 40 // 2) = 20).
    expect(metrics(dir).map((r) => (r as { iter: number }).iter)).toEqual([19, 39, 59]);
    // Resuming a finished run does nothing.
    const again = await train(new FakeSoftmax(desc), splits, { outDir: dir, resume: true });
    expect(again).toMatchObject({ steps: 66, finished: true });
  });

  it("caps epochs by phase name: a short warm-up, a longer fine-tuning", async () => {
    const desc = makeDesc([{ ...pretrain, epochs: 3 }, { ...finetune, epochs: 3, earlyStopping: null }]);
    // 33 minibatches an epoch: warmup capped at 1 epoch, finetune at 2 (the
    // default cap 1 applies to phases not named).
    const s = await train(new FakeSoftmax(desc), splits, { outDir: outDir(), maxEpochs: 1, phaseEpochs: { finetune: 2 } });
    expect(s.phases.map((p) => [p.phase, p.epochs])).toEqual([["warmup", 1], ["finetune", 2]]);
    expect(s.steps).toBe(99);
    // A cap never raises the spec's own epochs.
    const t = await train(new FakeSoftmax(desc), splits, { outDir: outDir(), phaseEpochs: { warmup: 9, finetune: 0 } });
    expect(t.phases.map((p) => [p.phase, p.epochs])).toEqual([["warmup", 3], ["finetune", 0]]);
    await expect(train(new FakeSoftmax(desc), splits, { outDir: outDir(), phaseEpochs: { pretrain: 1 } }))
      .rejects.toThrow(/--epochs names phase "pretrain"; the model's phases are \[warmup, finetune\]/);
  });

  it("stops early when patience runs out", async () => {
    // Never a significant gain: patience stays 4, frequency 2 -> stops at iter 4.
    const es = { patience: 4, patienceIncrease: 2, improvementThreshold: 0, validationFrequency: null };
    const desc = makeDesc([{ ...finetune, epochs: 100, earlyStopping: es }]);
    const s = await train(new FakeSoftmax(desc), splits, { outDir: outDir() });
    expect(s).toMatchObject({ steps: 5, epochs: 1, stoppedEarly: true, finished: true });
  });

  it("stops on a NaN cost naming the phase, epoch and step", async () => {
    const desc = makeDesc([pretrain, finetune]);
    const model = new FakeSoftmax(desc);
    model.nanAtStep = 40;
    const run = train(model, splits, { outDir: outDir() });
    await expect(run).rejects.toBeInstanceOf(TrainingError);
    await expect(run).rejects.toThrow(/training cost is NaN in phase "finetune", epoch 1, minibatch 8\/33 \(global step 40\).*lower learning rate\. The last checkpoint, .*checkpoint\.safetensors \(global step \d+\), is intact: --resume continues from it\.$/);
    await expect(run).rejects.toMatchObject({ code: "E041" });
  });

  it("refuses to resume without a checkpoint", async () => {
    const desc = makeDesc([pretrain]);
    await expect(train(new FakeSoftmax(desc), splits, { outDir: outDir(), resume: true })).rejects.toThrow(/no checkpoint to resume from/);
  });
});
