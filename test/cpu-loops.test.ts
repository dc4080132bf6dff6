// The CPU backend's wasm loops: the transcendental helpers against Math.* in
// f64 (within 3 ulp of f32 over wide ranges, NaN and the infinities kept),
// and generated loop functions (broadcasts, ragged inner extents, sums)
// against the same loops in TypeScript.

import { describe, expect, it } from "vitest";
import { assemble } from "../compiler/emit/wasm/assemble.ts";
import { WasmLoops, type WasmTree } from "../compiler/emit/wasm/loops.ts";
import { mathFunctions } from "../compiler/emit/wasm/mathf.ts";
import { inlineMathCalls } from "../compiler/emit/wasm/inline-math.ts";
import { OPS } from "../compiler/ops/registry.ts";
import { toWasmTree } from "../compiler/emit/ts/wasm-tree.ts";

/** Instantiates a module with the helpers re-exported under test names. */
type MathExports = { exp4(x: number): number; tanh4(x: number): number; sigmoid4(x: number): number; log4(x: number): number; softplus4(x: number): number };
function mathModule(): MathExports & { mem: Float32Array } {
  const names = ["exp4", "tanh4", "sigmoid4", "log4", "softplus4"] as const;
  const wat = [
    "(module",
    '  (memory (export "memory") 1)',
    ...mathFunctions(new Set(names)),
    ...names.map((f) => `(func (export "${f}") (param $x f32) (result f32) (f32x4.extract_lane 0 (call $${f} (f32x4.splat (local.get $x)))))`),
    ")",
  ].join("\n");
  const inst = new WebAssembly.Instance(new WebAssembly.Module(assemble("math.wat", wat, true) as Uint8Array<ArrayBuffer>));
  const e = inst.exports as unknown as MathExports & { memory: WebAssembly.Memory };
  return { ...e, mem: new Float32Array(e.memory.buffer) };
}

/** Distance in f32 units in the last place (0 when both are the same NaN/∞). */
function ulps(got: number, want: number): number {
  const w = Math.fround(want);
  if (Number.isNaN(w)) return Number.isNaN(got) ? 0 : Infinity;
  if (!Number.isFinite(w) || !Number.isFinite(got)) return got === w ? 0 : Infinity;
  const ulp = Math.max(Math.abs(w) * 2 ** -23, 2 ** -149);
  return Math.abs(got - w) / ulp;
}

