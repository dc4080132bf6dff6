// The convolutional-net primitives (conv2d, conv2d_filter_grad, flip,
// max_pool2d, max_pool2d_grad): finite-difference gradient checks in f64 and the
// reference evaluation on hand-computed examples. Their TypeScript kernels
// (the WebAssembly ones they call) and WGSL kernels run against the
// reference in test/ops-backends.test.ts.

import { beforeEach, describe, expect, it } from "vitest";
import { verifyOpGrad, verifyOpGrad2 } from "../compiler/gradcheck/verify-grad.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { alloc, fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { IRError, type Node, type Prim, type Shape } from "../compiler/ir/types.ts";
import type { PrimAttrs } from "../compiler/ops/attrs.ts";
import { OPS } from "../compiler/ops/registry.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

const f64 = (shape: Shape, v: readonly number[]) => fromArray(shape, "f64", v);

let salt = 1;
// Each test draws the same values whether it runs alone or after others.
beforeEach(() => {
  salt = 1;
});
function rnd(shape: Shape): Tensor {
  const s = salt++;
  const t = alloc(shape, "f64");
  for (let i = 0; i < t.data.length; i++) t.data[i] = normal(11, s, 1, 0, i);
  return t;
}
/** Distinct values 0.1 apart in random order: no ties within eps. */
function distinct(shape: Shape): Tensor {
  const s = salt++;
  const t = alloc(shape, "f64");
  for (let i = 0; i < t.data.length; i++) t.data[i] = uniform(11, s, 0, 0, i);
  const order = [...t.data.keys()].sort((a, b) => t.data[a]! - t.data[b]!);
  const out = alloc(shape, "f64");
  order.forEach((k, rank) => (out.data[k] = rank * 0.1 - 1));
  return out;
}

function evalOp<P extends Prim>(op: P, attrs: PrimAttrs[P], inputs: readonly Tensor[]): Tensor {
  const b = new Builder();
  const ids = inputs.map((t, k) => b.leaf("input", `x${k}`, t.shape, t.dtype));
  const y = b.op(op, ids, attrs);
  return interpret(b.graph, { input: new Map(inputs.map((t, k) => [`x${k}`, t])) })[y] as Tensor;
}

const TOL = 1e-6;

// ---- gradients -----------------------------------------------------------------

