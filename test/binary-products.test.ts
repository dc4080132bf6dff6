// Products whose left operand holds only 0s and 1s (compiler/emit/wasm/binary.ts):
// bitwise the dense kernel's result (same sums per KC block in the same
// order, C + α·s), split by columns on two threads bitwise one thread's,
// and which operands the compiler proves 0/1 (compiler/lower/binary-values.ts).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { BINARY_KC, binaryListSize } from "../compiler/emit/wasm/binary.ts";
import { kernelArgNames } from "../compiler/emit/wasm/calls.ts";
import { splitsBinaryProduct } from "../compiler/emit/wasm/split-rule.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { binaryValued } from "../compiler/lower/binary-values.ts";
import { createArena, createKernels, type Kernels } from "../runtime/cpu/kernels.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

/** Fills A (0/1 at `density`), B and C, runs `gemmBinary` and the dense
 * kernel on copies, returns both Cs. */
function both(K: Kernels, buf: ArrayBufferLike, t: "nn" | "tn", m: number, n: number, k: number, acc: boolean, alpha: number, density: number, split: boolean) {
  const f = new Float32Array(buf);
  const lda = (t === "tn" ? m : k) + 3, ldb = n + 5, ldc = n + 2;
  const rowsA = t === "tn" ? k : m;
  const A = 64, B = A + 4 * (rowsA * lda + 16), C1 = B + 4 * (k * ldb + 16), C2 = C1 + 4 * (m * ldc + 16), L = C2 + 4 * (m * ldc + 16);
  for (let i = 0; i < rowsA * lda; i++) f[A / 4 + i] = uniform(3, m + n, k, 0, i) < density ? 1 : 0;
  for (let i = 0; i < k * ldb; i++) f[B / 4 + i] = Math.fround(normal(4, m + n, k, 0, i));
  for (let i = 0; i < m * ldc; i++) f[C1 / 4 + i] = f[C2 / 4 + i] = Math.fround(normal(5, 1, 0, 0, i));
  K.gemmBinary({ a: A, b: B, c: C1, m, n, k, lda, ldb, ldc, transA: t === "tn", accumulate: acc, alpha, list: L, split });
  K[`gemm_${t}`](A, B, C2, m, n, k, lda, ldb, ldc, acc ? 1 : 0, alpha);
  // The list scratch ends where binaryListSize says (nothing past it written).
  return { binary: f.slice(C1 / 4, C1 / 4 + m * ldc), dense: f.slice(C2 / 4, C2 / 4 + m * ldc) };
}

describe("0/1 products equal the dense kernel bitwise", () => {
  const mem = createArena(16 << 20, 1);
  const K = createKernels(mem);
  // n: whole 32-column strips, 16 and 4, and the last 1–3 columns; k past
  // one and two KC blocks (the sums restart at each block).
  const shapes: [number, number, number][] = [[1, 1, 1], [5, 13, 7], [20, 50, 300], [9, 17, 513], [3, 70, 2 * BINARY_KC + 1], [20, 500, 784], [7, 35, 20], [4, 66, 256]];
  for (const t of ["nn", "tn"] as const) {
    for (const [m, n, k] of shapes) {
      for (const [acc, alpha, density] of [[false, 1, 0.5], [true, -0.3, 0.15], [false, 0.5, 1], [true, 1, 0]] as const) {
        it(`${t} ${m}×${n}×${k}, density ${density}${acc ? ", accumulating" : ""}${alpha !== 1 ? `, α ${alpha}` : ""}`, () => {
          const { binary, dense } = both(K, mem.buffer, t, m, n, k, acc, alpha, density, false);
          expect(binary).toEqual(dense);
        });
      }
    }
  }

  it("the lists fit the scratch binaryListSize reserves", () => {
    const f = new Int32Array(mem.buffer);
    const [m, k] = [3, 2 * BINARY_KC + 5];
    const A = 64, L = 1 << 20;
    new Float32Array(mem.buffer).fill(1, A / 4, A / 4 + m * k);
    const size = binaryListSize(m, k);
    f.fill(-7, L / 4, L / 4 + size + 8);
    K.binary_rows(A, m, k, k, 10, 0, L);
    expect(Array.from(f.subarray(L / 4 + size, L / 4 + size + 8))).toEqual(new Array(8).fill(-7));
    // Row 0's first block: KC ones, offsets p·ldb·4 from B's first row.
    expect(f[L / 4]).toBe(BINARY_KC);
    expect(Array.from(f.subarray(L / 4 + 1, L / 4 + 4))).toEqual([0, 40, 80]);
  });
});

