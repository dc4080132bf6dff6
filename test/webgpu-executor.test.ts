// The WebGPU executor on a hand-written GpuPlan: an elementwise linear model
// pred = W ⊙ x + b with a squared-error cost, an SGD update writing the
// parameters in place through read_write bindings, a `copy` command (W into
// a state buffer before the update), a scan-like loop that copies its
// iteration index from the `iters` table into ctx.iter between dispatches,
// and Philox noise keyed off ctx (seed, step, iter). Checked against the same
// computation in TypeScript (f32-rounded), one step by hand and then whole
// runs through the trainer (validation, best-model restore, checkpoints,
// resume). Whatever adapter exists is used (llvmpipe on CI); no adapter is a
// failure naming the packages to install, not a skip.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classTable, kernelClass } from "../bench/gpu-classes.ts";
import { PHILOX_WGSL } from "../compiler/emit/wgsl/philox.ts";
import type { Batch, CompiledModel, ModelDescription } from "../runtime/compiled-model.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import { uniform } from "../runtime/rng/philox.ts";
import { syntheticSplits } from "../runtime/data/dataset.ts";
import type { Splits } from "../runtime/data/dataset.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";
import { createGpuModel, GpuPlanError } from "../runtime/webgpu/executor.ts";
import type { GpuModel } from "../runtime/webgpu/executor.ts";
import type { GpuBufferDesc, GpuKernelDesc, GpuPlan } from "../runtime/webgpu/plan.ts";

const F = 4; // features
const B = 2; // training batch
const E = 3; // eval batch
const LR = 0.1;
const LR_HOT = 2; // step program 1: large enough that validation gets worse
const SCAN = 3; // scan iterations
const NOISE_SALT = 5;

let device: GPUDevice;
beforeAll(async () => {
  device = (await acquireDevice()).device;
});
afterAll(() => device?.destroy());

const desc: ModelDescription = {
  name: "gpu-linear",
  specHash: "0123456789abcdef",
  seed: 4242,
  params: [
    { name: "W", shape: [F], dtype: "f32", init: { kind: "uniform", low: -1, high: 1 } },
    { name: "b", shape: [F], dtype: "f32", init: { kind: "zeros" } },
  ],
  state: [
    { name: "Wprev", shape: [F], dtype: "f32", init: { kind: "zeros" } },
    { name: "acc", shape: [F], dtype: "f32", init: { kind: "constant", value: 1 } },
    { name: "noise", shape: [F], dtype: "f32", init: { kind: "zeros" } },
  ],
  inputs: [
    { name: "x", shape: [F], dtype: "f32" },
    { name: "y", shape: [], dtype: "i32", classes: 3 },
  ],
  data: { dataset: "synthetic", batchSize: B, splits: { train: [0, 16], valid: [0, 6], test: [0, 6] }, testSource: "train", scale: 1 },
  phases: [
    { name: "warm", epochs: 2, step: 0, shuffle: true, earlyStopping: null, monitor: null },
    {
      name: "hot",
      epochs: 2,
      step: 1,
      shuffle: true,
      // Stops mid-epoch (best at iter 3, patience then 6): the host state is
      // stale there, so the restore must download before it uploads.
      earlyStopping: { patience: 4, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: 2 },
      monitor: "sq",
    },
  ],
  metrics: ["sq", "abs"],
  evalBatchSize: E,
};

// Buffer indices.
const W = 0, Bb = 1, X = 2, Y = 3, PRED = 4, COST = 5, CTX = 6, ITERS = 7, LRB = 8, WPREV = 9, ACC = 10, NOISE = 11, XE = 12, YE = 13, SQ = 14, ABS = 15, LRB_HOT = 16;

