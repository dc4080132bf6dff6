// A loss's terms as the generated code computes them, against values worked
// out in f64 in this file: cost = mean NLL + w · Σp² over the L2 term's
// parameters (the squared norm, mlp.py's L2_sqr), and the SGD step that
// follows; and the pixel scale the compiler puts in the model description
// (1/255, the tutorial's mnist.pkl.gz), through the loader (pixel 255 → 1).

import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { loadSpecFile } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { compileAndLoad, removeCompiled } from "./setup/compiled-spec.ts";

const tmpDirs: string[] = [];
afterAll(() => {
  removeCompiled();
  for (const d of tmpDirs) rmSync(d, { recursive: true, force: true });
});

const WEIGHT = 0.25;
const LR = 0.1;
const SPEC = `
model: loss_terms_probe
seed: 5
data:
  dataset: synthetic
  batch_size: 3
  inputs:
    x: { shape: [4], dtype: f32 }
    y: { shape: [], dtype: i32, classes: 3 }
params:
  W: { shape: [4, 3], init: zeros }
  b: { shape: [3], init: zeros }
graph:
  p: { dense: { input: x, weight: W, bias: b, activation: softmax } }
losses:
  cost:
    nll: { probs: p, labels: y }
    l2: { params: [W, b], weight: ${WEIGHT} }
metrics:
  cost: { nll: { probs: p, labels: y } }
phases:
  - name: train
    loss: cost
    optimizer: { sgd: { lr: ${LR} } }
    epochs: 1
`;

// Values exact in f32; negative entries, and magnitudes above and below 1,
// so Σp², Σp and Σ|p| all differ.
const W = [0.5, -1.25, 2, -0.75, 1.5, 0.25, -2, 0.125, 1, -0.5, 0.75, -1.5]; // [4, 3] row-major
const B = [0.5, -1, 0.25];
const X = [
  [1, 0.5, -0.25, 2],
  [-1.5, 0.75, 1, 0.25],
  [0.5, -2, 0.5, -1],
];
const Y = [0, 2, 1];
const N = X.length;

/** Logits, probabilities and per-example NLL in f64. */
function forward() {
  const z = X.map((x) => B.map((bj, j) => bj + x.reduce((s, xi, i) => s + xi * W[i * 3 + j]!, 0)));
  const p = z.map((r) => {
    const m = Math.max(...r);
    const e = r.map((v) => Math.exp(v - m));
    const s = e.reduce((a, v) => a + v, 0);
    return e.map((v) => v / s);
  });
  const nll = z.map((r, k) => {
    const m = Math.max(...r);
    return m + Math.log(r.reduce((s, v) => s + Math.exp(v - m), 0)) - r[Y[k]!]!;
  });
  return { z, p, nll };
}

const sumSq = [...W, ...B].reduce((s, v) => s + v * v, 0);

function expectNear(got: number, want: number, what: string, rel = 1e-5): void {
  expect(Math.abs(got - want), `${what}: generated ${got}, by hand ${want}`).toBeLessThanOrEqual(rel * Math.abs(want) + 1e-6);
}

async function probe() {
  const { c, model } = await compileAndLoad(SPEC, "test/loss-terms.test.ts");
  model.params.W!.set(W);
  model.params.b!.set(B);
  const batch = { x: Float32Array.from(X.flat()), y: Int32Array.from(Y) };
  return { c, model, batch };
}

