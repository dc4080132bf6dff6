// Products that skip their left operand's zeros (compiler/emit/wasm/sparse.ts),
// with a·b terms or, for an A of exact 0s and 1s, b terms: bitwise the dense
// kernel's result (same sums per KC block in the same order, C + α·s)
// whichever the runtime picks, split by columns on two threads bitwise one
// thread's, and which operands the compiler proves 0/1
// (compiler/lower/binary-values.ts).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SPARSE_KC, sparseListSize } from "../compiler/emit/wasm/sparse.ts";
import { kernelArgNames } from "../compiler/emit/wasm/calls.ts";
import { splitsSparseProduct } from "../compiler/emit/wasm/split-rule.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { binaryValued } from "../compiler/lower/binary-values.ts";
import { createArena } from "../runtime/cpu/arena.ts";
import { createKernels, type Kernels } from "../runtime/cpu/kernels.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

/** Fills A (non-zero at `density`: 1s when `binary`, else normal numbers), B
 * and C, runs `gemmSparse` and the dense kernel on copies, returns both Cs. */
function both(K: Kernels, buf: ArrayBufferLike, t: "nn" | "tn", m: number, n: number, k: number, acc: boolean, alpha: number, density: number, split: boolean, binary = true) {
  const f = new Float32Array(buf);
  const lda = (t === "tn" ? m : k) + 3, ldb = n + 5, ldc = n + 2;
  const rowsA = t === "tn" ? k : m;
  const A = 64, B = A + 4 * (rowsA * lda + 16), C1 = B + 4 * (k * ldb + 16), C2 = C1 + 4 * (m * ldc + 16), L = C2 + 4 * (m * ldc + 16);
  for (let i = 0; i < rowsA * lda; i++) f[A / 4 + i] = uniform(3, m + n, k, 0, i) < density ? (binary ? 1 : Math.fround(normal(6, m, n, 0, i))) : 0;
  for (let i = 0; i < k * ldb; i++) f[B / 4 + i] = Math.fround(normal(4, m + n, k, 0, i));
  for (let i = 0; i < m * ldc; i++) f[C1 / 4 + i] = f[C2 / 4 + i] = Math.fround(normal(5, 1, 0, 0, i));
  K.gemmSparse({ a: A, b: B, c: C1, m, n, k, lda, ldb, ldc, transA: t === "tn", accumulate: acc, alpha, binary, list: L, split });
  K[`gemm_${t}`](A, B, C2, m, n, k, lda, ldb, ldc, acc ? 1 : 0, alpha);
  return { binary: f.slice(C1 / 4, C1 / 4 + m * ldc), dense: f.slice(C2 / 4, C2 / 4 + m * ldc) };
}

describe("products that skip A's zeros equal the dense kernel bitwise", () => {
  const mem = createArena(16 << 20, 1);
  const K = createKernels(mem);
  // n: whole 32-column strips, 16 and 4, and the last 1–3 columns; k past
  // one and two KC blocks (the sums restart at each block).
  const shapes: [number, number, number][] = [[1, 1, 1], [5, 13, 7], [20, 50, 300], [9, 17, 513], [3, 70, 2 * SPARSE_KC + 1], [20, 500, 784], [7, 35, 20], [4, 66, 256]];
  for (const t of ["nn", "tn"] as const) {
    for (const [m, n, k] of shapes) {
      // Densities on both sides of the runtime's switch to the dense kernel
      // (runtime/cpu/kernels.ts sparsePays), and the empty and full ends.
      for (const [acc, alpha, density, binary] of [[false, 1, 0.5, true], [true, -0.3, 0.15, true], [false, 0.5, 1, true], [true, 1, 0, true], [false, 1, 0.3, false], [true, -0.3, 0.05, false], [false, 0.7, 0.9, false]] as const) {
        it(`${t} ${m}×${n}×${k}, ${binary ? "0/1" : "values"} at density ${density}${acc ? ", accumulating" : ""}${alpha !== 1 ? `, α ${alpha}` : ""}`, () => {
          const r = both(K, mem.buffer, t, m, n, k, acc, alpha, density, false, binary);
          expect(r.binary).toEqual(r.dense);
        });
      }
    }
  }

  it("the lists fit the scratch sparseListSize reserves", () => {
    const f = new Int32Array(mem.buffer);
    const [m, k] = [3, 2 * SPARSE_KC + 5];
    const A = 64, L = 1 << 20;
    new Float32Array(mem.buffer).fill(1, A / 4, A / 4 + m * k);
    const size = sparseListSize(m, k);
    f.fill(-7, L / 4, L / 4 + size + 8);
    expect(K.nonzero_rows(A, m, k, k, 10, 0, L)).toBe(m * k);
    expect(Array.from(f.subarray(L / 4 + size, L / 4 + size + 8))).toEqual(new Array(8).fill(-7));
    // Row 0's first block: KC non-zeros, pairs (p·ldb·4 from B's first row, A's bits).
    expect(f[L / 4]).toBe(SPARSE_KC);
    expect(Array.from(f.subarray(L / 4 + 1, L / 4 + 5))).toEqual([0, 0x3f800000, 40, 0x3f800000]);
  });
});

