// The Elman RNN's runtime pieces (specs/rnnslu.yaml): the on_plateau decay
// (runtime/train/plateau.ts), conlleval's F1 as a split metric
// (runtime/train/model-ops.ts Evaluator), the named tensors of the atis
// dataset, and --resume bit-exact across a decay, mid-epoch. Sentences here
// are synthetic (random words, labels, lengths) in the layout the atis
// loader builds; the real folds are read by test/atis-data.test.ts.
import { describe, expect, it } from "vitest";
import { Model as RnnSlu } from "../generated/rnnslu/model.ts";
import type { Batch, CompiledModel, ModelDescription } from "../runtime/compiled-model.ts";
import type { Split, Splits } from "../runtime/data/dataset.ts";
import { uniform } from "../runtime/rng/philox.ts";
import { silentLogger } from "../runtime/progress.ts";
import { EarlyStopping } from "../runtime/train/early-stopping.ts";
import { Evaluator, initModel } from "../runtime/train/model-ops.ts";
import { plateauAfterValidation } from "../runtime/train/plateau.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";
import type { TrainingRun } from "../runtime/train/training-run.ts";
import type { PhaseValidation } from "../runtime/train/validation.ts";

const T = 46;
const WINDOW = 7;
const NAMES = ["O", "B-a", "I-a", "B-b", "I-b"];

/** n random sentences in the atis layout (words [T, 7], labels [T] with −1
 * past the end, length []). */
function sentences(n: number, salt: number): Split {
  const words = new Int32Array(n * T * WINDOW).fill(572);
  const labels = new Int32Array(n * T).fill(-1);
  const length = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const len = 1 + Math.floor(uniform(11, salt, k, 0, 0) * 8);
    length[k] = len;
    for (let t = 0; t < len; t++) {
      labels[k * T + t] = Math.floor(uniform(11, salt, k, 1, t) * NAMES.length);
      for (let w = 0; w < WINDOW; w++) words[(k * T + t) * WINDOW + w] = Math.floor(uniform(11, salt, k, 2, t * WINDOW + w) * 572);
    }
  }
  return {
    x: new Float32Array(0),
    y: labels,
    n,
    shape: [],
    yShape: [T],
    named: { words: { data: words, shape: [T, WINDOW] }, labels: { data: labels, shape: [T] }, length: { data: length, shape: [] } },
    labelNames: NAMES,
  };
}

const splits = (): Splits => ({ train: sentences(40, 1), valid: sentences(10, 2), test: sentences(10, 3), source: "synthetic sentences" });

describe("on_plateau", () => {
  const desc = new RnnSlu().desc;
  const phase = desc.phases[0]!;
  const plateau = phase.plateau!;

  function fakeRun(bestIter: number, best: Record<string, Float32Array> | null) {
    const model = new RnnSlu();
    model.state["train.lr_scale"]!.fill(1);
    const lines: string[] = [];
    const es = new EarlyStopping(phase.earlyStopping!, 100, { patience: 1e9, bestValid: 5, bestIter, testAtBest: null, done: false });
    const run = { model, checkpointer: { best }, log: { ...silentLogger, info: (s: string) => lines.push(s) } } as unknown as TrainingRun;
    const v: PhaseValidation = { phase, minibatches: 100, validating: true, monitor: "f1", earlyStopping: es };
    return { model, run, v, lines };
  }

  it("the description carries rnnslu.py's decay", () => {
    expect(plateau).toEqual({ lr: 0.0970806646812754, factor: 0.5, patienceEpochs: 10, minLr: 1e-5, restoreBest: true, scaleState: "train.lr_scale" });
    expect(desc.state.find((s) => s.name === "train.lr_scale")?.init).toEqual({ kind: "one" });
  });

  it("waits until the best validation is patience_epochs old, then halves the rate and restores the best parameters", async () => {
    const best = Object.fromEntries(desc.params.map((p) => [p.name, new Float32Array(p.shape.reduce((a, b) => a * b, 1)).fill(0.25)]));
    // Best at epoch 3 (iters 200..299), validations at the ends of epochs.
    const { model, run, v, lines } = fakeRun(299, best);
    expect(await plateauAfterValidation(run, v, 1199)).toBe(false); // epoch 12: 9 epochs on
    expect(model.state["train.lr_scale"]![0]).toBe(1);
    expect(model.params.emb![0]).not.toBe(0.25);
    expect(await plateauAfterValidation(run, v, 1299)).toBe(false); // epoch 13: 10 epochs on
    expect(model.state["train.lr_scale"]![0]).toBe(0.5);
    expect(model.params.emb![0]).toBe(0.25);
    expect(model.params.Wx![69999]).toBe(0.25);
    expect(lines[0]).toMatch(/no better validation for 10 epochs \(best at epoch 3\): learning rate × 0.5 → 0.04854, best parameters restored/);
    // As rnnslu.py: the best epoch did not move, so it fires again next epoch.
    await plateauAfterValidation(run, v, 1399);
    expect(model.state["train.lr_scale"]![0]).toBe(0.25);
  });

  it("ends the phase once the rate is below min_lr", async () => {
    const { model, run, v } = fakeRun(0, null);
    model.state["train.lr_scale"]![0] = 2e-4; // lr 1.94e-5 → 9.7e-6 < 1e-5
    expect(await plateauAfterValidation(run, v, 1099)).toBe(true);
  });

  it("does nothing before any best validation", async () => {
    const { model, run, v } = fakeRun(-1, null);
    expect(await plateauAfterValidation(run, v, 5000)).toBe(false);
    expect(model.state["train.lr_scale"]![0]).toBe(1);
  });
});