describe("0/1 products on two threads", () => {
  const singleMem = createArena(16 << 20, 1);
  const sharedMem = createArena(16 << 20, 2);
  const single = createKernels(singleMem);
  const two = createKernels(sharedMem);
  for (const [t, m, n, k] of [["nn", 20, 500, 784], ["nn", 10, 1000, 300], ["tn", 5, 130, 400], ["nn", 3, 64, 200]] as const) {
    it(`${t} ${m}×${n}×${k} split by columns equals one thread bitwise`, () => {
      expect(sharedMem.buffer).toBeInstanceOf(SharedArrayBuffer);
      const a = both(two, sharedMem.buffer, t, m, n, k, true, -0.7, 0.4, true);
      const b = both(single, singleMem.buffer, t, m, n, k, true, -0.7, 0.4, false);
      expect(a.binary).toEqual(b.binary);
      expect(a.binary).toEqual(a.dense);
    });
  }

  it("splits only wide, deep products of enough work", () => {
    expect(splitsBinaryProduct(20, 500, 784)).toBe(true);
    expect(splitsBinaryProduct(784, 500, 20)).toBe(false); // a weight gradient: k is the batch
    expect(splitsBinaryProduct(20, 32, 784)).toBe(false); // under two 32-column strips
    expect(splitsBinaryProduct(2, 100, 300)).toBe(false); // too little work
  });

  it("the named call writes its arguments in the interface's order", () => {
    expect(kernelArgNames("gemmBinary")).toEqual(["a", "b", "c", "m", "n", "k", "lda", "ldb", "ldc", "transA", "accumulate", "alpha", "list", "split"]);
  });
});

describe("which tensors the compiler proves 0/1", () => {
  const b = new Builder();
  const x = b.leaf("input", "x", [4, 6], "f32");
  const p = b.constant(0.5, [4, 6]);
  const u = b.randomUniform([4, 6], "f32", 1);
  const sample = b.cast(b.compare("lt", u, p), "f32");
  it.each([
    ["a Bernoulli sample", sample, true],
    ["its reshape and transpose", b.transpose(b.reshape(sample, [6, 4]), [1, 0]), true],
    ["where(x > 0.5, 1, 0)", b.select(b.compare("gt", x, p), b.constant(1, [4, 6]), b.constant(0, [4, 6])), true],
    ["where(x > 0.5, 0, 1)", b.select(b.compare("gt", x, p), b.constant(0, [4, 6]), b.constant(1, [4, 6])), true],
    ["where(x > 0.5, 2, 0)", b.select(b.compare("gt", x, p), b.constant(2, [4, 6]), b.constant(0, [4, 6])), false],
    ["a data input", x, false],
    ["a sample times a number", b.mul(sample, p), false],
  ] as const)("%s: %s", (_what, id, want) => {
    expect(binaryValued(b.graph, b.graph.nodes[id]!)).toBe(want);
  });
});

describe("the generated RBM and DBN use them", () => {
  // generated/ is checked against the compiler by the golden tests; here,
  // which of its products the proof reached: the Gibbs chain's visible
  // sample inside the scan, the chain's final carry after it (the scan
  // runs 15 steps, so the final is the body's sample), the thresholded
  // input, and the fused weight update whose A is that final carry.
  const rbm = readFileSync("generated/rbm/model.ts", "utf8");
  it.each([
    ["_1 @ W → chain_body_h_matmul", /gemmBinary\(\{[^}]*split: true \}\); \/\/ _1 @ W → chain_body_h_matmul/],
    ["chain_scan_final1 @ W", /gemmBinary\(\{[^}]*\}\); \/\/ chain_scan_final1 @ W → fe_chain_matmul/],
    ["xi @ W", /gemmBinary\(\{[^}]*\}\); \/\/ xi @ W → fe_xi_matmul/],
    ["W += -0.1 · chain_scan_final1 @ d_fe_chain_mul", /gemmBinary\(\{[^}]*accumulate: true, alpha: -0\.1[^}]*split: false \}\); \/\/ W \+= -0\.1 · chain_scan_final1 @ d_fe_chain_mul/],
  ])("%s", (_what, re) => expect(rbm).toMatch(re));
  it("a product of a hidden sample with Wᵀ stays dense (no 0/1 kernel reads B transposed)", () => {
    expect(rbm).toMatch(/this\.k\.gemm\(\{[^}]*transB: true[^}]*\}\); \/\/ chain_scan_carry0 @ W → chain_body_v_sample_matmul/);
  });
  it("the DBN's CD-1 reconstructions", () => {
    const dbn = readFileSync("generated/dbn/model.ts", "utf8");
    for (const l of ["end1 @ W1", "end2 @ W2", "end3 @ W3"]) expect(dbn).toContain(`// ${l} →`);
    expect(dbn.match(/this\.k\.gemmBinary\(/g)?.length).toBe(6);
  });
});