const buffers: GpuBufferDesc[] = [
  { name: "param:W", size: F, dtype: "f32", role: "param", ref: "W" },
  { name: "param:b", size: F, dtype: "f32", role: "param", ref: "b" },
  { name: "x", size: B * F, dtype: "f32", role: "input", ref: "x" },
  { name: "y", size: B, dtype: "i32", role: "input", ref: "y" },
  { name: "pred", size: B * F, dtype: "f32", role: "temp" },
  { name: "cost", size: 1, dtype: "f32", role: "temp" },
  { name: "ctx", size: 4, dtype: "u32", role: "ctx" },
  { name: "iters", size: SCAN, dtype: "u32", role: "iters" },
  { name: "lr", size: 1, dtype: "f32", role: "const", fill: LR },
  { name: "state:Wprev", size: F, dtype: "f32", role: "state", ref: "Wprev" },
  { name: "state:acc", size: F, dtype: "f32", role: "state", ref: "acc" },
  { name: "state:noise", size: F, dtype: "f32", role: "state", ref: "noise" },
  { name: "eval:x", size: E * F, dtype: "f32", role: "input", ref: "x" },
  { name: "eval:y", size: E, dtype: "i32", role: "input", ref: "y" },
  { name: "metric:sq", size: E, dtype: "f32", role: "temp" },
  { name: "metric:abs", size: E, dtype: "f32", role: "temp" },
  { name: "lr_hot", size: 1, dtype: "f32", role: "const", fill: LR_HOT },
];

const CTX_WGSL = "struct Ctx { seed: u32, step: u32, iter: u32, pad: u32 }";

function kernel(name: string, bindings: GpuKernelDesc["bindings"], decls: string, body: string, size = 64): GpuKernelDesc {
  const wgsl = `${CTX_WGSL}\n${decls}\n@compute @workgroup_size(${size})\nfn main(@builtin(global_invocation_id) g: vec3u) {\n${body}\n}\n`;
  return { name, label: `${name} (test/webgpu-executor.test.ts)`, wgsl, bindings, workgroups: [1, 1, 1] };
}

const ro = (buffer: number) => ({ buffer, access: "read" as const });
const rw = (buffer: number) => ({ buffer, access: "read_write" as const });
const un = (buffer: number) => ({ buffer, access: "uniform" as const });

function makeKernels(): GpuKernelDesc[] {
  const k = kernels();
  // Step program 1: the same update with the other learning rate.
  const sgd = k[SGD];
  return [...k, { ...sgd, name: "sgd_hot", bindings: sgd.bindings.map((b) => (b.buffer === LRB ? ro(LRB_HOT) : b)) }];
}

function kernels(): GpuKernelDesc[] {
  return [
    kernel(
      "forward",
      [ro(W), ro(Bb), ro(X), rw(PRED)],
      `@group(0) @binding(0) var<storage, read> W: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read_write> pred: array<f32>;`,
      `  let i = g.x;
  if (i >= ${B * F}u) { return; }
  let j = i % ${F}u;
  pred[i] = W[j] * x[i] + b[j];`,
    ),
    kernel(
      "cost",
      [ro(PRED), ro(Y), rw(COST)],
      `@group(0) @binding(0) var<storage, read> pred: array<f32>;
@group(0) @binding(1) var<storage, read> y: array<i32>;
@group(0) @binding(2) var<storage, read_write> cost: array<f32>;`,
      `  if (g.x > 0u) { return; }
  var s = 0.0;
  for (var i = 0u; i < ${B * F}u; i++) {
    let d = pred[i] - f32(y[i / ${F}u]);
    s += d * d;
  }
  cost[0] = s / ${B * F}.0;`,
      1,
    ),
    kernel(
      "sgd",
      [ro(PRED), ro(X), ro(Y), ro(LRB), ro(NOISE), rw(W), rw(Bb)],
      `@group(0) @binding(0) var<storage, read> pred: array<f32>;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> y: array<i32>;
@group(0) @binding(3) var<storage, read> lr: array<f32>;
@group(0) @binding(4) var<storage, read> noise: array<f32>;
@group(0) @binding(5) var<storage, read_write> W: array<f32>;
@group(0) @binding(6) var<storage, read_write> b: array<f32>;`,
      `  let j = g.x;
  if (j >= ${F}u) { return; }
  var gw = 0.0;
  var gb = 0.0;
  for (var r = 0u; r < ${B}u; r++) {
    let d = pred[r * ${F}u + j] - f32(y[r]);
    gw += d * x[r * ${F}u + j];
    gb += d;
  }
  gw = gw * ${2 / (B * F)} + 0.001 * (noise[j] - 0.5);
  gb = gb * ${2 / (B * F)};
  W[j] = W[j] - lr[0] * gw;
  b[j] = b[j] - lr[0] * gb;`,
    ),
    kernel(
      "scan_acc",
      [un(CTX), rw(ACC)],
      `@group(0) @binding(0) var<uniform> ctx: Ctx;
@group(0) @binding(1) var<storage, read_write> acc: array<f32>;`,
      `  if (g.x >= ${F}u) { return; }
  acc[g.x] = acc[g.x] * 0.5 + f32(ctx.iter);`,
    ),
    kernel(
      "noise",
      [un(CTX), rw(NOISE)],
      `${PHILOX_WGSL}
@group(0) @binding(0) var<uniform> ctx: Ctx;
@group(0) @binding(1) var<storage, read_write> noise: array<f32>;`,
      `  if (g.x >= ${F}u) { return; }
  noise[g.x] = philox_uniform(ctx.seed, ${NOISE_SALT}u, ctx.step, ctx.iter, g.x);`,
    ),
    kernel(
      "eval",
      [ro(W), ro(Bb), ro(XE), ro(YE), rw(SQ), rw(ABS)],
      `@group(0) @binding(0) var<storage, read> W: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read> x: array<f32>;
@group(0) @binding(3) var<storage, read> y: array<i32>;
@group(0) @binding(4) var<storage, read_write> sq: array<f32>;
@group(0) @binding(5) var<storage, read_write> ab: array<f32>;`,
      `  let r = g.x;
  if (r >= ${E}u) { return; }
  var s = 0.0;
  var a = 0.0;
  for (var j = 0u; j < ${F}u; j++) {
    let d = W[j] * x[r * ${F}u + j] + b[j] - f32(y[r]);
    s += d * d;
    a += abs(d);
  }
  sq[r] = s;
  ab[r] = a;`,
    ),
  ];
}

