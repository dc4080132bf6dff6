// The generated TypeScript (f32) agrees with the reference evaluator (f64) on
// the same graphs: one training step per phase and one evaluation, from the
// same random parameters and data. Tolerance: 2e-4 relative (+1e-6 absolute),
// the f32 rounding of these small graphs with room to spare; a wrong kernel
// or a wrong fusion index is off by far more.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

const tmpDirs: string[] = [];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

async function compileSmall(file: string, batch: number) {
  const text = readFileSync(join(ROOT, file), "utf8").replace(/batch_size: \d+/, `batch_size: ${batch}`);
  const c = compileSpec(loadSpecText(text, file));
  const dir = join(ROOT, "generated", `.tmp-${c.name}`);
  mkdirSync(dir, { recursive: true });
  tmpDirs.push(dir);
  for (const name of ["model.ts", "loops-wasm.ts"]) if (c.files.has(name)) writeFileSync(join(dir, name), c.files.get(name)!);
  const mod = (await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel };
  return { c, model: new mod.Model() };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string) {
  expect(got.length, what).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const tol = 2e-4 * Math.abs(want[i]!) + 1e-6;
    // A NaN difference compares false: non-finite values must be caught here.
    if (!Number.isFinite(want[i]!) || !Number.isFinite(got[i]!)) expect.fail(`${what}[${i}]: generated ${got[i]} vs reference ${want[i]} (not finite)`);
    if (Math.abs(got[i]! - want[i]!) > tol) expect.fail(`${what}[${i}]: generated ${got[i]} vs reference ${want[i]}`);
  }
}

const CASES = ["specs/logreg.yaml", "specs/mlp.yaml", "test/specs/elman.yaml", "test/specs/denoising.yaml", "test/specs/gibbs-chain.yaml", "test/specs/rbm-free-energy.yaml", "test/specs/double-backprop.yaml"];

describe.each(CASES)("%s: generated code = reference evaluator", (file) => {
  it("one training step and one evaluation", async () => {
    const batch = file.includes("test/specs") ? Number(/batch_size: (\d+)/.exec(readFileSync(join(ROOT, file), "utf8"))![1]) : 4;
    const { c, model } = await compileSmall(file, batch);
    const seed = c.desc.seed;
    const params = new Map<string, Tensor>();
    c.desc.params.forEach((p, k) => {
      const buf = model.params[p.name]!;
      for (let i = 0; i < buf.length; i++) buf[i] = 0.2 * normal(99, k + 1, 0, 0, i);
      params.set(p.name, fromArray(p.shape, "f64", buf));
    });
    const batchData: Record<string, Float32Array | Int32Array> = {};
    const inputs = new Map<string, Tensor>();
    c.desc.inputs.forEach((d, k) => {
      const n = batch * d.shape.reduce((a, b) => a * b, 1);
      const cls = d.classes ?? 10;
      const arr = d.dtype === "i32" ? Int32Array.from({ length: n }, (_, i) => Math.floor(uniform(98, k, 0, 0, i) * Math.min(cls, 5))) : Float32Array.from({ length: n }, (_, i) => (uniform(97, k, 0, 0, i) < 0.5 ? 0 : uniform(96, k, 0, 0, i)));
      batchData[d.name] = arr;
      inputs.set(d.name, fromArray([batch, ...d.shape], d.dtype === "i32" ? "i32" : "f64", arr));
    });

    // Evaluation first (it must not change parameters).
    if (c.desc.metrics.length > 0) {
      const out: Record<string, Float32Array> = {};
      for (const m of c.desc.metrics) out[m] = new Float32Array(c.desc.evalBatchSize);
      await model.evaluate(batchData, out);
      const ref = interpret(c.evalGraph, { input: inputs, param: params }, { seed, step: 0 });
      for (const m of c.desc.metrics) expectClose(out[m]!, (ref[c.evalGraph.outputs.get(`metric:${m}`)!] as Tensor).data, `metric ${m}`);
    }

    const step = 3;
    const cost = await model.trainStep(0, batchData, step);
    const ref = interpret(c.steps[0]!, { input: inputs, param: params, state: new Map() }, { seed, step });
    expectClose([cost], (ref[c.steps[0]!.outputs.get("cost")!] as Tensor).data, "cost");
    for (const p of c.desc.params) {
      const id = c.steps[0]!.outputs.get(`param:${p.name}`);
      if (id === undefined) continue;
      expectClose(model.params[p.name]!, (ref[id] as Tensor).data, `param ${p.name}`);
    }
  });
});
