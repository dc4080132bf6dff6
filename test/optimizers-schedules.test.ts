// Optimizers, learning-rate schedules, weight decay and dropout, checked
// against hand-computed values on tiny specs (the f64 reference interpreter
// runs the compiled update graphs), and resume with optimizer state through
// the generated TypeScript.

import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { planWebGpu } from "../compiler/emit/wgsl/module.ts";
import { buildEval, buildTrainStep, ModelBuilder } from "../compiler/graph/build-model.ts";
import { interpretOutputs } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import type { Graph } from "../compiler/ir/types.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { Model as NewmuLinear } from "../generated/newmu_linear/model.ts";
import { syntheticSplits } from "../runtime/data/dataset.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { DEFAULT_FASHION_DIR, loadDataset } from "../runtime/node/datasets.ts";
import { parseArgs, UsageError } from "../runtime/node/main.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import { createGpuModel } from "../runtime/webgpu/executor.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";

// A 3→2 linear map with loss Σ z²/2 over a batch of 2: the gradient is
// xᵀ(xW), computed by hand below.
const X = [0.5, -1, 2, 1.5, 0.25, -0.75];
const W = [0.1, -0.2, 0.3, 0.05, -0.4, 0.25];

function spec(optimizer: string, extra = ""): string {
  return `model: opt_probe
data:
  dataset: synthetic
  batch_size: 2
  inputs:
    x: { shape: [3], dtype: f32 }
params:
  W: { shape: [3, 2], init: zeros }
graph:
  z: x @ W
${extra}losses:
  cost:
    expr: { value: "sum(z * z) / 2" }
phases:
  - name: train
    loss: cost
    optimizer: ${optimizer}
    epochs: 1
`;
}

function gradient(): number[] {
  const z = [0, 0, 0, 0];
  for (let r = 0; r < 2; r++) for (let j = 0; j < 2; j++) for (let i = 0; i < 3; i++) z[r * 2 + j] += X[r * 3 + i]! * W[i * 2 + j]!;
  const g = [0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) for (let r = 0; r < 2; r++) g[i * 2 + j] += X[r * 3 + i]! * z[r * 2 + j]!;
  return g;
}

const stateLeaves = (g: Graph): { name: string; size: number }[] =>
  g.nodes.filter((n) => n.op === "state").map((n) => ({ name: (n.attrs as { name: string }).name, size: n.shape.reduce((a, d) => a * d, 1) }));

/** One f64 training step of the spec's phase 0 on the reference interpreter. */
function step(text: string, state: Record<string, number[]>): { W: number[]; state: Map<string, number[]> } {
  const ls = loadSpecText(text, "test/opt_probe.yaml");
  const st = buildTrainStep(ls, 0, { dtype: "f64", batch: 2 });
  const leaves = {
    input: new Map<string, Tensor>([["x", fromArray([2, 3], "f64", X)]]),
    param: new Map<string, Tensor>([["W", fromArray([3, 2], "f64", W)]]),
    state: new Map<string, Tensor>(),
  };
  for (const s of stateLeaves(st.graph)) {
    const v = state[s.name];
    if (!v || v.length !== s.size) throw new Error(`test gives no value for state ${s.name} (${s.size} values)`);
    leaves.state.set(s.name, fromArray(s.size === 1 ? [] : [3, 2], "f64", v));
  }
  const out = interpretOutputs(st.graph, leaves, { seed: 1, step: 0 });
  const next = new Map<string, number[]>();
  for (const [k, t] of out) if (k.startsWith("state:")) next.set(k.slice(6), [...t.data]);
  return { W: [...out.get("param:W")!.data], state: next };
}

const A = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2];
const B = [0.2, 0.6, 0.05, 0.4, 0.8, 0.15];

function close(got: readonly number[], want: readonly number[]): void {
  expect(got.length).toBe(want.length);
  got.forEach((v, i) => expect(v, `element ${i}`).toBeCloseTo(want[i]!, 12));
}