describe("VJPs against central differences (f64, random projection)", () => {
  it.each([
    { name: "conv2d valid", op: "conv2d" as const, attrs: { border: "valid" as const }, inputs: () => [rnd([2, 3, 5, 6]), rnd([4, 3, 2, 3])] },
    { name: "conv2d valid, 1×1 filters", op: "conv2d" as const, attrs: { border: "valid" as const }, inputs: () => [rnd([2, 2, 3, 3]), rnd([3, 2, 1, 1])] },
    { name: "conv2d valid, filters as large as the input", op: "conv2d" as const, attrs: { border: "valid" as const }, inputs: () => [rnd([3, 2, 4, 3]), rnd([2, 2, 4, 3])] },
    { name: "conv2d full", op: "conv2d" as const, attrs: { border: "full" as const }, inputs: () => [rnd([2, 2, 3, 4]), rnd([3, 2, 2, 3])] },
    { name: "conv2d full, filters larger than the input", op: "conv2d" as const, attrs: { border: "full" as const }, inputs: () => [rnd([1, 2, 2, 2]), rnd([2, 2, 3, 4])] },
  ])("$name", ({ op, attrs, inputs }) => {
    const res = verifyOpGrad(op, attrs, inputs());
    for (const p of res.perInput) expect(Math.abs(p!.numeric)).toBeGreaterThan(1e-5);
    expect(res.relErr).toBeLessThan(TOL);
  });

  it.each([
    { name: "conv2d_filter_grad", inputs: () => [rnd([2, 3, 5, 6]), rnd([2, 4, 4, 4])] },
    { name: "conv2d_filter_grad, 1×1 taps", inputs: () => [rnd([3, 2, 3, 3]), rnd([3, 2, 3, 3])] },
  ])("$name", ({ inputs }) => {
    const res = verifyOpGrad("conv2d_filter_grad", {}, inputs());
    for (const p of res.perInput) expect(Math.abs(p!.numeric)).toBeGreaterThan(1e-5);
    expect(res.relErr).toBeLessThan(TOL);
  });

  it.each([
    { axes: [2, 3], shape: [2, 3, 4, 5] },
    { axes: [0, 2], shape: [3, 2, 4] },
    { axes: [1], shape: [2, 5] },
    { axes: [], shape: [4] },
  ])("flip axes $axes", ({ axes, shape }) => {
    const res = verifyOpGrad("flip", { axes }, [rnd(shape)]);
    expect(Math.abs(res.numeric)).toBeGreaterThan(1e-5);
    expect(res.relErr).toBeLessThan(TOL);
  });

  it.each([
    { size: [2, 2], shape: [2, 3, 4, 6] },
    { size: [2, 3], shape: [2, 2, 5, 7] }, // rows and columns past the last window
    { size: [1, 1], shape: [1, 2, 3, 3] },
    { size: [3, 1], shape: [1, 1, 6, 2] },
  ])("max_pool2d size $size on $shape", ({ size, shape }) => {
    const res = verifyOpGrad("max_pool2d", { size }, [distinct(shape)]);
    expect(Math.abs(res.numeric)).toBeGreaterThan(1e-5);
    expect(res.relErr).toBeLessThan(TOL);
  });

  it.each([
    { size: [2, 2], shape: [2, 3, 4, 6] },
    { size: [2, 3], shape: [2, 2, 5, 7] },
  ])("max_pool2d_grad size $size on $shape (ct; x is piecewise constant)", ({ size, shape }) => {
    const x = distinct(shape);
    const pooled = evalOp("max_pool2d", { size }, [x]);
    const res = verifyOpGrad("max_pool2d_grad", { size }, [x, rnd(pooled.shape)]);
    const dx = res.perInput[0]!;
    const dct = res.perInput[1]!;
    expect(Math.abs(dct.numeric)).toBeGreaterThan(1e-5);
    // No cotangent for x (null): the function really is flat there.
    expect(dx.analytic).toBe(0);
    expect(Math.abs(dx.numeric)).toBeLessThan(1e-9);
    expect(res.relErr).toBeLessThan(TOL);
  });

  // The VJP of every VJP (grad() in specs): as test/ops-grad.test.ts does
  // for the other primitives.
  it.each([
    { name: "conv2d valid", op: "conv2d" as const, attrs: { border: "valid" as const }, inputs: () => [rnd([2, 3, 5, 6]), rnd([4, 3, 2, 3])] },
    { name: "conv2d full", op: "conv2d" as const, attrs: { border: "full" as const }, inputs: () => [rnd([2, 2, 3, 4]), rnd([3, 2, 2, 3])] },
    { name: "flip", op: "flip" as const, attrs: { axes: [2, 3] }, inputs: () => [rnd([2, 3, 4, 5])] },
    { name: "conv2d_filter_grad", op: "conv2d_filter_grad" as const, attrs: {}, inputs: () => [rnd([2, 2, 4, 5]), rnd([2, 3, 3, 3])] },
    { name: "max_pool2d", op: "max_pool2d" as const, attrs: { size: [2, 3] }, inputs: () => [distinct([2, 2, 5, 7])] },
  ] as const)("second derivatives of $name", ({ op, attrs, inputs }) => {
    const res = verifyOpGrad2(op, attrs as PrimAttrs[typeof op], inputs());
    expect(Math.abs(res.numeric)).toBeGreaterThan(1e-5);
    expect(res.relErr, `numeric ${res.numeric} vs derived ${res.analytic}`).toBeLessThan(TOL);
  });

  it("second derivatives of max_pool2d_grad", () => {
    const x = distinct([2, 3, 4, 6]);
    const pooled = evalOp("max_pool2d", { size: [2, 2] }, [x]);
    const res = verifyOpGrad2("max_pool2d_grad", { size: [2, 2] }, [x, rnd(pooled.shape)]);
    expect(Math.abs(res.numeric)).toBeGreaterThan(1e-5);
    expect(res.relErr, `numeric ${res.numeric} vs derived ${res.analytic}`).toBeLessThan(TOL);
  });

  it("second order: the gradient of conv2d's gradient checks too", () => {
    // d/dw of <dx(ct, w), r>: differentiates the full conv and flips.
    const b = new Builder();
    const x = b.leaf("input", "x", [1, 2, 4, 4], "f64");
    const w = b.leaf("input", "w", [3, 2, 2, 2], "f64");
    const y = b.op("conv2d", [x, w], { border: "valid" });
    const ct = b.leaf("input", "ct", b.shape(y), "f64");
    const [dx] = OPS.conv2d.vjp(b, b.node(y) as Node<"conv2d">, ct);
    expect(b.node(dx!).op).toBe("conv2d");
    const xs = [rnd([1, 2, 4, 4]), rnd([3, 2, 2, 2])];
    expect(verifyOpGrad("conv2d", { border: "full" }, [rnd([1, 3, 3, 3]), rnd([2, 3, 2, 2])]).relErr).toBeLessThan(TOL);
    expect(verifyOpGrad("conv2d", { border: "valid" }, xs).relErr).toBeLessThan(TOL);
  });

  it("rejects a VJP written for cross-correlation (filters not flipped)", () => {
    const wrong = (b: Builder, n: Node, ct: number): (number | null)[] => {
      const [x, w] = n.inputs as [number, number];
      const wT = b.transpose(w, [1, 0, 2, 3]); // missing flip
      const dx = b.op("conv2d", [ct, wT], { border: "full" });
      const dw = b.transpose(b.op("flip", [b.op("conv2d", [b.transpose(x, [1, 0, 2, 3]), b.op("flip", [b.transpose(ct, [1, 0, 2, 3])], { axes: [2, 3] })], { border: "valid" })], { axes: [2, 3] }), [1, 0, 2, 3]);
      return [dx, dw];
    };
    expect(verifyOpGrad("conv2d", { border: "valid" }, [rnd([2, 2, 4, 5]), rnd([3, 2, 2, 3])], { vjp: wrong }).relErr).toBeGreaterThan(1000 * TOL);
  });
});