const FORWARD = 0, COSTK = 1, SGD = 2, SCANK = 3, NOISEK = 4, EVALK = 5, SGD_HOT = 6;

function makePlan(): GpuPlan {
  const scan = Array.from({ length: SCAN }, (_, t) => [
    { kind: "copy" as const, src: ITERS, srcOffset: t, dst: CTX, dstOffset: 2, size: 1 },
    { kind: "dispatch" as const, kernel: SCANK },
  ]).flat();
  const step = (sgd: number) => ({
    commands: [
      { kind: "dispatch" as const, kernel: FORWARD },
      { kind: "dispatch" as const, kernel: COSTK },
      { kind: "copy" as const, src: W, srcOffset: 0, dst: WPREV, dstOffset: 0, size: F },
      ...scan,
      { kind: "dispatch" as const, kernel: NOISEK },
      { kind: "dispatch" as const, kernel: sgd },
    ],
    outputs: { cost: COST },
  });
  return {
    buffers,
    kernels: makeKernels(),
    steps: [step(SGD), step(SGD_HOT)],
    eval: { commands: [{ kind: "dispatch", kernel: EVALK }], outputs: { "metric:sq": SQ, "metric:abs": ABS } },
    limits: {
      maxStorageBuffersPerShaderStage: 7,
      maxStorageBufferBindingSize: 1024,
      maxComputeWorkgroupsPerDimension: 1,
      maxComputeInvocationsPerWorkgroup: 64,
      maxComputeWorkgroupStorageSize: 0,
    },
  };
}

/** The same model in TypeScript, every operation rounded to f32 in the
 * kernels' order. */
class CpuLinear implements CompiledModel {
  readonly desc = desc;
  readonly params = { W: new Float32Array(F), b: new Float32Array(F) };
  readonly state = { Wprev: new Float32Array(F), acc: new Float32Array(F), noise: new Float32Array(F) };