describe("optimizer updates against hand-computed steps (f64 reference interpreter)", () => {
  const g = gradient();

  it("sgd: p − lr·g", () => {
    const r = step(spec("{ sgd: { lr: 0.1 } }"), {});
    close(r.W, W.map((w, i) => w - 0.1 * g[i]!));
  });

  it("momentum and Nesterov: v ← μv − lr·g; p ← p + v (Nesterov: p + μv − lr·g)", () => {
    for (const nesterov of [false, true]) {
      const r = step(spec(`{ momentum: { lr: 0.1, momentum: 0.9, nesterov: ${nesterov} } }`), { "train.velocity.W": A });
      const v = A.map((a, i) => 0.9 * a - 0.1 * g[i]!);
      close(r.state.get("train.velocity.W")!, v);
      close(r.W, W.map((w, i) => (nesterov ? w + 0.9 * v[i]! - 0.1 * g[i]! : w + v[i]!)));
    }
  });

  it("rmsprop (Newmu): acc ← ρ·acc + (1−ρ)·g²; p ← p − lr·g/√(acc + ε)", () => {
    const r = step(spec("{ rmsprop: { lr: 0.001, rho: 0.9, eps: 1.0e-6 } }"), { "train.rms.W": A });
    const acc = A.map((a, i) => 0.9 * a + 0.1 * g[i]! ** 2);
    close(r.state.get("train.rms.W")!, acc);
    close(r.W, W.map((w, i) => w - (0.001 * g[i]!) / Math.sqrt(acc[i]! + 1e-6)));
  });

  it("adadelta (Zeiler, dnn.py): Δ = −√((d + ε)/(a + ε))·g with the new a; d ← ρd + (1−ρ)Δ²", () => {
    for (const lr of [undefined, 0.5]) {
      const opt = lr === undefined ? "{ adadelta: { rho: 0.95, eps: 1.0e-6 } }" : `{ adadelta: { rho: 0.95, eps: 1.0e-6, lr: ${lr} } }`;
      const r = step(spec(opt), { "train.adadelta_g2.W": A, "train.adadelta_dx2.W": B });
      const a = A.map((x, i) => 0.95 * x + 0.05 * g[i]! ** 2);
      const dx = a.map((ai, i) => -Math.sqrt((B[i]! + 1e-6) / (ai + 1e-6)) * g[i]!);
      close(r.state.get("train.adadelta_g2.W")!, a);
      close(r.state.get("train.adadelta_dx2.W")!, B.map((d, i) => 0.95 * d + 0.05 * dx[i]! ** 2));
      close(r.W, W.map((w, i) => w + (lr ?? 1) * dx[i]!));
    }
  });

  it("adam with bias correction from its step count", () => {
    const t = 4; // steps done before this one
    const r = step(spec("{ adam: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1.0e-8 } }"), { "train.adam_m.W": A, "train.adam_v.W": B, "train.adam_t.W": [t] });
    const m = A.map((x, i) => 0.9 * x + 0.1 * g[i]!);
    const v = B.map((x, i) => 0.999 * x + 0.001 * g[i]! ** 2);
    close(r.state.get("train.adam_t.W")!, [t + 1]);
    close(r.state.get("train.adam_m.W")!, m);
    close(r.state.get("train.adam_v.W")!, v);
    const bc1 = 1 - 0.9 ** (t + 1);
    const bc2 = 1 - 0.999 ** (t + 1);
    close(r.W, W.map((w, i) => w - (0.01 * (m[i]! / bc1)) / (Math.sqrt(v[i]! / bc2) + 1e-8)));
  });

  it("decoupled weight decay: p − lr·g − lr·wd·p (sgd), and scaled by the rate for rmsprop", () => {
    const r = step(spec("{ sgd: { lr: 0.1, weight_decay: 0.01 } }"), {});
    close(r.W, W.map((w, i) => w - 0.1 * g[i]! - 0.1 * 0.01 * w));
    const q = step(spec("{ rmsprop: { lr: 0.001, weight_decay: 0.5 } }"), { "train.rms.W": A });
    const acc = A.map((a, i) => 0.9 * a + 0.1 * g[i]! ** 2);
    close(q.W, W.map((w, i) => w - (0.001 * g[i]!) / Math.sqrt(acc[i]! + 1e-6) - 0.001 * 0.5 * w));
  });
});

