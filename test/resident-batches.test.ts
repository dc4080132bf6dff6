// Batches read where they lie (runtime/cpu/arena.ts): a split placed in a
// CPU model's memory is multiplied in place by the inputs only products
// read (compiler/emit/ts/in-place-inputs.ts), bitwise as when each batch is
// copied in, on one thread and on two; the trainer places the training
// split there once, and unshuffled batches are views of it.

import { describe, expect, it } from "vitest";
import { Model as Dbn } from "../generated/dbn/model.ts";
import { Model as Lenet } from "../generated/lenet/model.ts";
import { Model as Logreg } from "../generated/logreg/model.ts";
import { Model as Mlp } from "../generated/mlp/model.ts";
import type { Batch, CompiledModel } from "../runtime/compiled-model.ts";
import { createArena, inArena, inputAddress, residentCopy } from "../runtime/cpu/arena.ts";
import { BatchIterator, PaddedBatches } from "../runtime/data/batcher.ts";
import type { Split, Splits } from "../runtime/data/dataset.ts";
import { silentLogger } from "../runtime/progress.ts";
import { initModel } from "../runtime/train/model-ops.ts";
import { MemoryRunStore } from "../runtime/train/run-store.ts";
import { runTraining } from "../runtime/train/trainer.ts";

const hex = (m: CompiledModel) => Object.values(m.params).map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("hex"));

/** Digit-like batches: 80 % zeros (the sparse kernels' lists see both kinds). */
function batches(n: number, rows: number, classes = 10): { x: Float32Array; y: Int32Array }[] {
  return Array.from({ length: n }, (_, k) => {
    const x = new Float32Array(rows * 784);
    for (let i = 0; i < x.length; i++) x[i] = (i * 7 + k * 13) % 97 < 20 ? ((i * 31 + k) % 255) / 255 : 0;
    const y = new Int32Array(rows);
    for (let i = 0; i < rows; i++) y[i] = (i * 3 + k) % classes;
    return { x, y };
  });
}

describe("the arena", () => {
  it("reads a batch in place only where it lies in this arena with the input's length", () => {
    const mem = createArena(1 << 16, 1);
    const other = createArena(1 << 16, 1);
    const own = new Float32Array(mem.buffer, 1024, 8);
    const placed = residentCopy(mem, Float32Array.from({ length: 8 }, (_, i) => i + 1))!;
    expect(inArena(mem, placed)).toBe(true);
    expect(inputAddress(mem, placed, own)).toBe(placed.byteOffset);
    expect([...own]).toEqual(new Array(8).fill(0)); // not copied
    // A plain array, another arena's array and a shorter view are copied in.
    for (const src of [Float32Array.from({ length: 8 }, (_, i) => -i), residentCopy(other, new Float32Array(8).fill(3))!, placed.subarray(0, 4)]) {
      expect(inputAddress(mem, src, own)).toBe(1024);
      expect([...own.subarray(0, src.length)]).toEqual([...src]);
    }
    expect(() => inputAddress(mem, new Float32Array(9), own)).toThrow(RangeError);
  });

  it("grows a shared arena without moving the model's views, and refuses a plain memory", () => {
    const mem = createArena(1 << 16, 1);
    expect(mem.buffer).toBeInstanceOf(SharedArrayBuffer);
    const field = new Float32Array(mem.buffer, 0, 4).fill(5);
    const placed = residentCopy(mem, new Float32Array(70_000).fill(2))!;
    expect(placed.byteOffset).toBe(1 << 16);
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual((1 << 16) + 280_000);
    field[0] = 6;
    expect(new Float32Array(mem.buffer, 0, 1)[0]).toBe(6); // the old view still writes the memory
    expect(placed[69_999]).toBe(2);
    expect(residentCopy(new WebAssembly.Memory({ initial: 1 }), new Float32Array(4))).toBeUndefined();
  });
});