  trainStep(stepFn: number, batch: Batch, step: number): number {
    const lr = Math.fround(stepFn === 0 ? LR : LR_HOT);
    const f = Math.fround;
    const x = batch.x, y = batch.y;
    const { W, b } = this.params;
    const { Wprev, acc, noise } = this.state;
    const pred = new Float32Array(B * F);
    for (let i = 0; i < B * F; i++) pred[i] = f(f(W[i % F] * x[i]) + b[i % F]);
    let s = 0;
    for (let i = 0; i < B * F; i++) {
      const d = f(pred[i] - y[Math.floor(i / F)]);
      s = f(s + f(d * d));
    }
    Wprev.set(W);
    for (let t = 0; t < SCAN; t++) for (let j = 0; j < F; j++) acc[j] = f(f(acc[j] * 0.5) + t);
    for (let j = 0; j < F; j++) noise[j] = uniform(desc.seed, NOISE_SALT, step, SCAN - 1, j);
    for (let j = 0; j < F; j++) {
      let gw = 0, gb = 0;
      for (let r = 0; r < B; r++) {
        const d = f(pred[r * F + j] - y[r]);
        gw = f(gw + f(d * x[r * F + j]));
        gb = f(gb + d);
      }
      gw = f(f(gw * (2 / (B * F))) + f(0.001 * f(noise[j] - 0.5)));
      gb = f(gb * (2 / (B * F)));
      W[j] = f(W[j] - f(lr * gw));
      b[j] = f(b[j] - f(lr * gb));
    }
    return f(s / (B * F));
  }

  evaluate(batch: Batch, out: Record<string, Float32Array>): void {
    const f = Math.fround;
    const { W, b } = this.params;
    for (let r = 0; r < E; r++) {
      let s = 0, a = 0;
      for (let j = 0; j < F; j++) {
        const d = f(f(f(W[j] * batch.x[r * F + j]) + b[j]) - batch.y[r]);
        s = f(s + f(d * d));
        a = f(a + Math.abs(d));
      }
      out.sq[r] = s;
      out.abs[r] = a;
    }
  }
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 1e-5): void {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    expect(Math.abs(got[i] - want[i]), `${what}[${i}]: gpu ${got[i]} cpu ${want[i]}`).toBeLessThanOrEqual(tol * Math.max(1, Math.abs(want[i])));
  }
}

function setStart(m: CompiledModel): void {
  m.params.W.set([0.5, -0.25, 1, 2]);
  m.params.b.set([0, 0.1, -0.1, 0.2]);
  m.state.Wprev.fill(0);
  m.state.acc.set([1, 2, 3, 4]);
  m.state.noise.fill(0);
}

const batch: Batch = { x: Float32Array.from([0.1, 0.2, 0.3, 0.4, -1, 0.5, 2, 0.25]), y: Int32Array.from([1, 2]) };
const evalBatch: Batch = { x: Float32Array.from([1, 2, 3, 4, 0.5, 0.5, 0.5, 0.5, -1, 0, 1, 2]), y: Int32Array.from([0, 1, 2]) };

