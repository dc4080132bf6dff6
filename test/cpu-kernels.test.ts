// The CPU backend's WebAssembly kernels themselves (runtime/cpu/kernels.ts):
// the SIMD matrix kernels (every shape class: full tiles, ragged edges, k
// blocks, accumulation, leading dimensions larger than the block) against
// sums in JS, two threads, the named calls
// generated code makes, and the committed module. Tolerance: f32 products
// summed over k terms, relative 1e-5 of the magnitude of the terms
// (|A|·|B|). The ops' kernels that call them run against the reference
// evaluation in test/ops-backends.test.ts.

import { describe, expect, it } from "vitest";
import { runtimeKernelFiles } from "../compiler/emit/wasm/assemble.ts";
import { kernelArgNames, kernelCall, type KernelName } from "../compiler/emit/wasm/calls.ts";
import { splitsProduct, twoThreadsPay } from "../compiler/emit/wasm/split-rule.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { fromArray } from "../compiler/ir/tensor.ts";
import { cpuThreads, createArena } from "../runtime/cpu/arena.ts";
import { createKernels, type KernelExports, type Kernels } from "../runtime/cpu/kernels.ts";
import { availableParallelism } from "node:os";
import { normal, uniform } from "../runtime/rng/philox.ts";
import { readFileSync } from "node:fs";
import { runTsKernel } from "./setup/cpu.ts";

describe("SIMD matrix kernels", () => {
  const mem = createArena(8 << 20);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  const shapes: [number, number, number][] = [[1, 1, 1], [4, 8, 1], [5, 13, 7], [3, 4, 300], [9, 17, 513], [20, 50, 40], [7, 9, 5], [6, 11, 9], [5, 3, 70], [9, 10, 31], [2, 2, 3]];
  // n mod 4 = 1, 2, 3: a row's last columns are one partial-vector tile.
  for (const t of ["nn", "tn", "nt"] as const) {
    for (const [m, n, k] of shapes) {
      for (const [acc, alpha] of [[0, 1], [1, 1], [1, -0.3]] as const) {
        it(`gemm_${t} ${m}×${n}×${k}${acc ? " accumulating" : ""}${alpha !== 1 ? ` scaled by ${alpha}` : ""}`, () => {
          // Leading dimensions larger than the block, so strides are exercised.
          const lda = (t === "tn" ? m : k) + 3, ldb = (t === "nt" ? k : n) + 5, ldc = n + 2;
          const rowsA = t === "tn" ? k : m, rowsB = t === "nt" ? n : k;
          const A = 64, B = A + 4 * (rowsA * lda + 16), C = B + 4 * (rowsB * ldb + 16);
          for (let i = 0; i < rowsA * lda; i++) f[A / 4 + i] = Math.fround(normal(5, m * 7 + k, 0, 0, i));
          for (let i = 0; i < rowsB * ldb; i++) f[B / 4 + i] = Math.fround(normal(5, n * 7 + k, 1, 0, i));
          for (let i = 0; i < m * ldc; i++) f[C / 4 + i] = 0.25;
          K[`gemm_${t}`](A, B, C, m, n, k, lda, ldb, ldc, acc, alpha);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let s = 0, mag = 0;
              for (let p = 0; p < k; p++) {
                const a = t === "tn" ? f[A / 4 + p * lda + i]! : f[A / 4 + i * lda + p]!;
                const b = t === "nt" ? f[B / 4 + j * ldb + p]! : f[B / 4 + p * ldb + j]!;
                s += a * b;
                mag += Math.abs(a * b);
              }
              const want = Math.fround(alpha) * s + (acc ? 0.25 : 0);
              const got = f[C / 4 + i * ldc + j]!;
              expect(Math.abs(got - want), `C[${i},${j}]`).toBeLessThanOrEqual(1e-5 * (mag + 1));
            }
            // The columns past n belong to someone else.
            expect(f[C / 4 + i * ldc + n]).toBe(0.25);
            expect(f[C / 4 + i * ldc + n + 1]).toBe(0.25);
          }
        });
      }
    }
  }

  it("the committed kernel module is what the generator assembles", async () => {
    for (const [path, text] of await runtimeKernelFiles()) {
      expect(readFileSync(new URL(`../${path}`, import.meta.url), "utf8"), `${path} is stale: run npx dlt-compile --all`).toBe(text);
    }
  });

  it("the shared-memory variant compiles and runs on a shared memory", () => {
    const shared = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
    const Ks = createKernels(shared);
    const g = new Float32Array(shared.buffer);
    g.set([1, 2, 3, 4], 4); // A 2×2 at byte 16
    g.set([5, 6, 7, 8], 8); // B 2×2 at byte 32
    Ks.gemm_nn(16, 32, 64, 2, 2, 2, 2, 2, 2, 0, 1);
    expect([...g.subarray(16, 20)]).toEqual([19, 22, 43, 50]);
  });
});