/** The same helpers inlined at their call sites (compiler/emit/wasm/inline-math.ts). */
function inlinedModule(): MathExports {
  const names = ["exp4", "tanh4", "sigmoid4", "log4", "softplus4"] as const;
  const funcs = names.map((f) => {
    const locals: string[] = [];
    let n = 0;
    const body = inlineMathCalls(`(f32x4.extract_lane 0 (call $${f} (f32x4.splat (local.get $x))))`, () => `m${n++}`, locals);
    expect(body).not.toMatch(/\(call /);
    return `(func (export "${f}") (param $x f32) (result f32)${locals.map((l) => ` (local $${l} v128)`).join("")}\n${body})`;
  });
  const wat = ["(module", ...funcs, ")"].join("\n");
  return new WebAssembly.Instance(new WebAssembly.Module(assemble("inlined.wat", wat, true) as Uint8Array<ArrayBuffer>)).exports as unknown as MathExports;
}

describe("inlined helpers", () => {
  it("give bitwise the called helpers' floats, NaN, ±0 and the infinities included", () => {
    const called = mathModule(), inlined = inlinedModule();
    const xs = [NaN, Infinity, -Infinity, 0, -0, 1e-40, -1e-40, 0.625, -0.625, 88.72, -103.9, 1e30];
    for (let x = -110; x <= 95; x += 0.0731) xs.push(Math.fround(x));
    const bits = (v: number) => new Uint32Array(Float32Array.of(v).buffer)[0];
    for (const f of ["exp4", "tanh4", "sigmoid4", "log4", "softplus4"] as const) {
      for (const x of xs) expect(bits(inlined[f](x)), `${f}(${x})`).toBe(bits(called[f](x)));
    }
  });
});

describe("wasm transcendentals", () => {
  const m = mathModule();
  const xs: number[] = [];
  for (let x = -110; x <= 95; x += 0.0137) xs.push(Math.fround(x));
  for (let x = -2; x <= 2; x += 0.00031) xs.push(Math.fround(x));
  xs.push(...[0, -0, 1e-30, -1e-30, 1e-8, 0.625, -0.625, 88.72, -87.3, -103.9].map(Math.fround));
  const cases: [string, (x: number) => number, (x: number) => number, number][] = [
    ["exp", (x) => m.exp4(x), Math.exp, 3],
    ["tanh", (x) => m.tanh4(x), Math.tanh, 3],
    ["sigmoid", (x) => m.sigmoid4(x), (x) => 1 / (1 + Math.exp(-x)), 3],
    ["softplus", (x) => m.softplus4(x), (x) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))), 3],
  ];
  it.each(cases)("%s within %#", (name, f, ref, maxUlps) => {
    let worst = 0, at = 0;
    for (const x of xs) {
      const want = ref(x);
      // Results far below the normal range compare in absolute terms (the
      // clamp at −104 flushes to 0 where a subnormal might remain).
      const u = Math.abs(want) < 2 ** -120 ? (Math.abs(f(x) - want) < 2 ** -120 ? 0 : Infinity) : ulps(f(x), want);
      if (u > worst) [worst, at] = [u, x];
    }
    expect(worst, `${name}: worst ${worst.toFixed(2)} ulp at x = ${at} (got ${f(at)}, want ${ref(at)})`).toBeLessThanOrEqual(maxUlps);
  });
  it("log within 3 ulp from the smallest subnormal to the largest float", () => {
    const ls: number[] = [2 ** -149, 3 * 2 ** -149, 2 ** -130, 1.1754942e-38, 1.1754944e-38, 3.4028234e38, 1, Math.fround(1 - 2 ** -24), Math.fround(1 + 2 ** -23)];
    for (let e = -149; e <= 127; e += 0.173) ls.push(Math.fround(2 ** e));
    for (let x = 0.5; x <= 2; x += 0.00037) ls.push(Math.fround(x));
    let worst = 0, at = 0;
    for (const x of ls) {
      const u = ulps(m.log4(x), Math.log(x));
      if (u > worst) [worst, at] = [u, x];
    }
    expect(worst, `log: worst ${worst.toFixed(2)} ulp at x = ${at} (got ${m.log4(at)}, want ${Math.log(at)})`).toBeLessThanOrEqual(3);
  });
  it("NaN and infinities", () => {
    for (const f of [m.exp4, m.tanh4, m.sigmoid4, m.log4, m.softplus4]) expect(f(NaN)).toBeNaN();
    expect(m.log4(0)).toBe(-Infinity);
    expect(m.log4(-0)).toBe(-Infinity);
    expect(m.log4(-1)).toBeNaN();
    expect(m.log4(-Infinity)).toBeNaN();
    expect(m.log4(Infinity)).toBe(Infinity);
    expect(m.softplus4(Infinity)).toBe(Infinity);
    expect(m.softplus4(-Infinity)).toBe(0);
    expect(m.exp4(Infinity)).toBe(Infinity);
    expect(m.exp4(-Infinity)).toBe(0);
    expect(m.tanh4(Infinity)).toBe(1);
    expect(m.tanh4(-Infinity)).toBe(-1);
    expect(m.sigmoid4(-Infinity)).toBe(0);
    expect(m.sigmoid4(Infinity)).toBe(1);
    expect(Object.is(m.tanh4(-0), -0)).toBe(true);
  });
});