describe("learning-rate schedules: the rate at chosen steps", () => {
  const g = gradient();
  /** The rate of the step taken after `t` steps of the phase, read back from an sgd update. */
  const rateAt = (schedule: string, t: number, stepsPerEpoch?: number): number => {
    const state: Record<string, number[]> = { "train.step": [t] };
    if (stepsPerEpoch !== undefined) state["train.steps_per_epoch"] = [stepsPerEpoch];
    const r = step(spec(`{ sgd: { lr: 0.1, schedule: ${schedule} } }`), state);
    expect(r.state.get("train.step")).toEqual([t + 1]);
    expect(r.state.has("train.steps_per_epoch")).toBe(false); // read, never written
    return (W[0]! - r.W[0]!) / g[0]!;
  };

  it("constant", () => {
    expect(step(spec("{ sgd: { lr: 0.1, schedule: constant } }"), {}).W).toEqual(step(spec("{ sgd: { lr: 0.1 } }"), {}).W);
  });

  it("exponential per epoch: lr·decay^⌊t / steps_per_epoch⌋", () => {
    const s = "{ exponential: { decay: 0.5 } }";
    expect(rateAt(s, 0, 10)).toBeCloseTo(0.1, 14);
    expect(rateAt(s, 9, 10)).toBeCloseTo(0.1, 14);
    expect(rateAt(s, 10, 10)).toBeCloseTo(0.05, 14);
    expect(rateAt(s, 25, 10)).toBeCloseTo(0.025, 14);
    expect(rateAt(s, 389999, 390)).toBeCloseTo(0.1 * 0.5 ** 999, 14);
  });

  it("exponential per step: lr·decay^t", () => {
    expect(rateAt("{ exponential: { decay: 0.9, per: step } }", 7)).toBeCloseTo(0.1 * 0.9 ** 7, 14);
  });

  it("step decay: lr·factor^⌊epoch / every⌋", () => {
    const s = "{ step_decay: { factor: 0.1, every: 2 } }";
    expect(rateAt(s, 19, 10)).toBeCloseTo(0.1, 14); // epoch 1
    expect(rateAt(s, 20, 10)).toBeCloseTo(0.01, 14); // epoch 2
    expect(rateAt(s, 39, 10)).toBeCloseTo(0.01, 14); // epoch 3
    expect(rateAt(s, 59, 10)).toBeCloseTo(0.001, 14); // epoch 5
    expect(rateAt(s, 60, 10)).toBeCloseTo(0.0001, 14); // epoch 6
    expect(rateAt("{ step_decay: { factor: 0.5, every: 3, per: step } }", 7)).toBeCloseTo(0.025, 14);
  });

  it("linear ramp: lr + (end_lr − lr)·min(n / over, 1)", () => {
    const s = "{ linear: { end_lr: 0.3, over: 4, per: step } }";
    expect(rateAt(s, 0)).toBeCloseTo(0.1, 14);
    expect(rateAt(s, 1)).toBeCloseTo(0.15, 14);
    expect(rateAt(s, 4)).toBeCloseTo(0.3, 14);
    expect(rateAt(s, 100)).toBeCloseTo(0.3, 14);
    expect(rateAt("{ linear: { end_lr: 0, over: 10 } }", 55, 10)).toBeCloseTo(0.05, 14);
  });
});

