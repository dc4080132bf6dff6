// The convolution kernels that read their operands in place
// (compiler/emit/wasm/conv-direct.ts, conv-filter-grad.ts):
// - conv_valid gives bitwise the floats of the im2col + gemm_nn path it
//   replaces (so a model's forward pass, and every checkpoint's evaluation,
//   is unchanged), over tiles of every height and width, channel blocks and
//   K blocks;
// - conv_filter_grad is within f32 rounding of the exact sum, its ragged
//   edges (output rows not a multiple of 4, taps and filters left over)
//   included, and writes nothing outside its output;
// - two threads give bitwise one thread's floats for both.
// The ops that emit them run against the reference evaluation in
// test/ops-backends.test.ts.

import { describe, expect, it } from "vitest";
import { createArena } from "../runtime/cpu/arena.ts";
import { createKernels, type Kernels } from "../runtime/cpu/kernels.ts";
import { normal } from "../runtime/rng/philox.ts";

interface ConvShape {
  readonly N: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly K: number;
  readonly kh: number;
  readonly kw: number;
  readonly cb: number;
}

const memories = new Map<Kernels, WebAssembly.Memory>();
function kernelsOn(threads: number): Kernels {
  const memory = createArena(32 << 20, threads);
  const K = createKernels(memory);
  memories.set(K, memory);
  return K;
}
const single = kernelsOn(1);
const two = kernelsOn(2);
const f32 = (K: Kernels) => new Float32Array(memories.get(K)!.buffer);

/** Fills x [N, C, H, W] and w [K, C, kh, kw] (same values in any memory);
 * returns their byte addresses, then free space. */
function operands(K: Kernels, s: ConvShape, seed: number): { x: number; w: number; free: number } {
  const f = f32(K);
  const nx = s.N * s.C * s.H * s.W, nw = s.K * s.C * s.kh * s.kw;
  const x = 64, w = x + 4 * (nx + 16);
  for (let i = 0; i < nx; i++) f[x / 4 + i] = Math.fround(normal(seed, 1, 0, 0, i));
  for (let i = 0; i < nw; i++) f[w / 4 + i] = Math.fround(normal(seed, 2, 0, 0, i));
  return { x, w, free: w + 4 * (nw + 16) };
}

/** The im2col + gemm_nn path, one image a block, channel blocks of cb. */
function viaIm2col(K: Kernels, s: ConvShape): Float32Array {
  const { x, w, free } = operands(K, s, 3);
  const Ho = s.H - s.kh + 1, Wo = s.W - s.kw + 1, T = s.kh * s.kw, L = Ho * Wo;
  const cols = free, y = cols + 4 * (s.cb * T * L + 16);
  for (let n = 0; n < s.N; n++) {
    for (let c0 = 0; c0 < s.C; c0 += s.cb) {
      const cb = Math.min(s.cb, s.C - c0);
      K.im2col(x, cols, s.C, s.H, s.W, s.kh, s.kw, Ho, Wo, L, n, 1, c0, cb);
      K.gemm_nn(w + c0 * T * 4, cols, y + n * s.K * L * 4, s.K, L, cb * T, s.C * T, L, L, c0 > 0 ? 1 : 0, 1);
    }
  }
  return f32(K).slice(y / 4, y / 4 + s.N * s.K * L);
}

function direct(K: Kernels, s: ConvShape): Float32Array {
  const { x, w, free } = operands(K, s, 3);
  const Ho = s.H - s.kh + 1, Wo = s.W - s.kw + 1;
  const tab = free, y = tab + 4 * (s.C * s.kh * s.kw + 16);
  const f = f32(K);
  const size = s.N * s.K * Ho * Wo;
  f.fill(NaN, y / 4, y / 4 + size + 8); // every output written, nothing past it
  K.convValid({ x, w, y, tab, n: s.N, C: s.C, H: s.H, W: s.W, K: s.K, kh: s.kh, kw: s.kw, Ho, Wo, cb: s.cb });
  expect(f.slice(y / 4 + size, y / 4 + size + 8).every(Number.isNaN)).toBe(true);
  return f.slice(y / 4, y / 4 + size);
}

const SHAPES: readonly [string, ConvShape][] = [
  ["LeNet's second layer (4 images)", { N: 4, C: 20, H: 12, W: 12, K: 50, kh: 5, kw: 5, cb: 20 }],
  ["LeNet's first layer (3 images)", { N: 3, C: 1, H: 28, W: 28, K: 20, kh: 5, kw: 5, cb: 1 }],
  ["rows of 8 + 4 + 3 pixels, filters 4 + 3", { N: 2, C: 3, H: 9, W: 17, K: 7, kh: 3, kw: 3, cb: 3 }],
  ["rows of 2 and 1 pixels, filters 4 + 2 and 4 + 1", { N: 2, C: 2, H: 6, W: 6, K: 6, kh: 3, kw: 5, cb: 2 }],
  ["channel blocks (the last one short) and K blocks of 256 taps", { N: 2, C: 40, H: 12, W: 11, K: 5, kh: 3, kw: 3, cb: 32 }],
  ["one filter, 1×1 taps", { N: 3, C: 4, H: 5, W: 12, K: 1, kh: 1, kw: 1, cb: 4 }],
];

describe("conv_valid (direct) against the im2col + gemm_nn path", () => {
  it.each(SHAPES)("%s: bitwise the same floats", (_what, s) => {
    const want = viaIm2col(single, s);
    expect(direct(single, s)).toEqual(want);
    expect(direct(two, s)).toEqual(want);
  });
});

