// ONNX export checked against ONNX Runtime (onnxruntime-node): for every
// classifier spec, a few training steps on the embedded digits, then the
// exported model run by ONNX Runtime on 1,000 test digits gives the
// per-example cost and error the generated evaluation gives (within 1e-5,
// the same predicted labels); the dA's clean reconstruction likewise. Also
// the CLI's errors: a checkpoint of another spec, a missing checkpoint, an
// op without an ONNX form.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { inferenceOnnx } from "../compiler/emit/onnx/inference.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import type { Split } from "../runtime/data/dataset.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";
import { ort } from "./setup/onnx-runtime.ts";

const scratch = mkdtempSync(join(tmpdir(), "dlt-onnx-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const N = 1000;

async function trained(model: string): Promise<CompiledModel> {
  const mod = (await import(pathToFileURL(join(ROOT, "generated", model, "model.ts")).href)) as { Model: new () => CompiledModel };
  const m = new mod.Model();
  const data = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
  // A few steps, so the parameters are not their initial values.
  await runTraining(m, data, new MemoryRunStore(), { maxSteps: 3, log: silentLogger });
  return m;
}

/** The generated evaluation's per-example metrics on the first N test digits. */
async function evaluated(m: CompiledModel, x: Float32Array, y: Int32Array): Promise<Record<string, Float32Array>> {
  const B = m.desc.evalBatchSize;
  const out: Record<string, Float32Array> = {};
  for (const name of m.desc.metrics) out[name] = new Float32Array(N);
  for (let s = 0; s < N; s += B) {
    const part: Record<string, Float32Array> = {};
    for (const name of m.desc.metrics) part[name] = new Float32Array(B);
    const bx = new Float32Array(B * 784);
    bx.set(x.subarray(s * 784, Math.min(N, s + B) * 784));
    const by = new Int32Array(B);
    by.set(y.subarray(s, Math.min(N, s + B)));
    await m.evaluate({ x: bx, y: by }, part);
    for (const name of m.desc.metrics) out[name]!.set(part[name]!.subarray(0, Math.min(B, N - s)), s);
  }
  return out;
}

async function onnxRun(bytes: Uint8Array, feeds: Record<string, Float32Array>, shape: readonly number[], output: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const inputs = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor("float32", v, [...shape])]));
  const r = await session.run(inputs);
  return r[output]!.data as Float32Array;
}

const CLASSIFIERS = [
  ["specs/logreg.yaml", "logreg"],
  ["specs/mlp.yaml", "mlp"],
  ["specs/lenet.yaml", "lenet"],
  ["specs/newmu-logistic.yaml", "newmu_logistic"],
  ["specs/newmu-net.yaml", "newmu_net"],
  ["specs/newmu-modern.yaml", "newmu_modern"],
  ["specs/newmu-convnet.yaml", "newmu_convnet"],
  ["specs/dnn.yaml", "dnn"],
  ["specs/sda.yaml", "sda"],
  ["specs/dbn.yaml", "dbn"],
] as const;

