// One suite over every backend: from the same parameters and the same
// minibatches, N training steps of the generated CPU code and of the WebGPU
// program agree with the f64 reference evaluator run on the same graphs, and
// evaluation agrees too. Stated tolerance: after 10 steps every parameter is
// within 1e-5 of the reference relative to the parameter's largest magnitude
// (1e-4 for LeNet, see TOLERANCE), and the per-example metrics within 1e-4;
// f32 rounding of these graphs is ~1e-7 per step. The WebGPU runs use whatever adapter exists (llvmpipe
// through Dawn's OpenGL backend on CI); no adapter is a failure, not a skip.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { planWebGpu } from "../compiler/emit/wgsl/module.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { type Batch, type CompiledModel, evalOutputNames } from "../runtime/compiled-model.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";
import { createGpuModel } from "../runtime/webgpu/executor.ts";

const STEPS = 10;
// LeNet: max-pooling routes each gradient to one position of a window, so
// once f32 and f64 values in a window are close enough to order differently,
// the runs take discretely different paths; 3 steps (before that happens
// with these inputs) and 1e-4 for its longer f32 sums.
const TOLERANCE: Record<string, number> = { "specs/lenet.yaml": 1e-4 };
// The LSTM: 3 steps (its f64 reference of 512-wide products is slow, and
// WebGPU replays a 100-step unrolled plan on llvmpipe); the cAs: 3 (the
// f64 reference forms cA.py's [batch, 784, 500] Jacobian).
const STEPS_OF: Record<string, number> = { "specs/lenet.yaml": 3, "specs/lstm.yaml": 3, "specs/rnnrbm.yaml": 3, "specs/ca.yaml": 3, "specs/ca-grad.yaml": 3 };
const SPECS = ["specs/logreg.yaml", "specs/mlp.yaml", "specs/lenet.yaml", "specs/rnnslu.yaml", "specs/lstm.yaml", "specs/rnnrbm.yaml", "specs/ca.yaml", "specs/ca-grad.yaml", "specs/hmc.yaml", "test/specs/elman.yaml", "test/specs/double-backprop.yaml", "test/specs/grad-in-scan.yaml", "test/specs/denoising.yaml", "test/specs/gibbs-chain.yaml", "test/specs/long-sum.yaml", "test/specs/elman-steps.yaml"];

type Backend = "cpu" | "webgpu";

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

async function build(file: string, backend: Backend) {
  let text = readFileSync(file, "utf8");
  // Smaller batches, except for a model of one sentence per step (its scan
  // counts the steps of a single example).
  if (file.startsWith("specs/") && !/^\s+steps: /m.test(text)) text = text.replace(/batch_size: \d+/, "batch_size: 8");
  const c = compileSpec(loadSpecText(text, file));
  let model: CompiledModel;
  if (backend === "cpu") {
    const dir = join(ROOT, "generated", `.tmp-backends-${c.name}`);
    tmpDirs.push(dir);
    mkdirSync(dir, { recursive: true });
    for (const name of ["model.ts", "loops-wasm.ts"]) if (c.files.has(name)) writeFileSync(join(dir, name), c.files.get(name)!);
    const mod = (await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel };
    model = new mod.Model();
  } else {
    const { device } = await acquireDevice();
    model = await createGpuModel(c.desc, planWebGpu(c.steps, c.evalGraph), device);
  }
  return { c, model };
}

function batches(c: ReturnType<typeof compileSpec>, n: number): Batch[] {
  const B = c.desc.data.batchSize;
  return Array.from({ length: n }, (_, s) => {
    const b: Record<string, Float32Array | Int32Array> = {};
    c.desc.inputs.forEach((d, k) => {
      const len = B * d.shape.reduce((a, x) => a * x, 1);
      b[d.name] = d.dtype === "i32" ? Int32Array.from({ length: len }, (_, i) => Math.floor(uniform(5, 100 + k, s, 0, i) * 5)) : Float32Array.from({ length: len }, (_, i) => uniform(6, 100 + k, s, 0, i));
    });
    return b;
  });
}

function maxRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let scale = 1e-12;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]!));
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!) / scale);
  return worst;
}