describe("max_pool_ceil: partial border windows are pooled (Theano's ignore_border=False)", () => {
  it("pools [5, 7] by 2×3 into [3, 3], the last row and column from partial windows", () => {
    const text = spec("{ sgd: { lr: 0.1 } }", "  m: max_pool_ceil(reshape(x, 1, 1, 5, 7), 2, 3)\n")
      .replace("x: { shape: [3], dtype: f32 }", "x: { shape: [35], dtype: f32 }")
      .replace("z: x @ W", "z: reshape(m, 1, 9) @ W")
      .replace("W: { shape: [3, 2]", "W: { shape: [9, 2]")
      .replace("batch_size: 2", "batch_size: 1");
    const mb = new ModelBuilder(loadSpecText(text, "test/pool.yaml"), { dtype: "f64", batch: 1 });
    const m = mb.resolve("m");
    expect(mb.b.shape(m)).toEqual([1, 1, 3, 3]);
    mb.b.graph.outputs.set("m", m);
    const x = Array.from({ length: 35 }, (_, i) => ((i * 17) % 35) - 20); // a permutation, negatives included
    const got = interpretOutputs(mb.b.graph, { input: new Map([["x", fromArray([1, 35], "f64", x)]]), param: new Map([["W", fromArray([9, 2], "f64", new Array(18).fill(0))]]) }).get("m")!;
    const want: number[] = [];
    for (let i = 0; i < 3; i++) {
      for (let j = 0; j < 3; j++) {
        let best = -Infinity;
        for (let r = 2 * i; r < Math.min(5, 2 * i + 2); r++) for (let c = 3 * j; c < Math.min(7, 3 * j + 3); c++) best = Math.max(best, x[r * 7 + c]!);
        want.push(best);
      }
    }
    expect([...got.data]).toEqual(want);
  });
});

describe("dropout: training mask, identity when evaluating", () => {
  const text = spec("{ sgd: { lr: 0.1 } }", "  h: dropout(x, 0.25)\n").replace("x: { shape: [3], dtype: f32 }", "x: { shape: [100], dtype: f32 }").replace("W: { shape: [3, 2]", "W: { shape: [100, 2]").replace("z: x @ W", "z: h @ W") + "metrics:\n  total: { expr: { value: \"sum(h, 1)\" } }\n";
  const ls = loadSpecText(text, "test/dropout.yaml");
  const ones = fromArray([64, 100], "f64", new Array(6400).fill(1));
  const leaves = { input: new Map([["x", ones]]), param: new Map([["W", fromArray([100, 2], "f64", new Array(200).fill(0))]]) };

  it("training graphs scale the kept units by 1/(1 − p), keeping the mean", () => {
    const mb = new ModelBuilder(ls, { dtype: "f64", batch: 64 });
    mb.b.graph.outputs.set("h", mb.resolve("h"));
    const h = interpretOutputs(mb.b.graph, leaves, { seed: 5, step: 3 }).get("h")!;
    const values = new Set(h.data);
    expect([...values].sort()).toEqual([0, 1 / 0.75]);
    const mean = [...h.data].reduce((a, v) => a + v, 0) / h.data.length;
    expect(Math.abs(mean - 1)).toBeLessThan(0.03); // sd of the mean ≈ 0.007
    const dropped = [...h.data].filter((v) => v === 0).length / h.data.length;
    expect(Math.abs(dropped - 0.25)).toBeLessThan(0.03);
  });

  it("the evaluation graph has no random op and passes x through", () => {
    const g = buildEval(ls, { dtype: "f64", batch: 64 });
    expect(g.nodes.some((n) => n.op === "random_uniform")).toBe(false);
    const total = interpretOutputs(g, leaves).get("metric:total")!;
    expect([...total.data]).toEqual(new Array(64).fill(100));
  });
});

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** Compiles a spec text and imports its generated CPU model. */
async function compiled(text: string, name: string): Promise<new () => CompiledModel> {
  const c = compileSpec(loadSpecText(text, `test/${name}.yaml`));
  const dir = join(ROOT, "generated", `.tmp-${name}`);
  tmpDirs.push(dir);
  mkdirSync(dir, { recursive: true });
  for (const f of ["model.ts", "loops-wasm.ts"]) if (c.files.has(f)) writeFileSync(join(dir, f), c.files.get(f)!);
  return ((await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel }).Model;
}