describe("chunk_f1", () => {
  /** A model whose evaluation predicts `predict(gold)` for every word. */
  function fake(predict: (gold: number) => number): CompiledModel {
    const real = new RnnSlu();
    return {
      desc: real.desc,
      params: real.params,
      state: real.state,
      trainStep: () => 0,
      evaluate(batch: Batch, out: Record<string, Float32Array>) {
        const gold = batch.labels as Int32Array;
        for (let i = 0; i < gold.length; i++) out.f1![i] = gold[i]! < 0 ? 0 : predict(gold[i]!);
      },
    };
  }
  const split = sentences(25, 4);

  it("is 100 for the gold sequences and 0 when every word is predicted O", async () => {
    expect((await new Evaluator(fake((g) => g)).evaluate(split, "valid split")).f1).toBe(100);
    expect((await new Evaluator(fake(() => 0)).evaluate(split, "valid split")).f1).toBe(0);
  });

  it("scores only each sentence's first `length` words", async () => {
    // Predictions past the end would be chunks of their own if they were read.
    const m = fake((g) => g);
    const inner = m.evaluate.bind(m);
    m.evaluate = (batch, out) => {
      inner(batch, out);
      const gold = batch.labels as Int32Array;
      for (let i = 0; i < gold.length; i++) if (gold[i]! < 0) out.f1![i] = 1;
    };
    expect((await new Evaluator(m).evaluate(split, "valid split")).f1).toBe(100);
  });

  it("needs the dataset's label names", async () => {
    const { labelNames: _, ...bare } = split;
    await expect(new Evaluator(fake((g) => g)).evaluate(bare, "valid split")).rejects.toThrow(/valid split: metric "f1" scores label sequences, but the data has no label names/);
  });
});

