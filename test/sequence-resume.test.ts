// --resume is bit-exact mid-epoch for the LSTM (its dropout masks keyed by
// the global step, its Adadelta state in the checkpoint) and the RNN-RBM
// (its CD-15 chains drawn from the step's counters): N steps straight equal
// N/2 steps, a checkpoint, a fresh model and N/2 more. Synthetic examples in
// each dataset's layout (the real loaders are tested on their own).
import { describe, expect, it } from "vitest";
import { Model as Lstm } from "../generated/lstm/model.ts";
import { Model as RnnRbm } from "../generated/rnnrbm/model.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import type { NamedTensor, Split, Splits } from "../runtime/data/dataset.ts";
import { uniform } from "../runtime/rng/philox.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";

/** n examples whose first `len(k)` steps are set, the rest zero/padding. */
function examples(n: number, T: number, salt: number, tensors: (k: number, len: number) => Record<string, number[]>, shapes: Record<string, number[]>, ints: readonly string[]): Split {
  const named: Record<string, NamedTensor> = {};
  const rows: Record<string, number[]> = {};
  for (let k = 0; k < n; k++) {
    const len = 1 + Math.floor(uniform(3, salt, k, 0, 0) * (T - 1));
    for (const [name, v] of Object.entries(tensors(k, len))) (rows[name] ??= []).push(...v);
  }
  for (const [name, v] of Object.entries(rows)) named[name] = { data: ints.includes(name) ? Int32Array.from(v) : Float32Array.from(v), shape: shapes[name]! };
  const first = Object.values(named)[0]!;
  return { x: first.data instanceof Float32Array ? first.data : new Float32Array(0), y: new Int32Array(0), n, shape: shapes[Object.keys(named)[0]!]!, yShape: [0], named };
}

async function straightVsResumed(make: () => CompiledModel, data: Splits, n: number): Promise<void> {
  const straight = make();
  await runTraining(straight, data, new MemoryRunStore(), { maxSteps: n, log: silentLogger });
  const store = new MemoryRunStore();
  await runTraining(make(), data, store, { maxSteps: n / 2, log: silentLogger });
  const resumed = make();
  await runTraining(resumed, data, store, { resume: true, maxSteps: n, log: silentLogger });
  for (const p of straight.desc.params) expect(resumed.params[p.name], p.name).toEqual(straight.params[p.name]);
  for (const s of straight.desc.state) expect(resumed.state[s.name], s.name).toEqual(straight.state[s.name]);
}

describe("--resume, bit-exact mid-epoch", () => {
  it("the LSTM (dropout, Adadelta, per-batch step counts)", async () => {
    const T = 100;
    const split = (n: number, salt: number) =>
      examples(
        n,
        T,
        salt,
        (k, len) => ({
          words: Array.from({ length: T }, (_, t) => (t < len ? 2 + Math.floor(uniform(4, salt, k, 1, t) * 9000) : 0)),
          mask: Array.from({ length: T }, (_, t) => (t < len ? 1 : 0)),
          length: [len],
          label: [k % 2],
        }),
        { words: [T], mask: [T], length: [], label: [] },
        ["words", "length", "label"],
      );
    // 48 sentences: 3 minibatches an epoch; 10 steps end mid-epoch twice.
    await straightVsResumed(() => new Lstm(), { train: split(48, 1), valid: split(16, 2), test: split(16, 3), source: "synthetic" }, 10);
  }, 300_000);

  it("the RNN-RBM (CD-15 chains, the generator state in the checkpoint)", async () => {
    const T = 100;
    const split = (n: number, salt: number) =>
      examples(
        n,
        T,
        salt,
        (k, len) => ({
          roll: Array.from({ length: T * 88 }, (_, i) => (Math.floor(i / 88) < len && uniform(5, salt, k, 1, i) < 0.1 ? 1 : 0)),
          length: [len],
          mask: Array.from({ length: T }, (_, t) => (t < len ? 1 : 0)),
        }),
        { roll: [T, 88], length: [], mask: [T] },
        ["length"],
      );
    await straightVsResumed(() => new RnnRbm(), { train: split(7, 1), valid: split(3, 2), test: split(3, 3), source: "synthetic" }, 10);
  }, 300_000);
});

describe("ratio metrics", () => {
  it("sum the numerator and the denominator over the whole split (the RNN-RBM's frame accuracy), in percent", async () => {
    const { Evaluator } = await import("../runtime/train/model-ops.ts");
    const real = new RnnRbm();
    expect(real.desc.splitMetrics).toContainEqual({ name: "accuracy", kind: "ratio" });
    // Example k: k true positives out of 10 (TP + FP + FN): a mean of the
    // per-example ratios would differ from Σ TP / Σ (TP + FP + FN).
    const model: CompiledModel = {
      desc: real.desc,
      params: real.params,
      state: real.state,
      trainStep: () => 0,
      evaluate(batch, out) {
        const len = batch.length as Int32Array;
        for (let r = 0; r < len.length; r++) {
          out.accuracy![r] = len[r]! - 1;
          out["accuracy.den"]![r] = 10 * (len[r]! - 1) + 1;
          out.monitor![r] = 0;
        }
      },
    };
    const T = 100;
    const n = 4;
    const length = Int32Array.from({ length: n }, (_, k) => k + 1);
    const split: Split = {
      x: new Float32Array(n * T * 88),
      y: new Int32Array(0),
      n,
      shape: [T, 88],
      yShape: [0],
      named: { roll: { data: new Float32Array(n * T * 88), shape: [T, 88] }, length: { data: length, shape: [] }, mask: { data: new Float32Array(n * T), shape: [T] } },
    };
    const r = await new Evaluator(model).evaluate(split, "test split");
    // Σ TP = 0+1+2+3 = 6, Σ den = 1+11+21+31 = 64.
    expect(r.accuracy).toBeCloseTo((100 * 6) / 64, 10);
  });
});

describe("early stopping on a percent where higher is better", () => {
  it("watches 100 − v for every split metric (chunk_f1 and ratio), v itself for the others", async () => {
    const { monitorLoss } = await import("../runtime/train/validation.ts");
    const desc = new RnnRbm().desc;
    expect(monitorLoss(desc, "accuracy", 38)).toBe(62);
    expect(monitorLoss(desc, "monitor", -7)).toBe(-7);
    expect(monitorLoss(desc, "accuracy", monitorLoss(desc, "accuracy", 38))).toBe(38);
  });
});