describe("createGpuModel on a hand-written plan", () => {
  let gpu: GpuModel;
  const cpu = new CpuLinear();
  beforeAll(async () => {
    gpu = await createGpuModel(desc, makePlan(), device);
  });
  afterAll(() => gpu?.destroy());

  it("runs training steps: cost, in-place SGD, copy, scan over iters, Philox noise", async () => {
    setStart(gpu);
    setStart(cpu);
    gpu.upload();
    for (const step of [0, 1, 77]) {
      const want = cpu.trainStep(0, batch, step);
      const got = await gpu.trainStep(0, batch, step);
      expectClose([got], [want], `cost at step ${step}`);
    }
    // The host arrays are stale until download().
    expect(Array.from(gpu.params.W)).toEqual([0.5, -0.25, 1, 2]);
    await gpu.download();
    expectClose(gpu.params.W, cpu.params.W, "W");
    expectClose(gpu.params.b, cpu.params.b, "b");
    // The copy ran before the update of the last step.
    expectClose(gpu.state.Wprev, cpu.state.Wprev, "Wprev");
    // The scan saw iter 0, 1, 2 in order (acc ← acc/2 + iter, exact in f32).
    expect(Array.from(gpu.state.acc)).toEqual(Array.from(cpu.state.acc));
    // Philox noise keyed off ctx (seed, step 77, iter 2): bit-identical.
    expect(Array.from(gpu.state.noise)).toEqual(Array.from(cpu.state.noise));
    expect(Array.from(gpu.state.noise)).toEqual([0, 1, 2, 3].map((j) => uniform(desc.seed, NOISE_SALT, 77, SCAN - 1, j)));
  });

  it("evaluates every metric into out[metric]", async () => {
    const want = { sq: new Float32Array(E), abs: new Float32Array(E) };
    const got = { sq: new Float32Array(E), abs: new Float32Array(E) };
    cpu.evaluate(evalBatch, want);
    await gpu.evaluate(evalBatch, got);
    expectClose(got.sq, want.sq, "sq");
    expectClose(got.abs, want.abs, "abs");
    // Labels handed over as floats are converted to the plan's i32.
    const got2 = { sq: new Float32Array(E), abs: new Float32Array(E) };
    await gpu.evaluate({ x: evalBatch.x, y: Float32Array.from(evalBatch.y) }, got2);
    expect(Array.from(got2.sq)).toEqual(Array.from(got.sq));
  });

  it("upload() replaces the device's parameters", async () => {
    setStart(gpu);
    gpu.upload();
    gpu.params.W.fill(9);
    await gpu.download();
    expect(Array.from(gpu.params.W)).toEqual([0.5, -0.25, 1, 2]);
    expect(Array.from(gpu.state.acc)).toEqual([1, 2, 3, 4]);
  });

  it("probe returns nothing (GPU buffers are not host-visible)", () => {
    expect(gpu.probe(0)).toEqual([]);
  });

  it("profileStep times each kernel of a step once per kernel, with its dispatches a step", async () => {
    const plan = makePlan();
    const rows = await gpu.profileStep(0, 2);
    const dispatched = plan.steps[0]!.commands.flatMap((c) => (c.kind === "dispatch" ? [plan.kernels[c.kernel]!.name] : []));
    expect(rows.map((r) => r.name)).toEqual([...new Set(dispatched)]);
    expect(rows.find((r) => r.name === plan.kernels[SCANK]!.name)!.dispatches).toBe(SCAN);
    for (const r of rows) expect(r.msPerDispatch).toBeGreaterThanOrEqual(0);
    // The kernel classes of the bench's table, from the compiler's labels.
    expect(kernelClass("p_y_given_x_matmul = matmul(x, W) — matmul %4 at specs/logreg.yaml:17:26 (graph.p_y_given_x)")).toBe("matrix product");
    expect(kernelClass("grad_b = Σ d_y — reduce_sum %35 at specs/logreg.yaml:17:30 (graph.p_y_given_x)")).toBe("reduction");
    expect(kernelClass("zeros — h = conv2d(x, W) — conv2d %9 at specs/lenet.yaml:30:7 (graph.h)")).toBe("zero fill");
    expect(kernelClass("W = W - (0.13 * grad_W) — sub %39 at specs/logreg.yaml:27:16 (phases[0].optimizer)")).toBe("elementwise");
    const table = classTable("m", [{ name: "k", label: "c = matmul(a, b) — matmul %1 at x.yaml:1:1 (g)", flops: 2e9, dispatches: 2, msPerDispatch: 500 }]);
    expect(table[2]).toBe("| matrix product | 2 | 1000.000 | 100.0 % | 4.0 |");
  });

  it("rejects overlapping calls", async () => {
    const first = gpu.trainStep(0, batch, 0);
    await expect(gpu.trainStep(0, batch, 1)).rejects.toThrow(/still running/);
    await first;
  });
});