describe("products that skip A's zeros, on two threads", () => {
  const singleMem = createArena(16 << 20, 1);
  const sharedMem = createArena(16 << 20, 2);
  const single = createKernels(singleMem);
  const two = createKernels(sharedMem);
  // Sparse enough for the list-driven kernels (split by columns), and too
  // dense for them (the dense kernel's split).
  for (const [t, m, n, k, binary, density] of [["nn", 20, 500, 784, true, 0.4], ["nn", 10, 1000, 300, false, 0.2], ["tn", 5, 130, 400, true, 0.4], ["nn", 3, 64, 200, false, 0.1], ["nn", 20, 500, 784, false, 0.9]] as const) {
    it(`${t} ${m}×${n}×${k}, ${binary ? "0/1" : "values"} at density ${density}, split equals one thread bitwise`, () => {
      expect(sharedMem.buffer).toBeInstanceOf(SharedArrayBuffer);
      const a = both(two, sharedMem.buffer, t, m, n, k, true, -0.7, density, true, binary);
      const b = both(single, singleMem.buffer, t, m, n, k, true, -0.7, density, false, binary);
      expect(a.binary).toEqual(b.binary);
      expect(a.binary).toEqual(a.dense);
    });
  }

  it("splits only wide, deep products of enough work", () => {
    expect(splitsSparseProduct(20, 500, 784)).toBe(true);
    expect(splitsSparseProduct(784, 500, 20)).toBe(false); // a weight gradient: k is the batch
    expect(splitsSparseProduct(20, 32, 784)).toBe(false); // under two 32-column strips
    expect(splitsSparseProduct(2, 100, 300)).toBe(false); // too little work
  });

  it("the named call writes its arguments in the interface's order", () => {
    expect(kernelArgNames("gemmSparse")).toEqual(["a", "b", "c", "m", "n", "k", "lda", "ldb", "ldc", "transA", "accumulate", "alpha", "binary", "list", "split"]);
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

describe("the generated models use them", () => {
  // generated/ is checked against the compiler by the golden tests; here,
  // which of its products the proof reached: the Gibbs chain's visible
  // sample inside the scan, the chain's final carry after it (the scan
  // runs 15 steps, so the final is the body's sample), the thresholded
  // input, and the fused weight update whose A is that final carry.
  const rbm = readFileSync("generated/rbm/model.ts", "utf8");
  it.each([
    ["_1 @ W → chain_body_h_matmul", /gemmSparse\(\{[^}]*binary: true[^}]*split: true \}\); \/\/ _1 @ W → chain_body_h_matmul/],
    ["chain_scan_final1 @ W", /gemmSparse\(\{[^}]*binary: true[^}]*\}\); \/\/ chain_scan_final1 @ W → fe_chain_matmul/],
    ["xi @ W", /gemmSparse\(\{[^}]*binary: true[^}]*\}\); \/\/ xi @ W → fe_xi_matmul/],
    ["W += -0.1 · chain_scan_final1 @ d_fe_chain_mul", /gemmSparse\(\{[^}]*accumulate: true, alpha: -0\.1, binary: true[^}]*split: false \}\); \/\/ W \+= -0\.1 · chain_scan_final1 @ d_fe_chain_mul/],
  ])("%s", (_what, re) => expect(rbm).toMatch(re));
  it("a product of a hidden sample with Wᵀ stays dense (no 0/1 kernel reads B transposed)", () => {
    expect(rbm).toMatch(/this\.k\.gemm\(\{[^}]*transB: true[^}]*\}\); \/\/ chain_scan_carry0 @ W → chain_body_v_sample_matmul/);
  });
  it("the DBN's CD-1 reconstructions", () => {
    const dbn = readFileSync("generated/dbn/model.ts", "utf8");
    for (const l of ["end1 @ W1", "end2 @ W2", "end3 @ W3"]) expect(dbn).toMatch(new RegExp(`binary: true[^}]*\\}\\); // ${l} →`));
  });
  it("dropout's (h ⊙ mask) / keep skips its zeros (dnn, newmu-modern)", () => {
    const modern = readFileSync("generated/newmu_modern/model.ts", "utf8");
    expect(modern).toMatch(/gemmSparse\(\{[^}]*binary: false[^}]*\}\); \/\/ h_div @ w_h → h_matmul/);
    expect(readFileSync("generated/dnn/model.ts", "utf8")).toMatch(/gemmSparse\(/);
  });
  it("the dA's corrupted input x ⊙ mask skips x's zeros", () => {
    const da = readFileSync("generated/da/model.ts", "utf8");
    expect(da).toMatch(/binary: false[^}]*\}\); \/\/ x_tilde @ W → y_matmul/);
    expect(da).toMatch(/binary: false[^}]*\}\); \/\/ W \+= -0\.1 · x_tilde @ d_y_mul/);
  });
});