describe("optimizer state in checkpoints: resume is bitwise", () => {
  // RMSprop then Adam with an epoch schedule and weight decay, dropout in
  // the graph: the state (accumulators, moments, counters, epoch length) and
  // the global step all have to come back for the bits to match.
  const text = `model: opt_resume
seed: 7
data:
  dataset: synthetic
  batch_size: 10
  inputs:
    x: { shape: [12], dtype: f32 }
    y: { shape: [], dtype: i32, classes: 3 }
params:
  W1: { shape: [12, 8], init: { glorot_uniform: {} } }
  b1: { shape: [8], init: zeros }
  W2: { shape: [8, 3], init: zeros }
graph:
  h: dropout(relu(dropout(x, 0.2) @ W1 + b1), 0.5)
  p: softmax(h @ W2)
losses:
  nll:
    nll: { probs: p, labels: y }
metrics:
  error: { zero_one: { probs: p, labels: y } }
phases:
  - name: warm
    loss: nll
    optimizer: { rmsprop: { lr: 0.01, rho: 0.9 } }
    epochs: 2
  - name: fine
    loss: nll
    optimizer: { adam: { lr: 0.01, schedule: { exponential: { decay: 0.5 } }, weight_decay: 0.01 } }
    epochs: 3
`;
  const snapshot = (m: CompiledModel) => Object.fromEntries([...Object.entries(m.params), ...Object.entries(m.state)].map(([k, v]) => [k, Float32Array.from(v)]));

  it("declares the slots and counters as state, the epoch length filled from the data", async () => {
    const Model = await compiled(text, "opt-resume");
    const m = new Model();
    expect(m.desc.state.map((s) => s.name).sort()).toEqual([
      "fine.adam_m.W1", "fine.adam_m.W2", "fine.adam_m.b1", "fine.adam_t.W1", "fine.adam_t.W2", "fine.adam_t.b1",
      "fine.adam_v.W1", "fine.adam_v.W2", "fine.adam_v.b1", "fine.step", "fine.steps_per_epoch",
      "warm.rms.W1", "warm.rms.W2", "warm.rms.b1",
    ]);
    const splits = syntheticSplits(m.desc.data, m.desc.inputs, 3, { train: 75, valid: 20, test: 20 });
    await runTraining(m, splits, new MemoryRunStore(), { log: silentLogger });
    expect([...m.state["fine.steps_per_epoch"]!]).toEqual([7]); // ⌊75 / 10⌋
    expect([...m.state["fine.step"]!]).toEqual([21]);
  });

  it("N steps straight equal a cut in each phase, a fresh model and resume", async () => {
    const Model = await compiled(text, "opt-resume");
    const splits = syntheticSplits(new Model().desc.data, new Model().desc.inputs, 3, { train: 75, valid: 20, test: 20 });
    const straight = new Model();
    await runTraining(straight, splits, new MemoryRunStore(), { log: silentLogger });
    const store = new MemoryRunStore();
    for (const cut of [5, 17, 24]) {
      const s = await runTraining(new Model(), splits, store, { resume: cut !== 5, maxSteps: cut, log: silentLogger });
      expect(s.steps).toBe(cut);
    }
    const resumed = new Model();
    await runTraining(resumed, splits, store, { resume: true, log: silentLogger });
    expect(snapshot(resumed)).toEqual(snapshot(straight));
    // And the comparison could fail: the state moved during training.
    expect([...straight.state["fine.adam_m.W2"]!].some((v) => v !== 0)).toBe(true);
    expect([...straight.state["warm.rms.W1"]!].some((v) => v !== 0)).toBe(true);
  });

  it("the WebGPU program computes the same schedule, state and parameters (f32 tolerance)", async () => {
    const Model = await compiled(text, "opt-resume");
    const cpu = new Model();
    const splits = syntheticSplits(cpu.desc.data, cpu.desc.inputs, 3, { train: 75, valid: 20, test: 20 });
    const c = compileSpec(loadSpecText(text, "test/opt-resume.yaml"));
    const { device } = await acquireDevice();
    const gpu = await createGpuModel(c.desc, planWebGpu(c.steps, c.evalGraph), device);
    // Into the second phase: Adam's bias correction and the decayed rate run.
    await runTraining(cpu, splits, new MemoryRunStore(), { maxSteps: 24, log: silentLogger });
    await runTraining(gpu, splits, new MemoryRunStore(), { maxSteps: 24, log: silentLogger });
    await gpu.download!();
    expect([...gpu.state["fine.step"]!]).toEqual([10]);
    expect([...gpu.state["fine.steps_per_epoch"]!]).toEqual([7]);
    for (const [name, v] of [...Object.entries(cpu.params), ...Object.entries(cpu.state)]) {
      const w = (name in gpu.params ? gpu.params[name] : gpu.state[name])!;
      const scale = Math.max(1e-3, ...[...v].map(Math.abs));
      v.forEach((x, i) => expect(Math.abs(x - w[i]!) / scale, `${name}[${i}]`).toBeLessThan(1e-4));
    }
  });
});