function filterGrad(K: Kernels, s: ConvShape, nb: number): { got: Float32Array; x: Float32Array; g: Float32Array } {
  const f = f32(K);
  const Ho = s.H - s.kh + 1, Wo = s.W - s.kw + 1;
  const nx = s.N * s.C * s.H * s.W, ng = s.N * s.K * Ho * Wo, nd = s.K * s.C * s.kh * s.kw;
  const x = 64, g = x + 4 * (nx + 16), gt = g + 4 * (ng + 16), gt2 = gt + 4 * (ng + 16), tab = gt2 + 4 * (ng + 16), dw = tab + 4 * (s.C * s.kh * s.kw + 16);
  for (let i = 0; i < nx; i++) f[x / 4 + i] = Math.fround(normal(4, 1, 0, 0, i));
  for (let i = 0; i < ng; i++) f[g / 4 + i] = Math.fround(normal(4, 2, 0, 0, i));
  f.fill(NaN, dw / 4, dw / 4 + nd + 8);
  K.convFilterGrad({ x, g, gt, gt2, tab, dw, N: s.N, C: s.C, H: s.H, W: s.W, K: s.K, Ho, Wo, kh: s.kh, kw: s.kw, nb });
  expect(f.slice(dw / 4 + nd, dw / 4 + nd + 8).every(Number.isNaN)).toBe(true);
  return { got: f.slice(dw / 4, dw / 4 + nd), x: f.slice(x / 4, x / 4 + nx), g: f.slice(g / 4, g / 4 + ng) };
}

describe("conv_filter_grad against the exact sum", () => {
  const CASES: readonly [string, ConvShape, number][] = [
    ["LeNet's second layer (6 images, blocks of 4)", { N: 6, C: 20, H: 12, W: 12, K: 50, kh: 5, kw: 5, cb: 0 }, 4],
    ["LeNet's first layer (5 images, blocks of 2)", { N: 5, C: 1, H: 28, W: 28, K: 20, kh: 5, kw: 5, cb: 0 }, 2],
    ["rows of 7 pixels (4 + 3), taps 3, odd filters", { N: 3, C: 2, H: 9, W: 9, K: 5, kh: 3, kw: 3, cb: 0 }, 3],
    ["rows of 6, 5 and 2 pixels; taps 4 + 2 and 1", { N: 2, C: 3, H: 8, W: 9, K: 3, kh: 3, kw: 7, cb: 0 }, 1],
    ["one-pixel rows, wide taps", { N: 4, C: 2, H: 5, W: 9, K: 2, kh: 2, kw: 9, cb: 0 }, 3],
  ];
  it.each(CASES)("%s", (_what, s, nb) => {
    const { got, x, g } = filterGrad(single, s, nb);
    const Ho = s.H - s.kh + 1, Wo = s.W - s.kw + 1;
    for (let k = 0; k < s.K; k++)
      for (let c = 0; c < s.C; c++)
        for (let u = 0; u < s.kh; u++)
          for (let v = 0; v < s.kw; v++) {
            let exact = 0, abs = 0;
            for (let n = 0; n < s.N; n++)
              for (let i = 0; i < Ho; i++)
                for (let j = 0; j < Wo; j++) {
                  const t = g[((n * s.K + k) * Ho + i) * Wo + j]! * x[((n * s.C + c) * s.H + i + s.kh - 1 - u) * s.W + j + s.kw - 1 - v]!;
                  exact += t;
                  abs += Math.abs(t);
                }
            // f32 partial sums of at most N·Ho·Wo terms.
            expect(Math.abs(got[((k * s.C + c) * s.kh + u) * s.kw + v]! - exact)).toBeLessThanOrEqual(abs * s.N * Ho * Wo * 2 ** -23);
          }
    // Two threads (split by filters) give the same floats.
    expect(filterGrad(two, s, nb).got).toEqual(got);
  });
});

describe("max-pooling split by planes", () => {
  // Two threads take half the planes each: bitwise one thread's floats, the
  // gradient's zeros included; odd plane counts, rows and columns past the
  // last window.
  it.each([
    // Each past the split threshold (2^18 input elements).
    { P: 601, H: 24, W: 24, ph: 2, pw: 2 },
    { P: 4201, H: 9, W: 7, ph: 2, pw: 3 },
  ])("%o", ({ P, H, W, ph, pw }) => {
    const Ho = Math.floor(H / ph), Wo = Math.floor(W / pw);
    const run = (K: Kernels) => {
      const f = f32(K);
      const x = 64, y = x + 4 * (P * H * W + 16), g = y + 4 * (P * Ho * Wo + 16), out = g + 4 * (P * Ho * Wo + 16);
      for (let i = 0; i < P * H * W; i++) f[x / 4 + i] = Math.fround(Math.sin(1.7 * i));
      for (let i = 0; i < P * Ho * Wo; i++) f[g / 4 + i] = Math.fround(Math.cos(0.3 * i));
      f.fill(NaN, out / 4, out / 4 + P * H * W);
      K.maxPool2d({ x, y, planes: P, H, W, ph, pw, Ho, Wo });
      K.maxPool2dGrad({ x, g, out, planes: P, H, W, ph, pw, Ho, Wo });
      return [f.slice(y / 4, y / 4 + P * Ho * Wo), f.slice(out / 4, out / 4 + P * H * W)];
    };
    const [y1, d1] = run(single);
    const [y2, d2] = run(two);
    expect(y2).toEqual(y1);
    expect(d2).toEqual(d1);
    expect(d1!.some(Number.isNaN)).toBe(false);
  });
});