describe("the spec is rnnslu.py", () => {
  it("a sentence's cost equals a plain transcription of rnnslu.py's forward pass (h_t scores word t)", () => {
    const m = new RnnSlu();
    initModel(m, { trainExamples: 40 });
    const split = sentences(3, 5);
    const P = m.params;
    for (let k = 0; k < 3; k++) {
      const words = split.named!.words!.data.subarray(k * T * WINDOW, (k + 1) * T * WINDOW) as Int32Array;
      const labels = split.named!.labels!.data.subarray(k * T, (k + 1) * T) as Int32Array;
      const n = split.named!.length!.data[k]!;
      // rnnslu.py: x = emb[idxs].reshape(n, de*cs); h_t = sigmoid(x_t Wx + h_tm1 Wh + bh);
      // s_t = softmax(h_t W + b); nll = -mean(log s_t[y_t]).
      let h = Float64Array.from(P.h0!);
      let nll = 0;
      for (let t = 0; t < n; t++) {
        const x = Array.from({ length: 350 }, (_, j) => P.emb![words[t * WINDOW + Math.floor(j / 50)]! * 50 + (j % 50)]!);
        const next = new Float64Array(200);
        for (let o = 0; o < 200; o++) {
          let z = P.bh![o]!;
          for (let j = 0; j < 350; j++) z += x[j]! * P.Wx![j * 200 + o]!;
          for (let j = 0; j < 200; j++) z += h[j]! * P.Wh![j * 200 + o]!;
          next[o] = 1 / (1 + Math.exp(-z));
        }
        h = next;
        const s = Array.from({ length: 127 }, (_, c) => {
          let z = P.b![c]!;
          for (let j = 0; j < 200; j++) z += h[j]! * P.W![j * 127 + c]!;
          return z;
        });
        const top = Math.max(...s);
        nll -= s[labels[t]!]! - top - Math.log(s.reduce((a, z) => a + Math.exp(z - top), 0));
      }
      const batch = { words: Int32Array.from(words), labels: Int32Array.from(labels), length: Int32Array.of(n) };
      const fresh = new RnnSlu();
      initModel(fresh, { trainExamples: 40 });
      expect(Math.abs(fresh.trainStep(0, batch, 0) - nll / n), `sentence ${k}`).toBeLessThan(1e-5);
    }
  });
});

describe("training rnnslu on sentences", () => {
  const scaleOf = (m: CompiledModel) => m.state["train.lr_scale"]![0]!;

  it("decays on a plateau, and N steps straight = N/2, a checkpoint, a fresh model and N/2 more (bitwise)", async () => {
    const data = splits();
    const N = 620; // 15.5 epochs of 40 sentences: past a decay, mid-epoch
    const straight: CompiledModel = new RnnSlu();
    const lines: string[] = [];
    await runTraining(straight, data, new MemoryRunStore(), { maxSteps: N, log: { ...silentLogger, info: (s) => lines.push(s) } });
    expect(lines.some((l) => /learning rate × 0.5/.test(l)), lines.join("\n")).toBe(true);
    expect(scaleOf(straight)).toBeLessThan(1);

    const store = new MemoryRunStore();
    await runTraining(new RnnSlu(), data, store, { maxSteps: N / 2, log: silentLogger });
    const resumed: CompiledModel = new RnnSlu();
    await runTraining(resumed, data, store, { resume: true, maxSteps: N, log: silentLogger });
    expect(scaleOf(resumed)).toBe(scaleOf(straight));
    for (const p of straight.desc.params) expect(resumed.params[p.name], p.name).toEqual(straight.params[p.name]);
  });

  it("keeps the embeddings' rows at unit length after every update", async () => {
    const m = new RnnSlu();
    await runTraining(m, splits(), new MemoryRunStore(), { maxSteps: 7, log: silentLogger });
    const emb = m.params.emb!;
    for (let r = 0; r < 573; r++) {
      let s = 0;
      for (let k = 0; k < 50; k++) s += emb[r * 50 + k]! ** 2;
      expect(Math.abs(Math.sqrt(s) - 1), `row ${r}`).toBeLessThan(1e-5);
    }
  });

  it("refuses sentences whose tensors do not match the inputs, naming both", async () => {
    const bad = splits();
    const labels = bad.train.named!.labels!;
    const train: Split = { ...bad.train, named: { ...bad.train.named!, words: labels } };
    await expect(runTraining(new RnnSlu(), { ...bad, train }, new MemoryRunStore(), { maxSteps: 1, log: silentLogger })).rejects.toThrow(/train split: input "words" is \[46, 7\] i32, the data's "words" is \[46\] i32 \(it has: words \[46\] i32, labels \[46\] i32, length \[\] i32\)/);
  });
});

// The description type is what the trainer reads (a compile-time check that
// the plateau and split-metric fields are part of it).
export type _Desc = ModelDescription["splitMetrics"];