describe.each<Backend>(["cpu", "webgpu"])("backend %s", (backend) => {
  it.each(SPECS)("%s: training steps (10; 3 for LeNet, the LSTM, the RNN-RBM and the cAs) and an evaluation agree with the f64 reference", { timeout: 300_000 }, async (file) => {
    const { c, model } = await build(file, backend);
    const tol = TOLERANCE[file] ?? 1e-5;
    const steps = STEPS_OF[file] ?? STEPS;
    // Same starting point for every backend: small random parameters.
    let params = new Map<string, Tensor>();
    c.desc.params.forEach((p, k) => {
      const host = model.params[p.name]!;
      for (let i = 0; i < host.length; i++) host[i] = 0.1 * normal(42, k + 1, 0, 0, i);
      params.set(p.name, fromArray(p.shape, "f64", host));
    });
    // State tensors as the trainer starts them (an on_plateau rate scale is 1).
    let state = new Map<string, Tensor>();
    for (const st of c.desc.state) {
      const host = model.state[st.name]!;
      // Literal values and constants as given (HMC's target, its step size).
      if (st.init.kind === "values") host.set(st.init.values);
      else host.fill(st.init.kind === "one" ? 1 : st.init.kind === "constant" ? st.init.value : 0);
      // A sampler's chains start from small random positions.
      if (st.init.kind === "normal") for (let i = 0; i < host.length; i++) host[i] = normal(43, 1, 0, 0, i);
      state.set(st.name, fromArray(st.shape, "f64", host));
    }
    model.upload?.();
    const data = batches(c, steps);
    const toTensors = (b: Batch) => new Map(c.desc.inputs.map((d) => [d.name, fromArray([c.desc.data.batchSize, ...d.shape], d.dtype === "i32" ? "i32" : "f64", b[d.name]!)] as const));

    for (let s = 0; s < steps; s++) {
      const cost = await model.trainStep(0, data[s]!, s);
      const ref = interpret(c.steps[0]!, { input: toTensors(data[s]!), param: params, state }, { seed: c.desc.seed, step: s });
      const refCost = (ref[c.steps[0]!.outputs.get("cost")!] as Tensor).data[0]!;
      expect(Math.abs(cost - refCost) / Math.max(1, Math.abs(refCost)), `cost at step ${s}`).toBeLessThan(tol);
      const next = new Map(params);
      const nextState = new Map(state);
      for (const [k, id] of c.steps[0]!.outputs) {
        if (k.startsWith("param:")) next.set(k.slice(6), ref[id] as Tensor);
        if (k.startsWith("state:")) nextState.set(k.slice(6), ref[id] as Tensor);
      }
      params = next;
      state = nextState;
    }
    await model.download?.();
    for (const p of c.desc.params) {
      expect(maxRelErr(model.params[p.name]!, params.get(p.name)!.data), `${p.name} after ${steps} steps`).toBeLessThan(tol);
    }
    for (const st of c.desc.state) {
      expect(maxRelErr(model.state[st.name]!, state.get(st.name)!.data), `state ${st.name} after ${steps} steps`).toBeLessThan(tol);
    }
    if (c.desc.metrics.length) {
      const out: Record<string, Float32Array> = {};
      for (const m of evalOutputNames(c.desc)) {
        const sm = c.desc.splitMetrics?.find((x) => x.name === m);
        out[m] = new Float32Array(c.desc.evalBatchSize * (sm?.kind === "chunk_f1" ? sm.tokens : 1));
      }
      await model.evaluate(data[0]!, out);
      const ref = interpret(c.evalGraph, { input: toTensors(data[0]!), param: params }, { seed: c.desc.seed, step: 0 });
      for (const m of c.desc.metrics) expect(maxRelErr(out[m]!, (ref[c.evalGraph.outputs.get(`metric:${m}`)!] as Tensor).data), m).toBeLessThan(1e-4);
    }
  });
});

describe("checkpoints cross backends", () => {
  it("a WebGPU run resumes a CPU run's checkpoint and vice versa (same safetensors format)", async () => {
    const { MemoryRunStore, runTraining } = await import("../runtime/train/trainer.ts");
    const { syntheticSplits } = await import("../runtime/data/dataset.ts");
    const { silentLogger } = await import("../runtime/progress.ts");
    const cpu = async () => (await build("specs/mlp.yaml", "cpu")).model;
    const gpu = async () => (await build("specs/mlp.yaml", "webgpu")).model;
    const m0 = await cpu();
    const splits = syntheticSplits(m0.desc.data, m0.desc.inputs, 9, { train: 160, valid: 40, test: 40 });
    const run = async (first: CompiledModel, second: CompiledModel) => {
      const store = new MemoryRunStore();
      await runTraining(first, splits, store, { maxSteps: 20, log: silentLogger });
      await runTraining(second, splits, store, { resume: true, maxSteps: 40, log: silentLogger });
      await second.download?.();
      return second;
    };
    const straight = await cpu();
    await runTraining(straight, splits, new MemoryRunStore(), { maxSteps: 40, log: silentLogger });
    for (const [a, b] of [[await cpu(), await gpu()], [await gpu(), await cpu()]] as const) {
      const end = await run(a, b);
      for (const p of end.desc.params) expect(maxRelErr(end.params[p.name]!, straight.params[p.name]!), p.name).toBeLessThan(1e-5);
    }
  });
});