describe("ONNX Runtime reproduces the generated evaluation", () => {
  it.each(CLASSIFIERS)("%s: probabilities give the same cost and error on 1,000 test digits", async (file, model) => {
    const m = await trained(model);
    const data = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
    const x = data.test.x.subarray(0, N * 784);
    const y = data.test.y.subarray(0, N);
    const want = await evaluated(m, x, y);
    const ls = loadSpec(file);
    // The default export: a dynamic batch, run here on 1,000 digits at once.
    const onnx = inferenceOnnx(ls, new Map(Object.entries(m.params)));
    expect(onnx.inputs).toEqual(["x"]);
    const probs = await onnxRun(onnx.bytes, { x: Float32Array.from(x) }, [N, 784], onnx.outputs[0]!);
    // The same model at another batch size gives the same rows.
    const few = await onnxRun(onnx.bytes, { x: Float32Array.from(x.subarray(0, 7 * 784)) }, [7, 784], onnx.outputs[0]!);
    few.forEach((v, i) => expect(Math.abs(v - probs[i]!), `batch of 7, value ${i}`).toBeLessThan(1e-6));
    let worst = 0;
    for (let i = 0; i < N; i++) {
      const row = probs.subarray(i * 10, i * 10 + 10);
      let arg = 0;
      for (let k = 1; k < 10; k++) if (row[k]! > row[arg]!) arg = k;
      expect(arg !== y[i] ? 1 : 0, `example ${i}: label`).toBe(want.error![i]);
      const cost = -Math.log(row[y[i]!]!);
      worst = Math.max(worst, Math.abs(cost - want.cost![i]!) / Math.max(1, Math.abs(want.cost![i]!)));
    }
    expect(worst).toBeLessThan(1e-5);
  }, 120_000);

  it("the dA's clean reconstruction (--output z_clean) gives the same cross-entropy", async () => {
    const m = await trained("da");
    const data = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
    const n = 200;
    const x = data.test.x.subarray(0, n * 784);
    const B = m.desc.evalBatchSize;
    const want = new Float32Array(n);
    for (let s = 0; s < n; s += B) {
      const part = { reconstruction: new Float32Array(B), jacobian_norm: new Float32Array(B) };
      const bx = new Float32Array(B * 784);
      bx.set(x.subarray(s * 784, Math.min(n, s + B) * 784));
      await m.evaluate({ x: bx }, part);
      want.set(part.reconstruction.subarray(0, Math.min(B, n - s)), s);
    }
    const onnx = inferenceOnnx(loadSpec("specs/da.yaml"), new Map(Object.entries(m.params)), { outputs: ["z_clean"], batch: n }); // a static batch
    const z = await onnxRun(onnx.bytes, { x: Float32Array.from(x) }, [n, 784], "z_clean");
    for (let i = 0; i < n; i++) {
      let ce = 0;
      for (let j = 0; j < 784; j++) {
        const t = x[i * 784 + j]!;
        const p = z[i * 784 + j]!;
        ce -= t * Math.log(p) + (1 - t) * Math.log(1 - p);
      }
      expect(Math.abs(ce - want[i]!) / Math.max(1, want[i]!), `example ${i}`).toBeLessThan(1e-5);
    }
  }, 120_000);
});

