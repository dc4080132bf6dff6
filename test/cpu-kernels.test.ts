// The CPU backend's WebAssembly path: the SIMD matrix kernels themselves
// (every shape class: full tiles, ragged edges, k blocks, accumulation,
// leading dimensions larger than the block), and the f32 code that matmul
// and conv2d emit when their buffers live in the model's memory, against the
// f64 reference evaluation. Tolerance: f32 products summed over k terms,
// relative 1e-5 of the magnitude of the terms (|A|·|B|).

import { describe, expect, it } from "vitest";
import { runtimeKernelFiles } from "../compiler/emit/wasm/assemble.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { alloc, type Tensor } from "../compiler/ir/tensor.ts";
import type { Prim, Shape } from "../compiler/ir/types.ts";
import type { PrimAttrs } from "../compiler/ops/attrs.ts";
import type { KernelCtx } from "../compiler/ops/op.ts";
import { OPS } from "../compiler/ops/registry.ts";
import { createArena, createKernels, type Kernels } from "../runtime/cpu/kernels.ts";
import { normal } from "../runtime/rng/philox.ts";
import { readFileSync } from "node:fs";

let salt = 1;
function rnd(shape: Shape, zeroEvery = 0): Tensor {
  const s = salt++;
  const t = alloc(shape, "f64");
  for (let i = 0; i < t.data.length; i++) t.data[i] = zeroEvery && i % zeroEvery === 0 ? 0 : Math.fround(normal(3, s, 1, 0, i));
  return t;
}