describe("createGpuModel errors", () => {
  it("names the kernel whose WGSL does not compile", async () => {
    const plan = makePlan();
    const kernels = plan.kernels.map((k, i) => (i === COSTK ? { ...k, wgsl: k.wgsl.replace("s += d * d;", "s += undefined_thing;") } : k));
    await expect(createGpuModel(desc, { ...plan, kernels }, device)).rejects.toThrow(/kernel cost \(cost \(test\/webgpu-executor\.test\.ts\)\) does not compile[\s\S]*undefined_thing/);
  });

  it("checks the plan's limits against the device", async () => {
    const plan = makePlan();
    const need = device.limits.maxStorageBufferBindingSize * 2;
    await expect(createGpuModel(desc, { ...plan, limits: { ...plan.limits, maxStorageBufferBindingSize: need } }, device)).rejects.toThrow(
      new RegExp(`needs maxStorageBufferBindingSize = ${need}, this device allows ${device.limits.maxStorageBufferBindingSize}`),
    );
  });

  it("checks the plan against the model description", async () => {
    const plan = makePlan();
    const bad = { ...plan, buffers: plan.buffers.map((b, i) => (i === Bb ? { ...b, size: 3 } : b)) };
    await expect(createGpuModel(desc, bad, device)).rejects.toThrow(GpuPlanError);
    await expect(createGpuModel(desc, bad, device)).rejects.toThrow(/param "b": plan buffer holds 3 values, shape \[4\] needs 4/);
    const noCost = { ...plan, steps: [{ ...plan.steps[0], outputs: {} }, plan.steps[1]] };
    await expect(createGpuModel(desc, noCost, device)).rejects.toThrow(/step program 0 has no output "cost"/);
    const alias = { ...plan, kernels: plan.kernels.map((k, i) => (i === FORWARD ? { ...k, bindings: [ro(W), ro(Bb), ro(X), rw(W)] } : k)) };
    await expect(createGpuModel(desc, alias, device)).rejects.toThrow(/bound twice/);
  });
});

describe("the trainer drives a GPU model", () => {
  let splits: Splits;
  beforeAll(() => {
    splits = syntheticSplits(desc.data, desc.inputs, desc.seed, { train: 16, valid: 6, test: 6 });
  });

  const bytes = (m: CompiledModel): number[] => [...Object.values(m.params), ...Object.values(m.state)].flatMap((a) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length)));

  it("agrees with the CPU model: validation, best-model restore, checkpoints", async () => {
    const cpu = new CpuLinear();
    const cpuStore = new MemoryRunStore();
    const cpuSummary = await runTraining(cpu, splits, cpuStore);
    const gpu = await createGpuModel(desc, makePlan(), device);
    try {
      const store = new MemoryRunStore();
      const summary = await runTraining(gpu, splits, store);
      expect(summary.steps).toBe(cpuSummary.steps);
      expect(summary.finished).toBe(true);
      expect(summary.stoppedEarly).toBe(true);
      expect(cpuSummary.stoppedEarly).toBe(true);
      expect(summary.bestValid).toBeCloseTo(cpuSummary.bestValid!, 5);
      expect(summary.testAtBest).toBeCloseTo(cpuSummary.testAtBest!, 5);
      // At the end the host arrays hold the device's (best) parameters.
      expectClose(gpu.params.W, cpu.params.W, "W");
      expectClose(gpu.params.b, cpu.params.b, "b");
      expectClose(gpu.state.noise, cpu.state.noise, "noise");
      expectClose(gpu.state.acc, cpu.state.acc, "acc");
      expectClose(gpu.state.Wprev, cpu.state.Wprev, "Wprev");
      expect(store.lines("metrics.jsonl").length).toBe(cpuStore.lines("metrics.jsonl").length);
      // The best snapshot is not the last state, so restoring it (download,
      // copy, upload) is what the final parameters check above tests.
      const last = JSON.parse(cpuStore.lines("metrics.jsonl").at(-1)!) as { best: boolean };
      expect(last.best).toBe(false);
    } finally {
      gpu.destroy();
    }
  });

  it("resumes bit-exactly from a checkpoint", async () => {
    const straight = await createGpuModel(desc, makePlan(), device);
    const first = await createGpuModel(desc, makePlan(), device);
    const second = await createGpuModel(desc, makePlan(), device);
    try {
      await runTraining(straight, splits, new MemoryRunStore());
      const store = new MemoryRunStore();
      const part = await runTraining(first, splits, store, { maxSteps: 11 });
      expect(part.finished).toBe(false);
      const rest = await runTraining(second, splits, store, { resume: true });
      expect(rest.finished).toBe(true);
      expect(bytes(second)).toEqual(bytes(straight));
    } finally {
      for (const m of [straight, first, second]) m.destroy();
    }
  });
});