describe("how many threads", () => {
  const saved = process.env.DLT_THREADS;
  const restore = () => (saved === undefined ? delete process.env.DLT_THREADS : (process.env.DLT_THREADS = saved));
  it("unset: two for a model with work to split (on two cores or more), one otherwise; DLT_THREADS decides when set", () => {
    try {
      delete process.env.DLT_THREADS;
      expect(cpuThreads(false)).toBe(1);
      expect(cpuThreads(true)).toBe(availableParallelism() >= 2 ? 2 : 1);
      process.env.DLT_THREADS = "1";
      expect(cpuThreads(true)).toBe(1);
      process.env.DLT_THREADS = "2";
      expect(cpuThreads(false)).toBe(2);
      process.env.DLT_THREADS = "3";
      expect(() => cpuThreads(true)).toThrow(/DLT_THREADS must be 1 or 2, got "3"/);
    } finally {
      restore();
    }
  });
});

describe("two threads", () => {
  // Bitwise equality keeps checkpoints resuming identically whatever the
  // thread count; shapes chosen to split by rows (64 rows; 10 rows of 12
  // columns) and by columns (5 and 20 rows).
  const singleMem = createArena(8 << 20, 1);
  const single = createKernels(singleMem);
  const sharedMem = createArena(8 << 20, 2);
  const two = createKernels(sharedMem);
  const run = (K: Kernels, buf: ArrayBufferLike, t: "nn" | "tn" | "nt", m: number, n: number, k: number) => {
    const f = new Float32Array(buf);
    const lda = t === "tn" ? m : k, ldb = t === "nt" ? k : n;
    const A = 64, B = A + 4 * (m * k + 16), C = B + 4 * (n * k + 16);
    for (let i = 0; i < m * k; i++) f[A / 4 + i] = Math.fround(normal(9, 1, 0, 0, i));
    for (let i = 0; i < n * k; i++) f[B / 4 + i] = Math.fround(normal(9, 2, 0, 0, i));
    for (let i = 0; i < m * n; i++) f[C / 4 + i] = 0.5;
    // Accumulating with a scale: the helper thread reads alpha as f32 bits.
    K.gemm({ a: A, b: B, c: C, m, n, k, lda, ldb, ldc: n, transA: t === "tn", transB: t === "nt", accumulate: true, alpha: -0.7, split: true });
    return f.slice(C / 4, C / 4 + m * n);
  };
  for (const t of ["nn", "tn", "nt"] as const) {
    for (const [m, n, k] of [[64, 40, 300], [5, 200, 400], [20, 50, 300], [10, 12, 300]] as const) {
      it(`gemm_${t} ${m}×${n}×${k} split equals one thread bitwise`, () => {
        expect(sharedMem.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(run(two, sharedMem.buffer, t, m, n, k)).toEqual(run(single, singleMem.buffer, t, m, n, k));
      });
    }
  }

  // A convolution block split by images (each thread its own im2col columns
  // and product): odd image counts, Ho·Wo not a multiple of 8 or 4, a
  // channel block that accumulates onto the previous one.
  const conv = (K: Kernels, buf: ArrayBufferLike, g: { N: number; C: number; H: number; k: number; nb: number; Kout: number; cb: number; c0: number }) => {
    const f = new Float32Array(buf);
    const Ho = g.H - g.k + 1, HoWo = Ho * Ho, T = g.k * g.k, L = g.nb * HoWo;
    const X = 64, Wt = X + 4 * (g.N * g.C * g.H * g.H + 16), cols = Wt + 4 * (g.Kout * g.C * T + 16), acc = cols + 4 * (g.cb * T * L + 16);
    for (let i = 0; i < g.N * g.C * g.H * g.H; i++) f[X / 4 + i] = Math.fround(normal(5, 1, 0, 0, i));
    for (let i = 0; i < g.Kout * g.C * T; i++) f[Wt / 4 + i] = Math.fround(normal(5, 2, 0, 0, i));
    for (let i = 0; i < g.Kout * L; i++) f[acc / 4 + i] = 0.25;
    K.convBlock({ x: X, cols, C: g.C, H: g.H, W: g.H, kh: g.k, kw: g.k, Ho, Wo: Ho, L, n0: 1, nb: g.nb, c0: g.c0, cb: g.cb, w: Wt, acc, K: g.Kout, lda: g.C * T, accumulate: g.c0 > 0 });
    return f.slice(acc / 4, acc / 4 + g.Kout * L);
  };
  it.each([
    { N: 9, C: 6, H: 12, k: 5, nb: 8, Kout: 16, cb: 6, c0: 0 },
    { N: 9, C: 6, H: 9, k: 3, nb: 7, Kout: 33, cb: 4, c0: 2 },
    { N: 4, C: 3, H: 10, k: 3, nb: 3, Kout: 64, cb: 3, c0: 0 },
  ])("convBlock %o split by images equals one thread bitwise", (g) => {
    const one = conv(single, singleMem.buffer, g);
    expect(conv(two, sharedMem.buffer, g)).toEqual(one);
    // And one thread equals im2col then gemm_nn, the two kernels it calls.
    const f = new Float32Array(singleMem.buffer);
    const Ho = g.H - g.k + 1, T = g.k * g.k, L = g.nb * Ho * Ho;
    const X = 64, Wt = X + 4 * (g.N * g.C * g.H * g.H + 16), cols = Wt + 4 * (g.Kout * g.C * T + 16), acc = cols + 4 * (g.cb * T * L + 16);
    for (let i = 0; i < g.Kout * L; i++) f[acc / 4 + i] = 0.25;
    single.im2col(X, cols, g.C, g.H, g.H, g.k, g.k, Ho, Ho, L, 1, g.nb, g.c0, g.cb);
    single.gemm_nn(Wt + g.c0 * T * 4, cols, acc, g.Kout, L, g.cb * T, g.C * T, L, L, g.c0 > 0 ? 1 : 0, 1);
    expect(f.slice(acc / 4, acc / 4 + g.Kout * L)).toEqual(one);
  });

  // A full convolution (a data gradient) split by images, the helper with
  // the second scratch: odd image counts, windows overlapping in col2im.
  it.each([
    // Each above the split threshold (K·kh·kw·H·W·C ≥ 2^18 multiply-adds an image).
    { n: 7, C: 20, H: 12, K: 10, k: 5 },
    { n: 3, C: 32, H: 9, K: 12, k: 3 },
  ])("fullConv %o split by images equals one thread bitwise", (g) => {
    const run2 = (K: Kernels, buf: ArrayBufferLike) => {
      const f = new Float32Array(buf);
      const T = g.k * g.k, R = g.K * T, HW = g.H * g.H, Ho = g.H + g.k - 1;
      const X = 64, WR = X + 4 * (g.n * g.C * HW + 16), Rb = WR + 4 * (g.C * R + 16), R2 = Rb + 4 * (R * HW + 16), Y = R2 + 4 * (R * HW + 16);
      for (let i = 0; i < g.n * g.C * HW; i++) f[X / 4 + i] = Math.fround(normal(6, 1, 0, 0, i));
      for (let i = 0; i < g.C * R; i++) f[WR / 4 + i] = Math.fround(normal(6, 2, 0, 0, i));
      f.fill(0, Y / 4, Y / 4 + g.n * g.K * Ho * Ho);
      K.fullConv({ x: X, wr: WR, r: Rb, r2: R2, y: Y, n: g.n, C: g.C, H: g.H, W: g.H, K: g.K, kh: g.k, kw: g.k, Ho, Wo: Ho });
      return f.slice(Y / 4, Y / 4 + g.n * g.K * Ho * Ho);
    };
    expect(run2(two, sharedMem.buffer)).toEqual(run2(single, singleMem.buffer));
  });
});

describe("max-pooling's 2×2 vector path on hand-made windows", () => {
  it("keeps the first of equal maxima (−0 before +0), lets NaN stick, takes a later larger value", () => {
    // Two rows of 8: four 2×2 windows, read row-major as (r0[2j], r0[2j+1], r1[2j], r1[2j+1]).
    const r0 = [-0, 0, 1, 2, NaN, 5, 3, 3];
    const r1 = [0, -0, 2, 1, 9, 9, 3, 7];
    const b = new Builder();
    const y = b.op("max_pool2d", [b.leaf("input", "x", [1, 1, 2, 8], "f32")], { size: [2, 2] });
    const { got, code } = runTsKernel(b.node(y), [fromArray([1, 1, 2, 8], "f32", [...r0, ...r1])]);
    expect(code).toMatch(/K\.maxPool2d\(/);
    expect(Object.is(got[0], -0)).toBe(true);
    expect([...got.slice(1)]).toEqual([2, NaN, 7]);
  });
});

describe("Philox uniforms in WebAssembly (compiler/emit/wasm/philox.ts)", () => {
  // Every length mod 4 (the partial last block), seeds past 32 bits, salts,
  // steps and iterations at the u32 edges: each value bitwise the
  // TypeScript generator's, and nothing written past n.
  it.each([
    [1, 0, 1, 0, 0],
    [2, 123, 1, 7, 0],
    [3, 345, 2, 1e6, 99],
    [4, 2 ** 32 + 17, 3, 4294967295, 4294967295],
    [4101, 2 ** 40 + 3, 0xffffffff, 12, 3],
  ] as const)("n %i, seed %s, salt %s, step %s, iter %s: bitwise runtime/rng/philox.ts", (n, seed, salt, step, iter) => {
    const mem = createArena(1 << 16);
    const k = createKernels(mem);
    const f = new Float32Array(mem.buffer, 64, n + 8);
    f.fill(-1);
    k.uniformFill({ dst: 64, n, seed, salt, step, iter });
    for (let i = 0; i < n; i++) if (f[i] !== Math.fround(uniform(seed, salt, step, iter, i))) expect([i, f[i]]).toEqual([i, uniform(seed, salt, step, iter, i)]);
    expect(Array.from(f.subarray(n))).toEqual(new Array(8).fill(-1));
    expect(Math.min(...f.subarray(0, n))).toBeGreaterThanOrEqual(0);
  });
});

describe("named calls (what generated code writes)", () => {
  const EXPORTS = ["gemm_nn", "gemm_tn", "gemm_nt", "nonzero_rows", "gemm_vx", "gemm_bx", "im2col", "col2im_add", "max_pool2d", "max_pool2d_grad", "swap01", "reverse_blocks", "philox_uniform", "im2col_gemm", "full_conv"] as const;
  /** Real kernels with every export replaced by a recorder. */
  function recording(): { k: Kernels; calls: unknown[][] } {
    const calls: unknown[][] = [];
    const k = { ...createKernels(createArena(1 << 16)) } as Record<string, unknown>;
    for (const name of EXPORTS) k[name] = (...args: unknown[]) => calls.push([name, ...args]);
    return { k: k as unknown as Kernels, calls };
  }
  const g = { a: 16, b: 32, c: 48, m: 2, n: 3, k: 4, lda: 5, ldb: 6, ldc: 7, accumulate: true, alpha: 0.5, split: false };

  it.each([
    [false, false, "gemm_nn"],
    [true, false, "gemm_tn"],
    [false, true, "gemm_nt"],
  ] as const)("gemm transA=%s transB=%s calls %s with the arguments in order", (transA, transB, want) => {
    const { k, calls } = recording();
    k.gemm({ ...g, transA, transB });
    expect(calls).toEqual([[want, 16, 32, 48, 2, 3, 4, 5, 6, 7, 1, 0.5]]);
    k.gemm({ ...g, accumulate: false, transA, transB });
    expect(calls[1]![10]).toBe(0);
  });

  it("gemmSparse lists A's non-zeros, then runs the list-driven kernel or, for a dense A, the dense one", () => {
    const { k, calls } = recording();
    const s = { a: 16, b: 32, c: 48, m: 2, n: 3, k: 4, lda: 5, ldb: 6, ldc: 7, accumulate: true, alpha: 0.5, list: 64, split: false };
    // The recorder's nonzero_rows returns the call count, not a number of
    // non-zeros: replace it with one that says "2 of 8" (25 %), then "8 of 8".
    for (const [nonzeros, binary, transA, want] of [[2, true, false, "gemm_bx"], [2, false, true, "gemm_vx"], [8, true, false, "gemm_nn"], [8, false, true, "gemm_tn"]] as const) {
      calls.length = 0;
      (k as unknown as Record<string, unknown>).nonzero_rows = (...args: unknown[]) => (calls.push(["nonzero_rows", ...args]), nonzeros);
      k.gemmSparse({ ...s, transA, binary });
      const tail = want.startsWith("gemm_n") || want === "gemm_tn" ? [16, 32, 48, 2, 3, 4, 5, 6, 7, 1, 0.5] : [64, 32, 48, 2, 3, 4, 7, 1, 0.5];
      expect(calls).toEqual([["nonzero_rows", 16, 2, 4, 5, 6, transA ? 1 : 0, 64], [want, ...tail]]);
    }
  });

  it("gemm refuses what no kernel computes", () => {
    const { k } = recording();
    expect(() => k.gemm({ ...g, transA: true, transB: true })).toThrow(/both transposed/);
  });

  it("the data-movement calls pass their arguments in the exports' order", () => {
    const { k, calls } = recording();
    k.im2colBlock({ x: 1, cols: 2, C: 3, H: 4, W: 5, kh: 6, kw: 7, Ho: 8, Wo: 9, L: 10, n0: 11, nb: 12, c0: 13, cb: 14 });
    k.col2imAdd({ r: 1, y: 2, K: 3, kh: 4, kw: 5, H: 6, W: 7, Ho: 8, Wo: 9 });
    k.maxPool2d({ x: 1, y: 2, planes: 3, H: 4, W: 5, ph: 6, pw: 7, Ho: 8, Wo: 9 });
    k.maxPool2dGrad({ x: 1, g: 2, out: 3, planes: 4, H: 5, W: 6, ph: 7, pw: 8, Ho: 9, Wo: 10 });
    k.swap01Blocks({ src: 1, dst: 2, rows: 3, cols: 4, block: 5 });
    k.reverseBlocks({ src: 1, dst: 2, blocks: 3, block: 4 });
    k.uniformFill({ dst: 1, n: 2, seed: 3 + 5 * 2 ** 32, salt: 4, step: 5, iter: 6 });
    k.convBlock({ x: 1, cols: 2, C: 3, H: 4, W: 5, kh: 6, kw: 7, Ho: 8, Wo: 9, L: 10, n0: 11, nb: 12, c0: 13, cb: 14, w: 15, acc: 16, K: 17, lda: 18, accumulate: true });
    k.fullConv({ x: 1, wr: 2, r: 3, r2: 4, y: 5, n: 6, C: 7, H: 8, W: 9, K: 10, kh: 11, kw: 12, Ho: 13, Wo: 14 });
    expect(calls).toEqual([
      ["im2col", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
      ["col2im_add", 1, 2, 3, 4, 5, 6, 7, 8, 9],
      ["max_pool2d", 1, 2, 3, 4, 5, 6, 7, 8, 9],
      ["max_pool2d_grad", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      ["swap01", 1, 2, 3, 4, 5],
      ["reverse_blocks", 1, 2, 3, 4],
      // The key words of philox.ts's draw(): the seed's low word, then W0 ^ its high part.
      ["philox_uniform", 1, 2, 3, (0x9e3779b9 ^ 5) >>> 0, 4, 5, 6],
      ["im2col_gemm", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 1],
      // A full convolution: all images, both scratches.
      ["full_conv", 1, 2, 3, 4, 5, 0, 6, 7, 8, 9, 10, 11, 12, 13, 14],
    ]);
  });

  it("replacing exports (as the two-thread kernels do) reroutes the named calls", () => {
    const single = createKernels(createArena(1 << 16));
    const seen: string[] = [];
    const wrapped: Kernels = { ...single, gemm_nn: (...a: Parameters<KernelExports["gemm_nn"]>) => (seen.push("wrapped"), single.gemm_nn(...a)) };
    wrapped.gemm({ ...g, accumulate: false, transA: false, transB: false, split: false });
    expect(seen).toEqual(["wrapped"]);
  });

  it("the emitted call is the runtime's method with every argument named, in order", () => {
    const text = kernelCall("this.k", "gemm", { a: 16, b: "p + 4", c: 48, m: 2, n: 3, k: 4, lda: 5, ldb: 6, ldc: 7, transA: false, transB: true, accumulate: "c0 > 0", alpha: 1, split: false }, "x @ W → y");
    expect(text).toBe("this.k.gemm({ a: 16, b: p + 4, c: 48, m: 2, n: 3, k: 4, lda: 5, ldb: 6, ldc: 7, transA: false, transB: true, accumulate: c0 > 0, alpha: 1, split: false }); // x @ W → y");
    const k = createKernels(createArena(1 << 16));
    const names: KernelName[] = ["gemm", "gemmSparse", "im2colBlock", "col2imAdd", "maxPool2d", "maxPool2dGrad", "swap01Blocks", "reverseBlocks", "uniformFill", "convBlock", "fullConv"];
    for (const name of names) {
      expect(typeof k[name], name).toBe("function");
      expect(kernelArgNames(name).length, name).toBeGreaterThan(0);
    }
    expect(() => kernelCall("K", "swap01Blocks", { src: 1, dst: 2, rows: 3, cols: 4 } as never)).toThrow(/expected/);
  });
});

describe("which products split (decided at compile time)", () => {
  it("splits deep products of enough work, never shallow ones", () => {
    expect(splitsProduct(600, 10, 784)).toBe(true); // logistic regression's forward product
    expect(splitsProduct(20, 500, 784)).toBe(true); // a batch-20 layer
    expect(splitsProduct(784, 500, 20)).toBe(false); // its weight gradient: k = 20
    expect(splitsProduct(16, 128, 512)).toBe(false); // the LSTM's time-step product: 2^20
    expect(splitsProduct(4, 8, 1 << 20)).toBe(false); // too few rows and columns to halve
  });
  it("the generated calls carry the decision, and a model with none runs on one thread", () => {
    const logreg = readFileSync("generated/logreg/model.ts", "utf8");
    expect(logreg).toMatch(/m: 600, n: 10, k: 784,[^}]*split: true/);
    expect(logreg).toContain("cpuThreads(true)");
    const rnnslu = readFileSync("generated/rnnslu/model.ts", "utf8");
    expect(rnnslu).not.toMatch(/split: true/);
    expect(rnnslu).not.toContain("cpuThreads");
    // newmu-net's one split product skips the pixels' zeros: counted at the
    // share of the work it is expected to do, not enough for two threads.
    const newmu = readFileSync("generated/newmu_net/model.ts", "utf8");
    expect(newmu).toMatch(/gemmSparse\([^}]*split: true/);
    expect(newmu).not.toContain("cpuThreads");
    // The dA's products split, but not enough work shares its tied W.
    const da = readFileSync("generated/da/model.ts", "utf8");
    expect(da).toMatch(/split: true/);
    expect(da).not.toContain("cpuThreads");
    expect(readFileSync("generated/rbm/model.ts", "utf8")).toContain("cpuThreads(true)");
  });
  it("two threads pay when the helper's half of the work outweighs moving its half of the parameters", () => {
    // The dA: three 20×500×784 products on a W of 392,000 floats; the RBM: thirty-two.
    expect(twoThreadsPay({ madds: 3 * 20 * 500 * 784, paramFloats: 392_000, imageSplits: false })).toBe(false);
    expect(twoThreadsPay({ madds: 32 * 20 * 500 * 784, paramFloats: 392_000, imageSplits: false })).toBe(true);
    expect(twoThreadsPay({ madds: 2 * 600 * 10 * 784, paramFloats: 7_840, imageSplits: false })).toBe(true);
    expect(twoThreadsPay({ madds: 0, paramFloats: 0, imageSplits: true })).toBe(true);
    expect(twoThreadsPay({ madds: 0, paramFloats: 0, imageSplits: false })).toBe(false);
  });
});

describe("a column's floats do not depend on the tile that computed it", () => {
  // nn/tn compute a row's last 1-3 columns in a partial vector: the same
  // sums, bitwise, as when those columns sit in a whole tile of a wider C.
  const mem = createArena(4 << 20, 1);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  for (const t of ["nn", "tn"] as const) {
    it.each([[7, 10, 300], [5, 11, 65], [9, 9, 513]])(`gemm_${t} %i×%i×%i: C's first n columns equal a 16-column product's`, (m, n, k) => {
      const N = 16, ldb = N;
      const lda = t === "tn" ? m : k;
      const A = 64, B = A + 4 * (m * k + 16), C1 = B + 4 * (k * ldb + 16), C2 = C1 + 4 * (m * N + 16);
      for (let i = 0; i < m * k; i++) f[A / 4 + i] = Math.fround(normal(3, 1, 0, 0, i));
      for (let i = 0; i < k * ldb; i++) f[B / 4 + i] = Math.fround(normal(3, 2, 0, 0, i));
      for (let i = 0; i < m * N; i++) f[C1 / 4 + i] = f[C2 / 4 + i] = 0.5;
      K[`gemm_${t}`](A, B, C1, m, n, k, lda, ldb, N, 1, -0.3);
      K[`gemm_${t}`](A, B, C2, m, N, k, lda, ldb, N, 1, -0.3);
      for (let i = 0; i < m; i++) {
        expect(f.slice(C1 / 4 + i * N, C1 / 4 + i * N + n)).toEqual(f.slice(C2 / 4 + i * N, C2 / 4 + i * N + n));
        expect(f[C1 / 4 + i * N + n]).toBe(0.5);
      }
    });
  }
});

describe("a row's floats do not depend on the tile height that computed it", () => {
  // nn/tn take rows four at a time, then the last 1-3 rows as one tile of
  // that height: a product of m rows must give, bitwise, the first m rows
  // of a 12-row product (two threads split by rows leave each a different
  // remainder, and convolutions call the kernel per block of filters).
  const mem = createArena(4 << 20, 1);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  for (const t of ["nn", "tn"] as const) {
    it.each([[1, 19, 300], [2, 8, 65], [3, 13, 513], [5, 11, 70], [6, 9, 300], [7, 24, 31], [10, 3, 257], [11, 40, 20]])(`gemm_${t} %i×%i×%i: C's rows equal a 12-row product's`, (m, n, k) => {
      const M = 12, lda = t === "tn" ? M : k;
      const A = 64, B = A + 4 * (M * k + 16), C1 = B + 4 * (k * n + 16), C2 = C1 + 4 * (M * n + 16);
      for (let i = 0; i < M * k; i++) f[A / 4 + i] = Math.fround(normal(5, 1, 0, 0, i));
      for (let i = 0; i < k * n; i++) f[B / 4 + i] = Math.fround(normal(5, 2, 0, 0, i));
      for (let i = 0; i < M * n; i++) f[C1 / 4 + i] = f[C2 / 4 + i] = 0.25;
      K[`gemm_${t}`](A, B, C1, m, n, k, lda, n, n, 1, 0.7);
      K[`gemm_${t}`](A, B, C2, M, n, k, lda, n, n, 1, 0.7);
      expect(f.slice(C1 / 4, C1 / 4 + m * n)).toEqual(f.slice(C2 / 4, C2 / 4 + m * n));
      // Rows past m are not written.
      expect([...f.slice(C1 / 4 + m * n, C1 / 4 + M * n)].every((v) => v === 0.25)).toBe(true);
    });
  }
});

describe("copy_runs", () => {
  // The box copy behind slice, pad and concat on the CPU: every run lands
  // where the strides say, nothing else is written, for runs of 1-13
  // elements (the 16-byte loop and its 4-byte tail) and both loop levels.
  const mem = createArena(1 << 20, 1);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  it.each([
    [1, 1, 1, 1, 0, 1, 0],
    [3, 1, 5, 7, 0, 9, 0],
    [4, 3, 13, 60, 17, 50, 13],
    [2, 5, 4, 40, 8, 30, 6],
    [6, 2, 3, 3, 40, 3, 20],
  ])("outer %i, inner %i, run %i, strides src %i/%i dst %i/%i", (outer, inner, run, so, si, dOut, di) => {
    const SRC = 64, DST = 64 + 4 * 8192;
    for (let i = 0; i < 8192; i++) f[SRC / 4 + i] = i + 0.5;
    f.fill(-1, DST / 4, DST / 4 + 8192);
    K.copyRuns({ src: SRC, dst: DST, outer, inner, run, srcOuter: so, srcInner: si, dstOuter: dOut, dstInner: di });
    const want = new Float32Array(8192).fill(-1);
    for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) for (let r = 0; r < run; r++) want[o * dOut + i * di + r] = o * so + i * si + r + 0.5;
    expect(f.slice(DST / 4, DST / 4 + 8192)).toEqual(want);
  });
});

describe("sum_around", () => {
  // A bias gradient's sum: dst[m] = Σ_o Σ_i src[o, m, i].
  const mem = createArena(1 << 20, 1);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  const SRC = 64, DST = 64 + 4 * 200_000;
  it.each([[20, 500], [7, 13], [1, 3], [5, 1]])("inner 1, %i rows of %i: the rows added in order in f32, as the TypeScript loop does", (outer, mid) => {
    for (let i = 0; i < outer * mid; i++) f[SRC / 4 + i] = Math.fround(normal(11, 1, 0, 0, i));
    f.fill(7, DST / 4, DST / 4 + mid + 4);
    K.sumAround({ src: SRC, dst: DST, outer, mid, inner: 1 });
    const want = new Float32Array(mid);
    for (let o = 0; o < outer; o++) for (let m = 0; m < mid; m++) want[m] += f[SRC / 4 + o * mid + m]!;
    expect(f.slice(DST / 4, DST / 4 + mid)).toEqual(want);
    expect(f[DST / 4 + mid]).toBe(7);
  });
  it.each([[50, 20, 144], [3, 4, 35], [2, 1, 3], [4, 6, 16]])("outer %i, mid %i, inner %i: within f32 rounding of the exact sum", (outer, mid, inner) => {
    for (let i = 0; i < outer * mid * inner; i++) f[SRC / 4 + i] = Math.fround(normal(12, 1, 0, 0, i));
    f.fill(7, DST / 4, DST / 4 + mid + 4);
    K.sumAround({ src: SRC, dst: DST, outer, mid, inner });
    for (let m = 0; m < mid; m++) {
      let exact = 0, abs = 0;
      for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) { const v = f[SRC / 4 + (o * mid + m) * inner + i]!; exact += v; abs += Math.abs(v); }
      // One f32 rounding of each run's f64 sum's addition per row of o.
      expect(Math.abs(f[DST / 4 + m]! - exact)).toBeLessThanOrEqual(abs * outer * 2 ** -23);
    }
    expect(f[DST / 4 + mid]).toBe(7);
  });
});
