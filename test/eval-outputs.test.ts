// compile's `outputs`: graph names the evaluation also writes per example
// (a classifier's probabilities), on the CPU model and on WebGPU. The
// probabilities are rows that sum to 1 whose argmax is what the spec's
// zero_one metric counts; the default compile (generated/) has none.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../compiler/cli/files.ts";
import { afterAll, describe, expect, it } from "vitest";
import { compile } from "../compiler/compile-text.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import { initModel } from "../runtime/train/model-ops.ts";
import { createGpuModel } from "../runtime/webgpu/executor.ts";
import type { GpuPlan } from "../runtime/webgpu/plan.ts";
import { compileAndLoad, removeCompiled } from "./setup/compiled-spec.ts";
import { loadData } from "../runtime/node/api.ts";

afterAll(removeCompiled);
const text = readFileSync("specs/mlp.yaml", "utf8");

describe("evaluation outputs", () => {
  it("an unknown name or a value not per example is a located error; none by default", () => {
    const bad = compile(text, { file: "specs/mlp.yaml", outputs: ["p_y_givn_x"] });
    expect(bad.ok).toBe(false);
    expect(bad.diagnostics.map((d) => d.code)).toEqual(["E010"]);
    const notPerExample = compile(text, { file: "specs/mlp.yaml", outputs: ["W1"] });
    expect(notPerExample.diagnostics.map((d) => `${d.code}: ${d.message}`)).toEqual(["E031: output 'W1' has shape [784, 500]: not one value or row per example (the batch is 20)"]);
    expect(compile(text, { file: "specs/mlp.yaml" }).description!.outputs).toBeUndefined();
  });

  it("a name with quotes, a newline or a comment closer never reaches generated code: only graph names resolve", () => {
    for (const name of ['p"); evil("', "p\n// x", "p */ x", "p_y_given_x\n"]) {
      const r = compile(text, { file: "specs/mlp.yaml", outputs: [name] });
      expect(r.ok, JSON.stringify(name)).toBe(false);
      expect(r.files.size).toBe(0);
      expect(r.diagnostics.map((d) => d.code)).toEqual(["E010"]);
    }
  });

  it.each(["cpu", "webgpu"] as const)("%s: p_y_given_x rows sum to 1 and their argmax is what the error metric counts", async (backend) => {
    const { c, model: cpu } = await compileAndLoad(text, "specs/mlp.yaml", { outputs: ["p_y_given_x"] });
    expect(c.desc.outputs).toEqual([{ name: "p_y_given_x", shape: [10] }]);
    initModel(cpu);
    // Some training signal so the rows are not uniform: a random first layer is enough.
    cpu.params.W2!.forEach((_, i, a) => (a[i] = Math.sin(i) * 0.3));
    let model = cpu;
    if (backend === "webgpu") {
      // compileAndLoad wrote the compile's webgpu.ts beside its model.ts.
      const { plan } = (await import(pathToFileURL(join(ROOT, "generated", `.tmp-${c.name}-${process.pid}`, "webgpu.ts")).href)) as { plan: GpuPlan };
      model = await createGpuModel(c.desc, plan, (await acquireDevice()).device);
      for (const p of c.desc.params) model.params[p.name]!.set(cpu.params[p.name]!);
      model.upload?.();
    }
    const splits = await loadData(c.desc);
    const n = c.desc.evalBatchSize;
    const batch = { x: splits.test.x.subarray(0, n * 784), y: splits.test.y.subarray(0, n) };
    const out = { error: new Float32Array(n), cost: new Float32Array(n), p_y_given_x: new Float32Array(n * 10) };
    await model.evaluate(batch, out);
    for (let r = 0; r < n; r++) {
      const row = out.p_y_given_x.subarray(r * 10, r * 10 + 10);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      const argmax = row.indexOf(Math.max(...row));
      expect(out.error[r], `row ${r}`).toBe(argmax === batch.y[r] ? 0 : 1);
    }
    expect(new Set(out.p_y_given_x).size).toBeGreaterThan(10);
  });
});