describe("wasm loops", () => {
  const op = (name: "add" | "mul" | "tanh" | "sub", ...args: WasmTree[]): WasmTree => ({ kind: "op", emit: OPS[name].wasm!, args });
  function run(build: (w: WasmLoops) => void, mem: WebAssembly.Memory): void {
    const w = new WasmLoops();
    build(w);
    const wat = w.module("", false).replace('(import "env" "memory" (memory 1))', '(import "env" "memory" (memory 4))');
    const inst = new WebAssembly.Instance(new WebAssembly.Module(assemble("t.wat", wat, true) as Uint8Array<ArrayBuffer>), { env: { memory: mem } });
    (inst.exports.f as () => void)();
  }
  const fill = (f: Float32Array, at: number, n: number, salt: number) => {
    for (let i = 0; i < n; i++) f[at / 4 + i] = Math.fround(Math.sin(i * 0.7 + salt) * 3);
  };

  it("broadcasts along middle axes, ragged inner extent, padding untouched", () => {
    // out[a,b,c] = tanh(x[a,b,c] + bias[b, 1]) · 0.5, shape [3, 5, 7]
    const mem = new WebAssembly.Memory({ initial: 4 });
    const f = new Float32Array(mem.buffer);
    const X = 64, B = 1024, O = 2048, N = 3 * 5 * 7;
    fill(f, X, N, 1);
    fill(f, B, 5, 2);
    f.fill(99, O / 4, O / 4 + N + 8);
    const tree = op("mul", op("tanh", op("add", { kind: "load", addr: X, strides: [35, 7, 1] }, { kind: "load", addr: B, strides: [0, 1, 0] })), { kind: "const", value: 0.5 });
    run((w) => expect(w.elementwise("f", "test", tree, O, [3, 5, 7])).toBe(true), mem);
    for (let a = 0; a < 3; a++)
      for (let b = 0; b < 5; b++)
        for (let c = 0; c < 7; c++) {
          const i = (a * 5 + b) * 7 + c;
          const want = Math.fround(Math.tanh(Math.fround(f[X / 4 + i]! + f[B / 4 + b]!)) * 0.5);
          expect(ulps(f[O / 4 + i]!, want)).toBeLessThanOrEqual(3);
        }
    expect(f[O / 4 + N]).toBe(99);
  });

  it("row sums in f64 with a ragged tail, and a full sum", () => {
    const mem = new WebAssembly.Memory({ initial: 4 });
    const f = new Float32Array(mem.buffer);
    const X = 64, Y = 8192, O = 16384, R = 6, L = 203;
    fill(f, X, R * L, 3);
    fill(f, Y, R * L, 4);
    const tree = op("mul", { kind: "load", addr: X, strides: [L, 1] }, op("sub", { kind: "load", addr: Y, strides: [L, 1] }, { kind: "const", value: 0.25 }));
    run((w) => expect(w.sum("f", "test", tree, O, [R, L], 1)).toBe(true), mem);
    for (let r = 0; r < R; r++) {
      let s = 0;
      for (let j = 0; j < L; j++) s += f[X / 4 + r * L + j]! * Math.fround(f[Y / 4 + r * L + j]! - 0.25);
      expect(Math.abs(f[O / 4 + r]! - s)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(s)));
    }
    run((w) => expect(w.sum("f", "test", tree, O, [R, L], 0)).toBe(true), mem);
    let total = 0;
    for (let i = 0; i < R * L; i++) total += f[X / 4 + i]! * Math.fround(f[Y / 4 + i]! - 0.25);
    expect(Math.abs(f[O / 4]! - total)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(total)));
  });

  it.each(["lt", "le", "gt", "ge", "eq", "ne"] as const)("cast(compare %s) to f32 (a Bernoulli sample, a mask) is JS's comparison: NaN, ±0, ties, ragged tail", (cmp) => {
    // Through toWasmTree, as the renderer builds it from a fused expression.
    const mem = new WebAssembly.Memory({ initial: 4 });
    const f = new Float32Array(mem.buffer);
    const X = 64, Y = 1024, O = 2048;
    const xs = [0.5, NaN, 0, -0, 1, 0.25, 3, -2, NaN, 0.75, 1e-30];
    const ys = [0.5, 0.1, -0, 0, 2, NaN, 1, -3, NaN, 0.5, 0];
    f.set(xs, X / 4);
    f.set(ys, Y / 4);
    f.fill(99, O / 4, O / 4 + xs.length + 4);
    const node = (op: string, dtype: string, attrs: object) => ({ op, dtype, attrs, inputs: [], shape: [xs.length] }) as never;
    const read = (buffer: number) => ({ kind: "read" as const, buffer, strides: [1] });
    const expr = { kind: "op" as const, node: node("cast", "f32", { to: "f32" }), args: [{ kind: "op" as const, node: node("compare", "bool", { cmp }), args: [read(0), read(1)] }] };
    const program = { buffers: [{ dtype: "f32" }, { dtype: "f32" }] } as never;
    const tree = toWasmTree(expr, (b) => (b === 0 ? X : Y), program, new Set());
    expect(tree).toBeDefined();
    run((w) => expect(w.elementwise("f", "test", tree!, O, [xs.length])).toBe(true), mem);
    const js = { lt: (a: number, b: number) => a < b, le: (a: number, b: number) => a <= b, gt: (a: number, b: number) => a > b, ge: (a: number, b: number) => a >= b, eq: (a: number, b: number) => a === b, ne: (a: number, b: number) => a !== b }[cmp];
    expect(Array.from(f.subarray(O / 4, O / 4 + xs.length))).toEqual(xs.map((x, i) => (js(Math.fround(x), Math.fround(ys[i]!)) ? 1 : 0)));
    expect(f[O / 4 + xs.length]).toBe(99);
  });

  it.each(["lt", "gt", "ne"] as const)("select(compare %s, a, b) and select(f32, a, b) choose as TypeScript does: NaN, ±0, Infinity in the branches, ragged tail", (cmp) => {
    const mem = new WebAssembly.Memory({ initial: 4 });
    const f = new Float32Array(mem.buffer);
    const X = 64, Y = 1024, A = 2048, B = 3072, O = 4096;
    const xs = [0.5, NaN, 0, -0, 1, 0.25, 3, -2, NaN, 0.75, 1e-30];
    const ys = [0.5, 0.1, -0, 0, 2, NaN, 1, -3, NaN, 0.5, 0];
    const as = [1, 2, NaN, -0, Infinity, 6, 7, 8, 9, -Infinity, 11];
    const bs = [-1, NaN, -3, 0, -5, -Infinity, -7, -8, -9, -10, -0];
    f.set(xs, X / 4); f.set(ys, Y / 4); f.set(as, A / 4); f.set(bs, B / 4);
    const node = (op: string, dtype: string, attrs: object) => ({ op, dtype, attrs, inputs: [], shape: [xs.length] }) as never;
    const read = (buffer: number) => ({ kind: "read" as const, buffer, strides: [1] });
    const program = { buffers: [{ dtype: "f32" }, { dtype: "f32" }, { dtype: "f32" }, { dtype: "f32" }] } as never;
    const addr = (b: number) => [X, Y, A, B][b];
    const js = { lt: (a: number, b: number) => a < b, gt: (a: number, b: number) => a > b, ne: (a: number, b: number) => a !== b }[cmp];
    const cases: [unknown, (i: number) => boolean][] = [
      [{ kind: "op" as const, node: node("compare", "bool", { cmp }), args: [read(0), read(1)] }, (i) => js(Math.fround(xs[i]!), Math.fround(ys[i]!))],
      [read(0), (i) => Math.fround(xs[i]!) !== 0],
    ];
    for (const [cond, want] of cases) {
      f.fill(99, O / 4, O / 4 + xs.length + 4);
      const expr = { kind: "op" as const, node: node("select", "f32", {}), args: [cond, read(2), read(3)] } as never;
      const tree = toWasmTree(expr, addr, program, new Set());
      expect(tree).toBeDefined();
      run((w) => expect(w.elementwise("f", "test", tree!, O, [xs.length])).toBe(true), mem);
      expect(Array.from(f.subarray(O / 4, O / 4 + xs.length))).toEqual(xs.map((_, i) => Math.fround(want(i) ? as[i]! : bs[i]!)));
      expect(f[O / 4 + xs.length]).toBe(99);
    }
  });

  it("row sums with a bias broadcast over the rows and a per-row value, across two kept axes", () => {
    // out[a, b] = Σ_j (x[a, b, j] + bias[j]) · c[a, b], shape [2, 3, 37]
    // (the RBM's Σ softplus(x·W + hbias) has the bias; a log per row is the
    // per-row value), and the same over a bias strided by the kept axes.
    const mem = new WebAssembly.Memory({ initial: 4 });
    const f = new Float32Array(mem.buffer);
    const X = 64, B = 8192, C = 12288, O = 16384, L = 37;
    fill(f, X, 6 * L, 5);
    fill(f, B, 3 * L, 6);
    fill(f, C, 6, 7);
    const trees = [
      op("mul", op("add", { kind: "load", addr: X, strides: [3 * L, L, 1] }, { kind: "load", addr: B, strides: [0, 0, 1] }), { kind: "load", addr: C, strides: [3, 1, 0] }),
      op("mul", op("add", { kind: "load", addr: X, strides: [3 * L, L, 1] }, { kind: "load", addr: B, strides: [0, L, 1] }), { kind: "load", addr: C, strides: [3, 1, 0] }),
    ];
    trees.forEach((tree, t) => {
      f.fill(99, O / 4, O / 4 + 8);
      run((w) => expect(w.sum("f", "test", tree, O, [2, 3, L], 2)).toBe(true), mem);
      for (let a = 0; a < 2; a++)
        for (let b = 0; b < 3; b++) {
          let s = 0;
          for (let j = 0; j < L; j++) s += Math.fround(Math.fround(f[X / 4 + (a * 3 + b) * L + j]! + f[B / 4 + (t === 0 ? 0 : b * L) + j]!) * f[C / 4 + a * 3 + b]!);
          expect(Math.abs(f[O / 4 + a * 3 + b]! - s)).toBeLessThanOrEqual(1e-6 * (1 + Math.abs(s)));
        }
      expect(f[O / 4 + 6]).toBe(99);
    });
  });

  it("refuses a sum over an operand strided along the reduced axis (left to TypeScript)", () => {
    const tree = op("add", { kind: "load", addr: 64, strides: [4, 1] }, { kind: "load", addr: 1024, strides: [1, 3] });
    expect(new WasmLoops().sum("f", "t", tree, 2048, [3, 4], 1)).toBe(false);
  });
});