describe("loss terms of the generated code", () => {
  it("the by-hand values tell a squared penalty from Σp and Σ|p|", () => {
    const sum = [...W, ...B].reduce((s, v) => s + v, 0);
    const sumAbs = [...W, ...B].reduce((s, v) => s + Math.abs(v), 0);
    expect(sumSq).toBe(16.765625 + 1.3125); // ΣW², Σb² by hand
    expect(Math.abs(WEIGHT * (sumSq - sum))).toBeGreaterThan(1);
    expect(Math.abs(WEIGHT * (sumSq - sumAbs))).toBeGreaterThan(1);
  });

  it("cost = mean NLL + w · Σp² at known parameters", async () => {
    const { model, batch } = await probe();
    const data = forward().nll.reduce((s, v) => s + v, 0) / N;
    const cost = await model.trainStep(0, batch, 0);
    expectNear(cost, data + WEIGHT * sumSq, "cost");
  });

  it("the step's update: p ← p − lr (∂NLL/∂p + 2 w p)", async () => {
    const { model, batch } = await probe();
    await model.trainStep(0, batch, 0);
    const { p } = forward();
    // ∂ mean NLL / ∂z = (softmax − onehot) / N.
    const dz = p.map((r, k) => r.map((v, j) => (v - (j === Y[k] ? 1 : 0)) / N));
    const wantW = W.map((w, at) => {
      const [i, j] = [Math.floor(at / 3), at % 3];
      const g = X.reduce((s, x, k) => s + x[i]! * dz[k]![j]!, 0);
      return w - LR * (g + 2 * WEIGHT * w);
    });
    const wantB = B.map((bj, j) => bj - LR * (dz.reduce((s, r) => s + r[j]!, 0) + 2 * WEIGHT * bj));
    wantW.forEach((v, k) => expectNear(model.params.W![k]!, v, `W[${k}]`));
    wantB.forEach((v, k) => expectNear(model.params.b![k]!, v, `b[${k}]`));
  });

  it("the nll metric is the data term alone (no penalty), per example", async () => {
    const { c, model, batch } = await probe();
    const out = { cost: new Float32Array(c.desc.evalBatchSize) };
    await model.evaluate(batch, out);
    forward().nll.forEach((v, k) => expectNear(out.cost[k]!, v, `nll of example ${k}`));
  });
});

/** An IDX file's bytes (big-endian header, then the payload). */
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

describe("the compiled pixel scale", () => {
  it("is exactly 1/255 in the model description", () => {
    const c = compileSpec(loadSpecFile("specs/logreg.yaml"));
    expect(c.desc.data.scale).toBe(1 / 255);
  });

  it("through the loader: pixel 255 is 1.0, 0 is 0, every byte v is v/255 in f32", async () => {
    const c = compileSpec(loadSpecFile("specs/logreg.yaml"));
    const dir = mkdtempSync(join(tmpdir(), "dlt-scale-"));
    tmpDirs.push(dir);
    // Four images: every byte value 0..255 once in the first, then 255s, 0s, 128s.
    const n = 4;
    const pixels = new Uint8Array(n * 784);
    for (let i = 0; i < 784; i++) {
      pixels[i] = i % 256;
      pixels[784 + i] = 255;
      pixels[2 * 784 + i] = 0;
      pixels[3 * 784 + i] = 128;
    }
    const labels = Uint8Array.from([1, 2, 3, 4]);
    for (const pool of ["train", "t10k"]) {
      writeFileSync(join(dir, `${pool}-images-idx3-ubyte.gz`), gzipSync(idxBytes(0x803, [n, 28, 28], pixels)));
      writeFileSync(join(dir, `${pool}-labels-idx1-ubyte.gz`), gzipSync(idxBytes(0x801, [n], labels)));
    }
    // The compiled description as it is, but for splits that fit 4 images.
    const s = await loadDataset({ ...c.desc.data, splits: { train: [0, n], valid: [0, n], test: [0, n] } }, { dataDir: dir });
    expect(s.train.x[784]).toBe(1);
    expect(s.train.x.subarray(784, 2 * 784).every((v) => v === 1)).toBe(true);
    expect(s.test.x.subarray(2 * 784, 3 * 784).every((v) => Object.is(v, 0))).toBe(true);
    expect(s.valid.x[3 * 784]).toBe(Math.fround(128 / 255));
    const off: string[] = [];
    for (let v = 0; v < 256; v++) if (s.train.x[v] !== Math.fround(v / 255)) off.push(`${v} → ${s.train.x[v]}`);
    expect(off).toEqual([]);
  });
});