// ---- reference evaluation --------------------------------------------------------

describe("reference evaluation", () => {
  it("conv2d valid is a true convolution (the filter is flipped)", () => {
    const x = f64([1, 1, 3, 3], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const w = f64([1, 1, 2, 2], [1, 2, 3, 4]);
    const y = evalOp("conv2d", { border: "valid" }, [x, w]);
    expect(y.shape).toEqual([1, 1, 2, 2]);
    // y[0,0] = 1·4 + 2·3 + 4·2 + 5·1
    expect([...y.data]).toEqual([23, 33, 53, 63]);
  });

  it("conv2d full places the filter at each input pixel", () => {
    const w = f64([1, 1, 2, 2], [1, 2, 3, 4]);
    const corner = evalOp("conv2d", { border: "full" }, [f64([1, 1, 2, 2], [1, 0, 0, 0]), w]);
    expect(corner.shape).toEqual([1, 1, 3, 3]);
    expect([...corner.data]).toEqual([1, 2, 0, 3, 4, 0, 0, 0, 0]);
    const other = evalOp("conv2d", { border: "full" }, [f64([1, 1, 2, 2], [0, 0, 0, 2]), w]);
    expect([...other.data]).toEqual([0, 0, 0, 0, 2, 4, 0, 6, 8]);
  });

  it("conv2d sums over channels, one output map per filter, per example", () => {
    // Two examples, two channels, two 1×1 filters: a per-pixel matrix product.
    const x = f64([2, 2, 1, 2], [1, 2, 3, 4, 5, 6, 7, 8]);
    const w = f64([2, 2, 1, 1], [1, 10, -1, 0.5]);
    const y = evalOp("conv2d", { border: "valid" }, [x, w]);
    expect(y.shape).toEqual([2, 2, 1, 2]);
    expect([...y.data]).toEqual([31, 42, 0.5, 0, 75, 86, -1.5, -2]);
  });

  it("conv2d_filter_grad is conv2d's filter gradient written with conv2d, transposes and flips", () => {
    // T(F(conv_valid(T(x), F(T(ct))))): what conv2d's VJP wrote before the op.
    const x = rnd([3, 2, 6, 5]), ct = rnd([3, 4, 4, 2]);
    const b = new Builder();
    const xi = b.leaf("input", "x0", x.shape, "f64"), ci = b.leaf("input", "x1", ct.shape, "f64");
    const T = (t: number) => b.transpose(t, [1, 0, 2, 3]);
    const F = (t: number) => b.op("flip", [t], { axes: [2, 3] });
    const composed = T(F(b.op("conv2d", [T(xi), F(T(ci))], { border: "valid" })));
    const want = interpret(b.graph, { input: new Map([["x0", x], ["x1", ct]]) })[composed] as Tensor;
    const got = evalOp("conv2d_filter_grad", {}, [x, ct]);
    expect(got.shape).toEqual([4, 2, 3, 4]);
    got.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i]!, 12));
    // And conv2d's VJP uses it for the filters of a valid convolution.
    const w = b.leaf("input", "w", [4, 2, 3, 4], "f64");
    const y = b.op("conv2d", [xi, w], { border: "valid" });
    const [, dw] = OPS.conv2d.vjp(b, b.node(y) as Node<"conv2d">, ci);
    expect(b.node(dw!).op).toBe("conv2d_filter_grad");
  });

  it("flip reverses the listed axes", () => {
    const x = f64([2, 3], [1, 2, 3, 4, 5, 6]);
    expect([...evalOp("flip", { axes: [1] }, [x]).data]).toEqual([3, 2, 1, 6, 5, 4]);
    expect([...evalOp("flip", { axes: [0] }, [x]).data]).toEqual([4, 5, 6, 1, 2, 3]);
    expect([...evalOp("flip", { axes: [0, 1] }, [x]).data]).toEqual([6, 5, 4, 3, 2, 1]);
  });

  it("max_pool2d takes window maxima and ignores the border", () => {
    // 3×5 with 2×2 windows: one row of two windows; row 2 and column 4 ignored.
    const x = f64([1, 1, 3, 5], [1, 5, 2, 0, 99, 3, -1, 7, 7, 99, 99, 99, 99, 99, 99]);
    const y = evalOp("max_pool2d", { size: [2, 2] }, [x]);
    expect(y.shape).toEqual([1, 1, 1, 2]);
    expect([...y.data]).toEqual([5, 7]);
    expect(evalOp("max_pool2d", { size: [1, 2] }, [f64([1, 1, 1, 4], [NaN, 1, 2, NaN])]).data.every(Number.isNaN)).toBe(true);
  });

  it("max_pool2d_grad routes each cotangent to its window's first maximum", () => {
    const x = f64([1, 1, 3, 5], [1, 5, 2, 0, 99, 3, -1, 7, 7, 99, 99, 99, 99, 99, 99]);
    const g = evalOp("max_pool2d_grad", { size: [2, 2] }, [x, f64([1, 1, 1, 2], [10, 20])]);
    expect(g.shape).toEqual([1, 1, 3, 5]);
    // The second window ties 7 and 7 (row 1): the first, column 2, wins.
    expect([...g.data]).toEqual([0, 10, 0, 0, 0, 0, 0, 20, 0, 0, 0, 0, 0, 0, 0]);
    const flat = evalOp("max_pool2d_grad", { size: [2, 2] }, [f64([1, 1, 2, 2], [4, 4, 4, 4]), f64([1, 1, 1, 1], [3])]);
    expect([...flat.data]).toEqual([3, 0, 0, 0]);
  });

  it("shape rules reject what does not fit", () => {
    const b = new Builder();
    const x = b.leaf("input", "x", [2, 3, 5, 5], "f64");
    const w = b.leaf("input", "w", [4, 2, 3, 3], "f64");
    const big = b.leaf("input", "big", [4, 3, 6, 3], "f64");
    const v = b.leaf("input", "v", [5, 5], "f64");
    expect(() => b.op("conv2d", [x, w], { border: "valid" })).toThrow(/3 channels, the filters 2/);
    expect(() => b.op("conv2d", [x, big], { border: "valid" })).toThrow(/larger than/);
    expect(b.shape(b.op("conv2d", [x, big], { border: "full" }))).toEqual([2, 4, 10, 7]);
    expect(() => b.op("conv2d", [v, w], { border: "valid" })).toThrow(IRError);
    expect(() => b.op("max_pool2d", [x], { size: [6, 1] })).toThrow(/does not fit/);
    expect(() => b.op("max_pool2d", [v], { size: [2, 2] })).toThrow(/4-D/);
    expect(() => b.op("max_pool2d_grad", [x, x], { size: [2, 2] })).toThrow(/cotangent/);
    expect(() => b.op("flip", [x], { axes: [4] })).toThrow(/axes/);
    expect(() => b.op("conv2d_filter_grad", [x, w], {})).toThrow(/not a valid convolution's output/);
    expect(() => b.op("conv2d_filter_grad", [x, v], {})).toThrow(/4-D/);
    expect(b.shape(b.op("conv2d_filter_grad", [x, b.leaf("input", "ct", [2, 7, 3, 2], "f64")], {}))).toEqual([7, 3, 3, 4]);
  });
});