describe("SIMD matrix kernels", () => {
  const mem = createArena(8 << 20);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  const shapes: [number, number, number][] = [[1, 1, 1], [4, 8, 1], [5, 13, 7], [3, 4, 300], [9, 17, 513], [20, 50, 40], [7, 9, 5]];
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

/** Runs an op's TypeScript kernel with every buffer in a model memory (the
 * WebAssembly path) and compares with the f64 reference. */
function runInArena(op: Prim, attrs: PrimAttrs[Prim], xs: Tensor[]): { got: Float32Array; want: Tensor; code: string } {
  const b = new Builder();
  const y = b.op(op, xs.map((t, k) => b.leaf("input", `x${k}`, t.shape, "f32")), attrs as never);
  const node = b.node(y);
  const em = OPS[op].ts;
  if (em.kind !== "kernel") throw new Error(`${op} has no kernel`);
  const mem = createArena(64 << 20);
  const kernels: Kernels = createKernels(mem);
  let next = 16;
  const addrs = new Map<string, number>();
  const views: Record<string, Float32Array | Float64Array | Int32Array> = {};
  const place = (name: string, ctor: "Float32Array" | "Float64Array" | "Int32Array", size: number, fill: number) => {
    const at = next;
    next += Math.ceil((size * (ctor === "Float64Array" ? 8 : 4)) / 16) * 16;
    views[name] = new globalThis[ctor](mem.buffer, at, size).fill(fill);
    addrs.set(name, at);
    return name;
  };
  xs.forEach((t, q) => place(`in${q}`, "Float32Array", t.data.length, 0).length && (views[`in${q}`] as Float32Array).set(t.data));
  // The reference in f64 on the same f32-rounded inputs.
  const rb = new Builder();
  const ry = rb.op(op, xs.map((t, q) => rb.leaf("input", `x${q}`, t.shape, t.dtype)), attrs as never);
  const want = interpret(rb.graph, { input: new Map(xs.map((t, q) => [`x${q}`, t])) })[ry] as Tensor;
  place("out", "Float32Array", want.data.length, 77);
  let n = 0;
  const k: KernelCtx<never> = {
    node: node as never,
    out: "out",
    ins: xs.map((_, q) => `in${q}`),
    inTypes: xs.map((t) => ({ shape: t.shape, dtype: "f32" })) as never,
    fresh: (s) => `${s}${n++}`,
    scratch: (ctor, size) => place(`w${n++}`, ctor, size, ctor === "Int32Array" ? -99 : NaN), // garbage: must not be relied on
    addr: (name) => addrs.get(name),
    kernels: "K",
  };
  const code = (em.emit as (k: KernelCtx<never>) => string)(k);
  const names = Object.keys(views);
  new Function("K", ...names, code)(kernels, ...names.map((q) => views[q]));
  return { got: views.out as Float32Array, want, code };
}

describe("matmul and conv2d on the WebAssembly path", () => {
  const cases: { name: string; op: Prim; attrs: PrimAttrs[Prim]; inputs: () => Tensor[] }[] = [
    { name: "matmul", op: "matmul", attrs: { transA: false, transB: false }, inputs: () => [rnd([6, 11], 3), rnd([11, 13])] },
    { name: "matmul Aᵀ", op: "matmul", attrs: { transA: true, transB: false }, inputs: () => [rnd([11, 6], 3), rnd([11, 13])] },
    { name: "matmul Bᵀ", op: "matmul", attrs: { transA: false, transB: true }, inputs: () => [rnd([6, 11]), rnd([13, 11])] },
    { name: "matmul AᵀBᵀ (plain loops)", op: "matmul", attrs: { transA: true, transB: true }, inputs: () => [rnd([11, 6]), rnd([13, 11])] },
    { name: "conv2d valid", op: "conv2d", attrs: { border: "valid" }, inputs: () => [rnd([3, 2, 9, 8], 4), rnd([5, 2, 3, 2])] },
    { name: "conv2d valid, many images per block", op: "conv2d", attrs: { border: "valid" }, inputs: () => [rnd([40, 3, 6, 6]), rnd([4, 3, 5, 5])] },
    { name: "conv2d valid, channel blocks (filter-gradient shape)", op: "conv2d", attrs: { border: "valid" }, inputs: () => [rnd([2, 300, 12, 12], 3), rnd([3, 300, 8, 8])] },
    { name: "conv2d full", op: "conv2d", attrs: { border: "full" }, inputs: () => [rnd([3, 4, 6, 5], 3), rnd([2, 4, 3, 4])] },
  ];
  it.each(cases)("$name", ({ op, attrs, inputs }) => {
    const xs = inputs();
    const { got, want, code } = runInArena(op, attrs, xs);
    if (!cases.find((c) => c.op === op && c.attrs === attrs)!.name.includes("plain")) expect(code).toMatch(/K\.gemm_/);
    expect(code).not.toMatch(/new |\.slice\(|\.subarray\(|\.map\(/); // nothing allocated per call
    const scale = Math.max(...want.data.map(Math.abs));
    for (let i = 0; i < want.data.length; i++) {
      expect(Math.abs(got[i]! - want.data[i]!), `${op}[${i}]: ${got[i]} vs ${want.data[i]}`).toBeLessThanOrEqual(2e-5 * (scale + 1));
    }
  });
});

describe("two threads", () => {
  // Bitwise equality keeps checkpoints resuming identically whatever the
  // thread count; shapes chosen to split by rows (64 rows) and by columns (5).
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
    K[`gemm_${t}`](A, B, C, m, n, k, lda, ldb, n, 1, -0.7);
    return f.slice(C / 4, C / 4 + m * n);
  };
  for (const t of ["nn", "tn", "nt"] as const) {
    for (const [m, n, k] of [[64, 40, 300], [5, 200, 400]] as const) {
      it(`gemm_${t} ${m}×${n}×${k} split equals one thread bitwise`, () => {
        expect(sharedMem.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(run(two, sharedMem.buffer, t, m, n, k)).toEqual(run(single, singleMem.buffer, t, m, n, k));
      });
    }
  }
});

describe("max-pooling on the WebAssembly path (compiler/emit/wasm/pool.ts)", () => {
  /** Values with ties, both zeros and (optionally) NaNs: the cases where a
   * vector max would differ from the ops' first-maximum rule. */
  function tricky(shape: Shape, withNaN: boolean): Tensor {
    const t = rnd(shape);
    for (let i = 0; i < t.data.length; i++) {
      if (i % 7 === 0) t.data[i] = 0.5; // ties
      if (i % 11 === 0) t.data[i] = i % 2 ? -0 : 0;
      if (withNaN && i % 29 === 3) t.data[i] = NaN;
    }
    return t;
  }
  const shapes: { name: string; x: Shape; size: [number, number] }[] = [
    { name: "2×2, LeNet's first layer", x: [2, 3, 24, 24], size: [2, 2] },
    { name: "2×2, odd sizes (border ignored, vector and scalar columns)", x: [3, 2, 9, 19], size: [2, 2] },
    { name: "3×2 windows (scalar path)", x: [2, 2, 7, 11], size: [3, 2] },
    { name: "1×1", x: [1, 2, 3, 5], size: [1, 1] },
  ];
  it.each(shapes)("forward, $name: bitwise the reference, NaN and −0 included", ({ x, size }) => {
    const xs = [tricky(x, true)];
    const { got, want, code } = runInArena("max_pool2d", { size }, xs);
    expect(code).toMatch(/K\.max_pool2d\(/);
    for (let i = 0; i < want.data.length; i++) expect(Object.is(got[i], Math.fround(want.data[i]!)), `[${i}]: ${got[i]} vs ${want.data[i]}`).toBe(true);
  });
  it.each(shapes)("gradient, $name: the cotangent at each window's first maximum", ({ x, size }) => {
    const [N, C, H, W] = x as [number, number, number, number];
    const ct = rnd([N, C, Math.floor(H / size[0]), Math.floor(W / size[1])]);
    const { got, want, code } = runInArena("max_pool2d_grad", { size }, [tricky(x, false), ct]);
    expect(code).toMatch(/K\.max_pool2d_grad\(/);
    for (let i = 0; i < want.data.length; i++) expect(got[i], `[${i}]`).toBe(Math.fround(want.data[i]!));
  });
});

describe("max-pooling's 2×2 vector path on hand-made windows", () => {
  it("keeps the first of equal maxima (−0 before +0), lets NaN stick, takes a later larger value", () => {
    // Two rows of 8: four 2×2 windows, read row-major as (r0[2j], r0[2j+1], r1[2j], r1[2j+1]).
    const r0 = [-0, 0, 1, 2, NaN, 5, 3, 3];
    const r1 = [0, -0, 2, 1, 9, 9, 3, 7];
    const x = alloc([1, 1, 2, 8], "f64");
    x.data.set([...r0, ...r1]);
    const { got } = runInArena("max_pool2d", { size: [2, 2] }, [x]);
    expect(Object.is(got[0], -0)).toBe(true);
    expect([...got.slice(1)]).toEqual([2, NaN, 7]);
  });
});

describe("layout moves on the WebAssembly path (compiler/emit/wasm/layout.ts)", () => {
  const cases: { name: string; op: Prim; attrs: PrimAttrs[Prim]; x: Shape; kernel: RegExp }[] = [
    { name: "transpose [1, 0, 2, 3]", op: "transpose", attrs: { perm: [1, 0, 2, 3] }, x: [3, 5, 4, 6], kernel: /K\.swap01\(/ },
    { name: "transpose [1, 0] (blocks of 1)", op: "transpose", attrs: { perm: [1, 0] }, x: [7, 3], kernel: /K\.swap01\(/ },
    { name: "transpose [0, 2, 1, 3] (index loops)", op: "transpose", attrs: { perm: [0, 2, 1, 3] }, x: [2, 3, 4, 5], kernel: /^let /m },
    { name: "flip [2, 3] of 5×5 (vector and scalar tail)", op: "flip", attrs: { axes: [2, 3] }, x: [3, 4, 5, 5], kernel: /K\.reverse_blocks\(/ },
    { name: "flip [1, 2, 3] (blocks of C·H·W)", op: "flip", attrs: { axes: [1, 2, 3] }, x: [2, 3, 4, 4], kernel: /K\.reverse_blocks\(/ },
    { name: "flip [2] over a size-1 axis 3", op: "flip", attrs: { axes: [2] }, x: [2, 3, 9, 1], kernel: /K\.reverse_blocks\(/ },
    { name: "flip [2] of 4-D (index loops)", op: "flip", attrs: { axes: [2] }, x: [2, 3, 4, 5], kernel: /^let /m },
  ];
  it.each(cases)("$name equals the reference", ({ op, attrs, x, kernel }) => {
    const { got, want, code } = runInArena(op, attrs, [rnd(x)]);
    expect(code).toMatch(kernel);
    expect([...got]).toEqual([...want.data].map(Math.fround));
  });
});

describe("products that skip a data input's zeros (compiler/emit/wasm/sparse.ts)", () => {
  const mem = createArena(8 << 20);
  const K = createKernels(mem);
  const f = new Float32Array(mem.buffer);
  // Density 1/7 takes the skipping loop; a dense A goes to the dense kernel.
  for (const t of ["nn", "tn"] as const) {
    for (const [m, n, k] of [[1, 1, 1], [5, 13, 7], [20, 50, 300], [9, 17, 513]] as const) {
      for (const [acc, alpha, every] of [[0, 1, 7], [1, -0.3, 7], [0, 1, 1], [1, 0.5, 1]] as const) {
        it(`gemm_${t}_sx ${m}×${n}×${k}, ${every === 1 ? "dense" : "1 in 7 non-zero"}${acc ? ", accumulating" : ""}${alpha !== 1 ? `, α ${alpha}` : ""}`, () => {
          const lda = (t === "tn" ? m : k) + 3, ldb = n + 5, ldc = n + 2;
          const rowsA = t === "tn" ? k : m;
          const A = 64, B = A + 4 * (rowsA * lda + 16), C = B + 4 * (k * ldb + 16);
          for (let i = 0; i < rowsA * lda; i++) f[A / 4 + i] = i % every === 0 ? Math.fround(normal(7, m + k, 0, 0, i)) : 0;
          for (let i = 0; i < k * ldb; i++) f[B / 4 + i] = Math.fround(normal(7, n + k, 1, 0, i));
          for (let i = 0; i < m * ldc; i++) f[C / 4 + i] = 0.25;
          K[`gemm_${t}_sx`](A, B, C, m, n, k, lda, ldb, ldc, acc, alpha);
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < n; j++) {
              let s = 0, mag = 0;
              for (let p = 0; p < k; p++) {
                const a = t === "tn" ? f[A / 4 + p * lda + i]! : f[A / 4 + i * lda + p]!;
                s += a * f[B / 4 + p * ldb + j]!;
                mag += Math.abs(a * f[B / 4 + p * ldb + j]!);
              }
              const want = Math.fround(alpha) * s + (acc ? 0.25 : 0);
              expect(Math.abs(f[C / 4 + i * ldc + j]! - want), `C[${i},${j}]`).toBeLessThanOrEqual(1e-5 * (mag + 1));
            }
            expect(f[C / 4 + i * ldc + n]).toBe(0.25);
          }
        });
      }
    }
  }
});
