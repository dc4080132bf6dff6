// Training the generated models on the embedded MNIST digits: the cost falls
// and the error drops far below chance; an interrupted run resumes bitwise
// exactly; a diverging run names the op and spec line of the first NaN.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { Model as LogReg } from "../generated/logreg/model.ts";
import { Model as Mlp } from "../generated/mlp/model.ts";
import type { Splits } from "../runtime/data/dataset.ts";
import { sliceSplit, syntheticSplits } from "../runtime/data/dataset.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore } from "../runtime/train/run-store.ts";
import { runTraining } from "../runtime/train/trainer.ts";
import { runSamplers, type SampleImage } from "../runtime/train/samplers.ts";

let embedded: Splits;
beforeAll(async () => {
  embedded = await loadDataset(new LogReg().desc.data, { inputs: new LogReg().desc.inputs, seed: 1 });
});

const tmp = join(ROOT, "generated", ".tmp-train-test");
const tmpDirs = [tmp];
afterAll(() => {
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

/** Writes a compiled spec's CPU files under generated/<dirName> (removed
 * after the tests) and imports its Model class. */
async function importModel(c: { files: ReadonlyMap<string, string> }, dirName: string): Promise<new () => CompiledModel> {
  const dir = join(ROOT, "generated", dirName);
  tmpDirs.push(dir);
  mkdirSync(dir, { recursive: true });
  for (const name of ["model.ts", "loops-wasm.ts"]) if (c.files.has(name)) writeFileSync(join(dir, name), c.files.get(name)!);
  return ((await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel }).Model;
}

function costs(store: MemoryRunStore): number[] {
  return store.lines("metrics.jsonl").map((l) => (JSON.parse(l) as { trainCost: number }).trainCost);
}

describe("training on the embedded MNIST digits", () => {
  it("logistic regression: the cost falls and the error drops far below chance (90%)", async () => {
    const store = new MemoryRunStore();
    const s = await runTraining(new LogReg(), embedded, store, { maxEpochs: 5, log: silentLogger });
    const c = costs(store);
    expect(c.length).toBe(5);
    expect(c[4]!).toBeLessThan(c[0]! * 0.8);
    expect(s.bestValid!).toBeLessThan(0.2);
    expect(s.testAtBest!).toBeLessThan(0.2);
  });

  it("MLP: one epoch brings the validation error below 20%", async () => {
    const store = new MemoryRunStore();
    const s = await runTraining(new Mlp(), embedded, store, { maxEpochs: 1, log: silentLogger });
    expect(s.bestValid!).toBeLessThan(0.2);
    expect(Number.isFinite(costs(store)[0]!)).toBe(true);
  });
});

describe("resume", () => {
  const bytes = (m: CompiledModel) => Object.values(m.params).map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("hex"));

  it("N steps straight = N/2 steps, a checkpoint, a fresh process and N/2 more (bitwise, mid-epoch)", async () => {
    const N = 500; // 400 MLP minibatches per epoch: the stop falls mid-epoch 1, the end after a validation in epoch 2
    const straight = new Mlp();
    await runTraining(straight, embedded, new MemoryRunStore(), { maxSteps: N, log: silentLogger });

    const store = new MemoryRunStore();
    const first = new Mlp();
    const half = await runTraining(first, embedded, store, { maxSteps: N / 2, log: silentLogger });
    expect(half.finished).toBe(false);
    expect(half.steps).toBe(N / 2);
    const second = new Mlp(); // a new model: nothing carried over but the checkpoint
    const rest = await runTraining(second, embedded, store, { resume: true, maxSteps: N, log: silentLogger });
    expect(rest.steps).toBe(N);
    expect(bytes(second)).toEqual(bytes(straight));
    // And the check could fail: one step fewer gives different parameters.
    const short = new Mlp();
    await runTraining(short, embedded, new MemoryRunStore(), { maxSteps: N - 1, log: silentLogger });
    expect(bytes(short)).not.toEqual(bytes(straight));
  });
});

describe("a two-phase schedule over shared parameters, with momentum", () => {
  async function twoPhase(): Promise<{ make: () => CompiledModel; splits: Splits }> {
    const text = readFileSync(join(ROOT, "test/specs/two-phase.yaml"), "utf8");
    const c = compileSpec(loadSpecText(text, "test/specs/two-phase.yaml"));
    const Model = await importModel(c, ".tmp-train-two-phase");
    const m = new Model();
    return { make: () => new Model(), splits: syntheticSplits(m.desc.data, m.desc.inputs, 3, { train: 100, valid: 30, test: 30 }) };
  }
  const snapshot = (m: CompiledModel) => Object.fromEntries([...Object.entries(m.params), ...Object.entries(m.state)].map(([k, v]) => [k, Float32Array.from(v)]));

  it("runs the phases in order, each training only its own parameters", async () => {
    const { make, splits } = await twoPhase();
    const m = make();
    expect(m.desc.phases.map((p) => p.name)).toEqual(["pretrain", "finetune"]);
    expect(m.desc.state.map((s) => s.name).sort()).toEqual(["finetune.velocity.V", "finetune.velocity.W", "finetune.velocity.b", "finetune.velocity.c"]);
    // 2 pretraining epochs of 10 steps: W, b and b_prime move; V and c do not.
    await runTraining(m, splits, new MemoryRunStore(), { maxSteps: 20, log: silentLogger });
    const afterPretrain = snapshot(m);
    expect([...afterPretrain.V!].every((v) => v === 0)).toBe(true);
    expect([...afterPretrain.b_prime!].some((v) => v !== 0)).toBe(true);
    const full = make();
    const s = await runTraining(full, splits, new MemoryRunStore(), { log: silentLogger });
    expect(s.steps).toBe(50);
    const end = snapshot(full);
    expect([...end.V!].some((v) => v !== 0)).toBe(true);
    // b_prime belongs to pretraining only: fine-tuning leaves it as pretraining left it.
    expect(end.b_prime).toEqual(afterPretrain.b_prime);
    expect([...end["finetune.velocity.W"]!].some((v) => v !== 0)).toBe(true);
  });

  it("resumes bitwise inside the second phase, momentum state included", async () => {
    const { make, splits } = await twoPhase();
    const straight = make();
    await runTraining(straight, splits, new MemoryRunStore(), { log: silentLogger });
    const store = new MemoryRunStore();
    await runTraining(make(), splits, store, { maxSteps: 35, log: silentLogger });
    const resumed = make();
    await runTraining(resumed, splits, store, { resume: true, log: silentLogger });
    expect(snapshot(resumed)).toEqual(snapshot(straight));
  });
});

describe("PCD: a persistent Gibbs chain as training state (specs/rbm.yaml, shrunk)", () => {
  async function rbm(hidden = 5): Promise<{ make: () => CompiledModel; splits: Splits }> {
    // The real spec with few hidden units, 3 Gibbs steps and 4 chains.
    const text = readFileSync(join(ROOT, "specs/rbm.yaml"), "utf8")
      .replace("model: rbm", `model: rbm_h${hidden}`)
      .replace("batch_size: 20", "batch_size: 4")
      .replace("[784, 500]", `[784, ${hidden}]`)
      .replace("hbias: { shape: [500]", `hbias: { shape: [${hidden}]`)
      .replace("persistent: { shape: [20, 500]", `persistent: { shape: [4, ${hidden}]`)
      .replace("length: 15", "length: 3")
      .replace("length: 1000", "length: 20")
      .replace("chains: 20", "chains: 4")
      .replace("epochs: 15", "epochs: 2");
    const c = compileSpec(loadSpecText(text, `specs/rbm_h${hidden}.yaml`));
    const Model = await importModel(c, `.tmp-rbm-h${hidden}`);
    const small = { train: sliceSplit(embedded.train, [0, 80], "train"), valid: sliceSplit(embedded.valid, [0, 20], "valid"), test: sliceSplit(embedded.test, [0, 20], "test"), source: "embedded digits, sliced" };
    return { make: () => new Model(), splits: small };
  }
  const snapshot = (m: CompiledModel) => Object.fromEntries([...Object.entries(m.params), ...Object.entries(m.state)].map(([k, v]) => [k, Float32Array.from(v)]));

  it("the chain persists between steps and is checkpointed: resume is bitwise, chain included", async () => {
    const { make, splits } = await rbm();
    const straight = make();
    expect(straight.desc.state.map((s) => s.name)).toEqual(["persistent"]);
    const summary = await runTraining(straight, splits, new MemoryRunStore(), { log: silentLogger });
    // No early stopping: the final parameters are scored on the test split.
    expect(summary.finalTest?.recon_xent).toBeGreaterThan(0);
    expect(summary.finalTest?.recon_xent).toBeLessThan(543); // 784·ln 2: a zero model's cross-entropy
    // The chain moved from its zero start (samples are 0/1).
    expect([...straight.state.persistent!].some((v) => v === 1)).toBe(true);
    expect([...straight.state.persistent!].every((v) => v === 0 || v === 1)).toBe(true);
    const store = new MemoryRunStore();
    await runTraining(make(), splits, store, { maxSteps: 27, log: silentLogger });
    const resumed = make();
    await runTraining(resumed, splits, store, { resume: true, log: silentLogger });
    expect(snapshot(resumed)).toEqual(snapshot(straight));
  });

  it("the sampler advances 4 chains from test digits and tiles one row per call", async () => {
    const { make, splits } = await rbm(64);
    const m = make();
    await runTraining(m, splits, new MemoryRunStore(), { log: silentLogger });
    expect(m.desc.samplers!.map((s) => [s.name, s.chains, s.rows])).toEqual([["samples", 4, 10]]);
    const [{ image }] = runSamplers(m, splits.test) as [SampleImage];
    expect([image.width, image.height]).toEqual([29 * 4 - 1, 29 * 10 - 1]);
    // Rows are different draws (the chains move), and each tile is scaled to [0, 255].
    const row = (r: number) => image.pixels.slice(r * 29 * image.width, (r * 29 + 28) * image.width);
    expect(row(0)).not.toEqual(row(9));
    expect(Math.max(...image.pixels)).toBe(255);
  });
});

describe("greedy pretraining then fine-tuning (specs/sda.yaml, specs/dbn.yaml, shrunk)", () => {
  // The real specs with 1000-unit layers cut to 64 (and the input-side
  // matrices to match), 4 epochs a phase and a batch of 10 on 500 digits.
  async function shrunk(file: string): Promise<CompiledModel> {
    const text = readFileSync(join(ROOT, file), "utf8")
      .replace(/model: (\w+)/, "model: $1_small")
      .replace(/batch_size: \d+/, "batch_size: 10")
      .replace(/\[784, 1000\]/g, "[784, 64]")
      .replace(/\[1000, 1000\]/g, "[64, 64]")
      .replace(/\[1000, 10\]/g, "[64, 10]")
      .replace(/\[1000\]/g, "[64]")
      .replace(/epochs: \d+/g, "epochs: 4")
      .replace(/(name: finetune[\s\S]*?epochs: )4/, "$110")
      .replace(/lr: 0\.001/g, "lr: 0.05");
    const c = compileSpec(loadSpecText(text, file.replace(".yaml", "_small.yaml")));
    const Model = await importModel(c, `.tmp-${c.name}`);
    return new Model();
  }
  it.each(["specs/sda.yaml", "specs/dbn.yaml"])("%s: each pretraining cost falls, fine-tuning learns", async (file) => {
    const m = await shrunk(file);
    const splits = { train: sliceSplit(embedded.train, [0, 500], "train"), valid: sliceSplit(embedded.valid, [0, 200], "valid"), test: sliceSplit(embedded.test, [0, 200], "test"), source: "embedded digits, sliced" };
    const store = new MemoryRunStore();
    const before = Float32Array.from(m.params.W1!);
    await runTraining(m, splits, store, { log: silentLogger });
    const recs = store.lines("metrics.jsonl").map((l) => JSON.parse(l) as { phase: string; epoch: number; trainCost: number; valid: Record<string, number> | null });
    expect([...new Set(recs.map((r) => r.phase))]).toEqual(["pretrain1", "pretrain2", "pretrain3", "finetune"]);
    // Pretraining never reads the labels the metrics need: no validation
    // (it would score the untrained softmax); fine-tuning validates.
    expect(m.desc.phases.map((p) => p.validate ?? true)).toEqual([false, false, false, true]);
    expect(recs.filter((r) => r.phase !== "finetune").every((r) => r.valid === null)).toBe(true);
    for (const phase of ["pretrain1", "pretrain2", "pretrain3"]) {
      const c = recs.filter((r) => r.phase === phase).map((r) => r.trainCost);
      expect(c[c.length - 1]!, `${phase}: ${c.join(", ")}`).toBeLessThan(c[0]!);
    }
    // Pretraining moved the shared first layer; fine-tuning reached a useful error.
    expect([...m.params.W1!].some((v, i) => v !== before[i])).toBe(true);
    const ft = recs.filter((r) => r.phase === "finetune" && r.valid).map((r) => r.valid!.error!);
    expect(Math.min(...ft), `fine-tuning validation errors ${ft.join(", ")}`).toBeLessThan(0.5);
  });
});

describe("divergence", () => {
  it("a NaN cost names the op and the spec line where the first non-finite value appeared", async () => {
    const text = readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8")
      .replace("model: logreg", "model: diverges")
      .replace("dataset: mnist ", "dataset: synthetic ")
      .replace("batch_size: 600", "batch_size: 8")
      .replace("    nll: { probs: p_y_given_x, labels: y }\n", "    nll: { probs: p_y_given_x, labels: y }\n    expr: { value: mean(log(x - 2)) }\n");
    const c = compileSpec(loadSpecText(text, "specs/diverges.yaml"));
    const Model = await importModel(c, ".tmp-train-test");
    const m = new Model();
    const splits = syntheticSplits(m.desc.data, m.desc.inputs, 1, { train: 64, valid: 16, test: 16 });
    const run = runTraining(m, splits, new MemoryRunStore(), { maxEpochs: 1, log: silentLogger });
    await expect(run).rejects.toThrow(/training cost is NaN .*first non-finite value \(NaN\) came from reduce_sum %\d+ at specs\/diverges\.yaml:21:20 \(losses\.cost\.expr\), computing log %\d+ at specs\/diverges\.yaml:21:25/);
    // The first step diverged: no checkpoint to name.
    await expect(run).rejects.toThrow(/No checkpoint was written before it/);
  });
});