describe("ONNX Runtime reproduces the recurrent models (scan as an ONNX Loop)", () => {
  const tensorOf = (d: { dtype: string }, v: Float32Array | Int32Array, shape: readonly number[]) => new ort.Tensor(d.dtype === "i32" ? "int32" : "float32", v, [...shape]);

  /** Feeds of one batch (batch B from example s) of a split's named tensors. */
  function feedsOf(m: CompiledModel, split: Split, s: number, B: number, names: readonly string[]) {
    const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {};
    const batch: Record<string, Float32Array | Int32Array> = {};
    for (const d of m.desc.inputs) {
      const per = d.shape.reduce((a, x) => a * x, 1);
      const src = split.named![d.name]!.data;
      const v = src.slice(s * per, (s + B) * per);
      batch[d.name] = v;
      if (names.includes(d.name)) feeds[d.name] = tensorOf(d, v, [B, ...d.shape]);
    }
    return { feeds, batch };
  }

  it("rnnslu: the label of every word of 100 test sentences is the generated evaluation's", async () => {
    const m = await trained("rnnslu");
    const data = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
    const onnx = inferenceOnnx(loadSpec("specs/rnnslu.yaml"), new Map(Object.entries(m.params)));
    // One sentence a step: the spec's reshapes fix the batch at 1.
    expect(onnx.batch).toBe(1);
    expect(onnx.inputs.sort()).toEqual(["length", "words"]);
    const session = await ort.InferenceSession.create(onnx.bytes);
    const T = 46;
    let words = 0;
    for (let s = 0; s < 100; s++) {
      const { feeds, batch } = feedsOf(m, data.test, s, 1, onnx.inputs);
      const out = { f1: new Float32Array(T) };
      await m.evaluate(batch, out);
      const p = (await session.run(feeds))[onnx.outputs[0]!]!.data as Float32Array;
      const len = (batch.length as Int32Array)[0]!;
      for (let t = 0; t < len; t++) {
        let arg = 0;
        for (let k = 1; k < 127; k++) if (p[t * 127 + k]! > p[t * 127 + arg]!) arg = k;
        expect(arg, `sentence ${s}, word ${t}`).toBe(out.f1[t]);
        words++;
      }
    }
    expect(words).toBeGreaterThan(500);
  }, 240_000);

  it("lstm: 64 test sentences give the generated evaluation's cost and error", async () => {
    const m = await trained("lstm");
    const data = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
    const B = m.desc.evalBatchSize;
    const onnx = inferenceOnnx(loadSpec("specs/lstm.yaml"), new Map(Object.entries(m.params)));
    expect(onnx.batch).toBe("dynamic");
    expect(onnx.inputs.sort()).toEqual(["length", "mask", "words"]);
    const session = await ort.InferenceSession.create(onnx.bytes);
    for (let s = 0; s + B <= 64; s += B) {
      const { feeds, batch } = feedsOf(m, data.test, s, B, onnx.inputs);
      const out = { error: new Float32Array(B), cost: new Float32Array(B) };
      await m.evaluate(batch, out);
      const p = (await session.run(feeds))[onnx.outputs[0]!]!.data as Float32Array;
      const y = batch.label as Int32Array;
      for (let i = 0; i < B; i++) {
        expect((p[i * 2 + 1]! > p[i * 2]! ? 1 : 0) !== y[i] ? 1 : 0, `sentence ${s + i}`).toBe(out.error[i]);
        expect(Math.abs(-Math.log(p[i * 2 + y[i]!]!) - out.cost[i]!), `sentence ${s + i}: cost`).toBeLessThan(1e-5 * Math.max(1, out.cost[i]!));
      }
    }
  }, 240_000);
});

describe("dlt-export", () => {
  const exp = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "dlt-export.mjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  const train = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "dlt-train.mjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

  it("exports a trained run and refuses a checkpoint of another spec", async () => {
    const run = join(scratch, "logreg");
    expect(train(["specs/logreg.yaml", "--out", run, "--epochs", "1", "--quiet"]).status).toBe(0);
    const ok = exp(["specs/logreg.yaml", "--checkpoint", join(run, "best.safetensors"), "-o", join(scratch, "logreg.onnx")]);
    expect(ok.status, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/specs\/logreg\.yaml → .*logreg\.onnx \(ONNX opset 18, batch dynamic; inputs x; outputs p_y_given_x/);
    const wrong = exp(["specs/mlp.yaml", "--checkpoint", join(run, "best.safetensors"), "-o", join(scratch, "mlp.onnx")]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrong.stderr).toMatch(/^dlt-export: .*best\.safetensors/);
    expect(wrong.stderr).not.toMatch(/\n\s+at /);
  }, 240_000);

  it("a missing checkpoint: one line, exit 1", () => {
    const r = exp(["specs/lenet.yaml", "--checkpoint", join(scratch, "none.safetensors")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^dlt-export: .*none\.safetensors: no checkpoint\n$/);
  });

  it("an op without an ONNX form names it and its spec line", () => {
    const run = join(scratch, "da");
    const t = train(["specs/da.yaml", "--out", run, "--steps", "1", "--quiet"]);
    expect(t.status, t.stderr).toBe(0);
    const r = exp(["specs/da.yaml", "--checkpoint", join(run, "checkpoint.safetensors")]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/specs\/da\.yaml:\d+:\d+ error\[E070\]: random_uniform has no ONNX form/);
  }, 120_000);
});