describe("a model reading its batches in place", () => {
  // logreg (dense products, two threads), the MLP (x's zeros skipped), the
  // DBN's second RBM's CD-1 and its fine-tuning (list-driven products,
  // accumulated updates; the first RBM's step reads x in a loop: copied).
  /** A model built with DLT_THREADS set as given (read when it is built). */
  const withThreads = <M,>(threads: string, make: () => M): M => {
    const before = process.env.DLT_THREADS;
    process.env.DLT_THREADS = threads;
    try {
      return make();
    } finally {
      if (before === undefined) delete process.env.DLT_THREADS;
      else process.env.DLT_THREADS = before;
    }
  };
  const cases = [
    ["logreg, two threads", () => withThreads("2", () => new Logreg()), 600, [0]],
    ["logreg, one thread", () => withThreads("1", () => new Logreg()), 600, [0]],
    ["mlp", () => new Mlp(), 20, [0]],
    ["dbn", () => new Dbn(), 10, [1, 3]],
  ] as const;
  it.each(cases)("%s: the same parameters, bitwise, as copying every batch in", (_name, make, rows, stepFns) => {
    for (const stepFn of stepFns) {
      const data = batches(3, rows);
      const copied = make();
      const placed = make();
      initModel(copied);
      initModel(placed);
      // Placed after the model (and its helper thread) started: the helper
      // reads the grown memory.
      const resident = data.map((b): Batch => ({ x: placed.resident(b.x)!, y: b.y }));
      const costs: number[][] = [[], []];
      for (let s = 0; s < 9; s++) {
        costs[0]!.push(copied.trainStep(stepFn, data[s % 3]!, s));
        costs[1]!.push(placed.trainStep(stepFn, resident[s % 3]!, s));
      }
      expect(costs[1]).toEqual(costs[0]);
      expect(hex(placed)).toEqual(hex(copied));
    }
  });

  it("is offered by models whose steps read an input only through products, not by the convolutional net", () => {
    expect(typeof new Logreg().resident).toBe("function");
    expect((new Lenet() as CompiledModel).resident).toBeUndefined();
  });
});

describe("the training split's minibatches", () => {
  const split = (n: number): Split => {
    const [b] = batches(1, n);
    return { x: b!.x, y: b!.y, n, shape: [784], yShape: [] };
  };
  const inputs = new Logreg().desc.inputs;

  it("are views of the split in its order, copies into placed buffers when shuffled", () => {
    const s = split(1200);
    const it = new BatchIterator(s, inputs, 600, { shuffle: false, seed: 1 });
    it.setEpoch(0);
    const b = it.fill(1);
    expect(b.x!.buffer).toBe(s.x.buffer);
    expect(b.x!.byteOffset).toBe(s.x.byteOffset + 600 * 784 * 4);
    expect(it.fill(1)).toBe(b);
    const mem = createArena(1 << 16, 1);
    const shuffled = new BatchIterator(s, inputs, 600, { shuffle: true, seed: 1, place: (n) => residentCopy(mem, new Float32Array(n)) });
    shuffled.setEpoch(0);
    const c = shuffled.fill(0);
    expect(inArena(mem, c.x!)).toBe(true);
    const first = shuffled.currentOrder[0]!;
    expect([...c.x!.subarray(0, 784)]).toEqual([...s.x.subarray(first * 784, (first + 1) * 784)]);
  });

  it("evaluation: whole batches are views of the split, the last one copied and padded with zeros", () => {
    const s = split(1000);
    const pb = new PaddedBatches(s, inputs, 600, "valid split");
    const whole = pb.fill(0);
    expect([whole.count, whole.batch.x!.buffer === s.x.buffer]).toEqual([600, true]);
    const last = pb.fill(1);
    expect([last.count, last.batch.x!.buffer === s.x.buffer]).toEqual([400, false]);
    expect([...last.batch.x!.subarray(0, 400 * 784)]).toEqual([...s.x.subarray(600 * 784)]);
    expect(last.batch.x!.subarray(400 * 784).every((v) => v === 0)).toBe(true);
  });

  it("are read in place by a training run and its validations, which end bitwise where copied batches end", async () => {
    const train = split(1800);
    // 700 validation and test digits: one whole batch and one padded.
    const splits: Splits = { train, valid: split(700), test: split(700), source: "test digits" };
    const plain = new Logreg();
    // A model without `resident`: the trainer copies every batch in.
    const copying: CompiledModel = { desc: plain.desc, params: plain.params, state: plain.state, trainStep: (f, b, s) => plain.trainStep(f, b, s), evaluate: (b, o) => plain.evaluate(b, o) };
    const copied = await runTraining(copying, splits, new MemoryRunStore(), { maxSteps: 7, log: silentLogger });
    const placed = new Logreg();
    const seen: boolean[] = [];
    const step = placed.trainStep.bind(placed);
    const evaluate = placed.evaluate.bind(placed);
    // The model's arena is the only shared memory here.
    placed.trainStep = (f, b, s) => {
      seen.push(b.x!.buffer instanceof SharedArrayBuffer);
      return step(f, b, s);
    };
    placed.evaluate = (b, o) => {
      seen.push(b.x!.buffer instanceof SharedArrayBuffer);
      return evaluate(b, o);
    };
    const read = await runTraining(placed, splits, new MemoryRunStore(), { maxSteps: 7, log: silentLogger });
    expect(seen.length).toBeGreaterThan(7);
    expect(seen.every(Boolean)).toBe(true);
    expect(hex(placed)).toEqual(hex(plain));
    expect([read.bestValid, read.testAtBest, read.trainCost]).toEqual([copied.bestValid, copied.testAtBest, copied.trainCost]);
    expect(read.bestValid).not.toBeNull();
  });
});