describe("Newmu's linear regression (specs/newmu-linear.yaml, the noisy-line dataset)", () => {
  it("feeds x and y as two f32 scalars and fits w ≈ 2", async () => {
    const m = new NewmuLinear();
    const splits = await loadDataset(m.desc.data, { seed: m.desc.seed });
    expect(splits.train.n).toBe(101);
    expect(splits.train.x[0]).toBe(-1);
    expect(splits.train.x[100]).toBe(1);
    const s = await runTraining(m, splits, new MemoryRunStore(), { maxEpochs: 20, log: silentLogger });
    expect(s.steps).toBe(20 * 101);
    expect(m.params.w![0]).toBeGreaterThan(1.8);
    expect(m.params.w![0]).toBeLessThan(2.2);
  });
});

describe("Fashion-MNIST as a drop-in dataset", () => {
  const data = { dataset: "fashion-mnist", batchSize: 128, splits: { train: [0, 50000], valid: [50000, 60000], test: [0, 10000] }, testSource: "test", scale: 1 / 255 } as const;

  it("dlt-train --dataset takes the MNIST-layout datasets only", () => {
    expect(parseArgs(["--epochs", "20"])).toMatchObject({ maxEpochs: 20 });
    expect(parseArgs(["--epochs", "5,finetune=40"])).toMatchObject({ maxEpochs: 5, phaseEpochs: { finetune: 40 } });
    expect(parseArgs(["--epochs", "pretrain1=0,finetune=3"]).maxEpochs).toBeUndefined();
    for (const bad of ["", "-1", "2,3", "finetune=", "a=1,a=2", "=3", "x y=1", "1.5"]) {
      expect(() => parseArgs(["--epochs", bad]), bad).toThrow(UsageError);
    }
    expect(parseArgs(["--dataset", "fashion-mnist"]).dataset).toBe("fashion-mnist");
    expect(() => parseArgs(["--dataset", "cifar10"])).toThrow(UsageError);
  });

  it("missing files are named, with where they were looked for", async () => {
    await expect(loadDataset(data, { dataDir: "/nonexistent-fashion" })).rejects.toThrow(/fashion-mnist: file not found in \/nonexistent-fashion: train-images-idx3-ubyte\.gz, .*dataset-fashion-mnist/);
  });

  it.skipIf(!existsSync(join(ROOT, DEFAULT_FASHION_DIR)))("loads ../shared/data/fashion-mnist with the tutorial's split", async () => {
    const s = await loadDataset(data, { dataDir: join(ROOT, DEFAULT_FASHION_DIR) });
    expect([s.train.n, s.valid.n, s.test.n]).toEqual([50000, 10000, 10000]);
    expect(s.train.shape).toEqual([784]);
    expect(Math.max(...s.test.y)).toBe(9);
  });
});
