// Every primitive op: finite-difference gradient checks of its VJP (f64,
// random projection), reference evaluation on hand-computed examples, the
// ops without a gradient and shape-rule errors. The emitters of every
// backend run against the reference in test/ops-backends.test.ts.

import { beforeEach, describe, expect, it } from "vitest";
import { verifyOpGrad, verifyOpGrad2 } from "../compiler/gradcheck/verify-grad.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { alloc, fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { type DType, IRError, type Node, type Prim, type Shape } from "../compiler/ir/types.ts";
import type { PrimAttrs } from "../compiler/ops/attrs.ts";
import { OPS } from "../compiler/ops/registry.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

// ---- helpers ---------------------------------------------------------------

const f64 = (shape: Shape, v: readonly number[]) => fromArray(shape, "f64", v);
const i32 = (shape: Shape, v: readonly number[]) => fromArray(shape, "i32", v);
const bool = (shape: Shape, v: readonly number[]) => fromArray(shape, "bool", v);

let salt = 1;
// Each test draws the same values whether it runs alone or after others.
beforeEach(() => {
  salt = 1;
});
/** Deterministic random f64 tensor: f(u, z) with u ~ U[0,1), z ~ N(0,1). */
function rnd(shape: Shape, f: (u: number, z: number) => number = (_u, z) => z): Tensor {
  const s = salt++;
  const t = alloc(shape, "f64");
  for (let i = 0; i < t.data.length; i++) t.data[i] = f(uniform(7, s, 0, 0, i), normal(7, s, 1, 0, i));
  return t;
}
/** |x| in [0.5, 1.5) with a random sign: away from kinks (abs) and poles (div). */
const awayFromZero = (shape: Shape) => rnd(shape, (u, z) => Math.sign(z || 1) * (0.5 + u));
const positive = (shape: Shape) => rnd(shape, (u) => 0.5 + 1.5 * u);
/** b = a ± [0.2, 1.2): the two operands of max/min never come within eps. */
function apart(shape: Shape): [Tensor, Tensor] {
  const a = rnd(shape);
  const gap = awayFromZero(shape);
  return [a, f64(shape, [...a.data].map((x, i) => x + gap.data[i]! - Math.sign(gap.data[i]!) * 0.3))];
}
/** Distinct values 0.1 apart in random order: reduce_max has no ties. */
function distinct(shape: Shape): Tensor {
  const t = rnd(shape, (u) => u);
  const order = [...t.data.keys()].sort((a, b) => t.data[a]! - t.data[b]!);
  const out = alloc(shape, "f64");
  order.forEach((k, rank) => (out.data[k] = rank * 0.1 - 1));
  return out;
}

interface Case {
  readonly name: string;
  readonly op: Prim;
  readonly attrs: PrimAttrs[Prim];
  readonly inputs: () => Tensor[];
}
const c = <P extends Prim>(name: string, op: P, attrs: PrimAttrs[P], inputs: () => Tensor[]): Case => ({ name, op, attrs, inputs });

/** Builds leaves for `inputs`, the op node, and evaluates it. */
function evalOp(op: Prim, attrs: PrimAttrs[Prim], inputs: readonly Tensor[]): Tensor {
  const b = new Builder();
  const ids = inputs.map((t, k) => b.leaf("input", `x${k}`, t.shape, t.dtype));
  const y = b.op(op, ids, attrs);
  const v = interpret(b.graph, { input: new Map(inputs.map((t, k) => [`x${k}`, t])) });
  return v[y] as Tensor;
}

const NONE = {} as Record<string, never>;

// ---- gradient checks ---------------------------------------------------------

// Central differences with eps = 1e-6 in f64 agree with correct rules to
// <= 6e-10 on these cases (truncation eps^2 f''' ~ 1e-12, rounding
// 1e-16 |C| / eps ~ 1e-10 |C|), while plausible wrong rules (below) are off
// by 0.4 to 1.8. TOL = 1e-6 sits three orders of magnitude from each.
const TOL = 1e-6;

const GRAD_CASES: Case[] = [
  c("add", "add", NONE, () => [rnd([2, 3]), rnd([2, 3])]),
  c("sub", "sub", NONE, () => [rnd([2, 3]), rnd([2, 3])]),
  c("mul", "mul", NONE, () => [rnd([2, 3]), rnd([2, 3])]),
  c("div", "div", NONE, () => [rnd([2, 3]), awayFromZero([2, 3])]),
  c("maximum", "maximum", NONE, () => apart([3, 4])),
  c("minimum", "minimum", NONE, () => apart([3, 4])),
  c("pow", "pow", NONE, () => [positive([2, 3]), rnd([2, 3], (u) => 3 * u - 1.5)]),
  c("neg", "neg", NONE, () => [rnd([5])]),
  c("exp", "exp", NONE, () => [rnd([5])]),
  c("log", "log", NONE, () => [positive([5])]),
  c("tanh", "tanh", NONE, () => [rnd([5], (_u, z) => 2 * z)]),
  c("sigmoid", "sigmoid", NONE, () => [rnd([5], (_u, z) => 3 * z)]),
  c("softplus", "softplus", NONE, () => [rnd([5], (_u, z) => 3 * z)]),
  c("abs", "abs", NONE, () => [awayFromZero([6])]),
  c("sqrt", "sqrt", NONE, () => [positive([5])]),
  c("select", "select", NONE, () => [bool([2, 3], [1, 0, 0, 1, 1, 0]), rnd([2, 3]), rnd([2, 3])]),
  c("cast f64 -> f32", "cast", { to: "f32" }, () => [rnd([4])]),
  c("cast f64 -> f64", "cast", { to: "f64" }, () => [rnd([4])]),
  c("reduce_sum axes [1]", "reduce_sum", { axes: [1] }, () => [rnd([3, 4])]),
  c("reduce_sum axes [0, 2]", "reduce_sum", { axes: [0, 2] }, () => [rnd([2, 3, 4])]),
  c("reduce_sum to scalar", "reduce_sum", { axes: [0, 1] }, () => [rnd([2, 3])]),
  c("reduce_max axes [1]", "reduce_max", { axes: [1] }, () => [distinct([3, 4])]),
  c("reduce_max axes [0, 2]", "reduce_max", { axes: [0, 2] }, () => [distinct([2, 3, 4])]),
  c("gather (repeated rows)", "gather", NONE, () => [rnd([5, 3]), i32([2, 4], [0, 4, 2, 4, 1, 0, 4, 3])]),
  c("gather from a 1-D table", "gather", NONE, () => [rnd([5]), i32([3], [4, 4, 0])]),
  c("scatter_add (repeated rows)", "scatter_add", { rows: 5 }, () => [rnd([4, 3]), i32([4], [2, 0, 2, 4])]),
  c("broadcast [3,1] -> [2,3,4]", "broadcast", { shape: [2, 3, 4] }, () => [rnd([3, 1])]),
  c("broadcast [] -> [2,3]", "broadcast", { shape: [2, 3] }, () => [rnd([])]),
  c("reshape", "reshape", { shape: [3, 4] }, () => [rnd([2, 6])]),
  c("transpose [2,0,1]", "transpose", { perm: [2, 0, 1] }, () => [rnd([2, 3, 4])]),
  c("transpose [1,0]", "transpose", { perm: [1, 0] }, () => [rnd([3, 5])]),
  c("slice", "slice", { starts: [1, 0], ends: [3, 4] }, () => [rnd([4, 5])]),
  c("pad", "pad", { before: [1, 0], after: [2, 1] }, () => [rnd([2, 3])]),
  c("concat axis 1", "concat", { axis: 1 }, () => [rnd([2, 3]), rnd([2, 1]), rnd([2, 2])]),
  c("concat axis 0", "concat", { axis: 0 }, () => [rnd([1, 3]), rnd([2, 3])]),
  c("concat axis -1", "concat", { axis: -1 }, () => [rnd([2, 2]), rnd([2, 3])]),
  c("matmul", "matmul", { transA: false, transB: false }, () => [rnd([2, 3]), rnd([3, 4])]),
  c("matmul Aᵀ", "matmul", { transA: true, transB: false }, () => [rnd([3, 2]), rnd([3, 4])]),
  c("matmul Bᵀ", "matmul", { transA: false, transB: true }, () => [rnd([2, 3]), rnd([4, 3])]),
  c("matmul AᵀBᵀ", "matmul", { transA: true, transB: true }, () => [rnd([3, 2]), rnd([4, 3])]),
];

/** Ops whose VJP is null by design; leaves/const/loops are covered elsewhere. */
const NO_GRAD: Prim[] = ["compare", "argmax", "one_hot", "random_uniform", "random_normal", "step_one_hot", "stop_gradient"];
const NOT_HERE: Prim[] = ["input", "param", "state", "scan_arg", "const", "scan", "tuple_get"];
/** Gradient-checked in test/conv.test.ts (max_pool2d_grad has no cotangent
 * for x, which the table's nonzero-projection rule would reject). */
const CONV_OPS: Prim[] = ["conv2d", "conv2d_filter_grad", "flip", "max_pool2d", "max_pool2d_grad"];

describe("VJP against central differences (f64, random projection)", () => {
  it("every primitive is covered by a gradient check or listed as having none", () => {
    const checked = new Set(GRAD_CASES.map((k) => k.op));
    const missing = (Object.keys(OPS) as Prim[]).filter((p) => !checked.has(p) && !NO_GRAD.includes(p) && !NOT_HERE.includes(p) && !CONV_OPS.includes(p));
    expect(missing).toEqual([]);
  });

  it.each(GRAD_CASES)("$name", ({ op, attrs, inputs }) => {
    const res = verifyOpGrad(op, attrs, inputs());
    for (const p of res.perInput) {
      if (p) expect(Math.abs(p.numeric), "a zero projection would prove nothing").toBeGreaterThan(1e-5);
    }
    expect(res.relErr).toBeLessThan(TOL);
  });

  // The same checker, tolerance and inputs reject plausible wrong rules.
  it.each([
    c("tanh with 1 - y instead of 1 - y²", "tanh", NONE, () => [rnd([5])]),
    c("div without the minus sign", "div", NONE, () => [rnd([3]), awayFromZero([3])]),
    c("mul with the operands swapped", "mul", NONE, () => [rnd([3]), rnd([3])]),
    c("transpose by perm instead of its inverse", "transpose", { perm: [2, 0, 1] }, () => [rnd([3, 3, 3])]),
  ])("rejects: $name", ({ name, op, attrs, inputs }) => {
    const wrong = (b: Builder, n: Node, ct: number): (number | null)[] => {
      const [x, y] = n.inputs as [number, number];
      if (name.startsWith("tanh")) return [b.mul(ct, b.sub(b.scalarLike(1, n.id), n.id))];
      if (name.startsWith("div")) return [b.div(ct, y), b.div(b.mul(ct, n.id), y)];
      if (name.startsWith("mul")) return [b.mul(ct, x), b.mul(ct, y)];
      return [b.transpose(ct, [2, 0, 1])];
    };
    const e = verifyOpGrad(op, attrs, inputs(), { vjp: wrong }).relErr;
    expect(e).toBeGreaterThan(1000 * TOL);
  });
});

// ---- second derivatives --------------------------------------------------------

// grad() in specs (and double backpropagation) differentiates VJPs: every
// op's VJP is built of ops that have VJPs themselves, so the reverse pass
// applied twice must agree with central differences of the first-order
// gradient (projected on random w), along a random direction of the
// operands and the cotangent together (compiler/gradcheck/verify-grad.ts).
describe("second derivatives: the VJP of every VJP against central differences (f64)", () => {
  it.each(GRAD_CASES)("$name", ({ op, attrs, inputs }) => {
    const res = verifyOpGrad2(op, attrs, inputs());
    expect(Math.abs(res.numeric), "a zero projection would prove nothing").toBeGreaterThan(1e-5);
    expect(res.relErr, `numeric ${res.numeric} vs derived ${res.analytic}`).toBeLessThan(TOL);
  });
});

// ---- ops without a gradient --------------------------------------------------

describe("no gradient where there is none", () => {
  it.each([
    { ...c("compare", "compare", { cmp: "lt" }, () => [rnd([3]), rnd([3])]), want: [null, null] },
    { ...c("argmax", "argmax", { axis: 1 }, () => [rnd([2, 3])]), want: [null] },
    { ...c("one_hot", "one_hot", { depth: 4 }, () => [i32([2], [1, 3])]), want: [null] },
    { ...c("stop_gradient", "stop_gradient", NONE, () => [rnd([3])]), want: [null] },
    { ...c("cast f64 -> i32", "cast", { to: "i32" }, () => [rnd([3])]), want: [null] },
    { ...c("cast f64 -> bool", "cast", { to: "bool" }, () => [rnd([3])]), want: [null] },
    { ...c("cast i32 -> f64", "cast", { to: "f64" }, () => [i32([3], [1, 2, 3])]), want: [null] },
    { ...c("select condition", "select", NONE, () => [bool([2], [1, 0]), rnd([2]), rnd([2])]), want: [null, "ct", "ct"] },
    { ...c("gather indices", "gather", NONE, () => [rnd([3, 2]), i32([2], [0, 2])]), want: ["ct", null] },
    { ...c("scatter_add indices", "scatter_add", { rows: 3 }, () => [rnd([2, 2]), i32([2], [0, 2])]), want: ["ct", null] },
  ])("$name", ({ op, attrs, inputs, want }) => {
    const b = new Builder();
    const ids = inputs().map((t, k) => b.leaf("input", `x${k}`, t.shape, t.dtype));
    const y = b.op(op, ids, attrs);
    const ct = b.leaf("input", "ct", b.shape(y), "f64");
    const rule = OPS[op].vjp as (b: Builder, n: Node, ct: number) => readonly (number | null)[];
    expect(rule(b, b.node(y), ct).map((g) => (g === null ? null : "ct"))).toEqual(want);
  });

  it("ops without operands (leaves, const, random) return no cotangents", () => {
    const b = new Builder();
    const ids = [
      b.leaf("input", "a", [2], "f64"),
      b.leaf("param", "w", [2], "f64"),
      b.leaf("state", "s", [2], "f64"),
      b.scanArg(0, [2], "f64"),
      b.constant(1, [2], "f64"),
      b.randomUniform([2], "f64", 1),
      b.randomNormal([2], "f64", 2),
    ];
    for (const id of ids) {
      const rule = OPS[b.node(id).op].vjp as (b: Builder, n: Node, ct: number) => readonly (number | null)[];
      expect(rule(b, b.node(id), id)).toEqual([]);
    }
  });
});

// ---- reference evaluation ----------------------------------------------------

interface RefCase extends Case {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly want: readonly number[];
}
const r = <P extends Prim>(name: string, op: P, attrs: PrimAttrs[P], inputs: Tensor[], shape: Shape, want: number[], dtype: DType = "f64"): RefCase => ({
  ...c(name, op, attrs, () => inputs),
  shape,
  dtype,
  want,
});
const E = Math.E;

const REF_CASES: RefCase[] = [
  r("add", "add", NONE, [f64([2], [1, 2]), f64([2], [3, 4])], [2], [4, 6]),
  r("sub", "sub", NONE, [f64([2], [5, 1]), f64([2], [2, 3])], [2], [3, -2]),
  r("mul", "mul", NONE, [f64([2], [2, 3]), f64([2], [4, -1])], [2], [8, -3]),
  r("div", "div", NONE, [f64([3], [1, 3, 1]), f64([3], [2, -4, 0])], [3], [0.5, -0.75, Infinity]),
  r("maximum", "maximum", NONE, [f64([3], [1, 5, -2]), f64([3], [3, 2, -2])], [3], [3, 5, -2]),
  r("maximum of i32", "maximum", NONE, [i32([2], [-4, 7]), i32([2], [-5, 9])], [2], [-4, 9], "i32"),
  r("minimum", "minimum", NONE, [f64([3], [1, 5, -2]), f64([3], [3, 2, -2])], [3], [1, 2, -2]),
  r("pow", "pow", NONE, [f64([4], [2, 9, 4, 0]), f64([4], [3, 0.5, -1, 2])], [4], [8, 3, 0.25, 0]),
  r("neg", "neg", NONE, [f64([2], [1, -2])], [2], [-1, 2]),
  r("exp", "exp", NONE, [f64([2], [0, 1])], [2], [1, E]),
  r("log", "log", NONE, [f64([3], [1, E, 0])], [3], [0, 1, -Infinity]),
  r("tanh", "tanh", NONE, [f64([3], [0, 1000, -1000])], [3], [0, 1, -1]),
  r("sigmoid (saturates without overflow)", "sigmoid", NONE, [f64([4], [0, 1000, -1000, Math.log(3)])], [4], [0.5, 1, 0, 0.75]),
  r("softplus (stable at both ends)", "softplus", NONE, [f64([3], [0, 1000, -1000])], [3], [Math.LN2, 1000, 0]),
  r("abs", "abs", NONE, [f64([3], [-2, 3, 0])], [3], [2, 3, 0]),
  r("sqrt", "sqrt", NONE, [f64([2], [4, 2.25])], [2], [2, 1.5]),
  r("compare lt", "compare", { cmp: "lt" }, [f64([3], [1, 2, 3]), f64([3], [2, 2, 2])], [3], [1, 0, 0], "bool"),
  r("compare le", "compare", { cmp: "le" }, [f64([3], [1, 2, 3]), f64([3], [2, 2, 2])], [3], [1, 1, 0], "bool"),
  r("compare gt", "compare", { cmp: "gt" }, [f64([3], [1, 2, 3]), f64([3], [2, 2, 2])], [3], [0, 0, 1], "bool"),
  r("compare ge", "compare", { cmp: "ge" }, [f64([3], [1, 2, 3]), f64([3], [2, 2, 2])], [3], [0, 1, 1], "bool"),
  r("compare eq", "compare", { cmp: "eq" }, [f64([3], [1, 2, 3]), f64([3], [2, 2, 2])], [3], [0, 1, 0], "bool"),
  r("compare ne", "compare", { cmp: "ne" }, [f64([3], [1, 2, NaN]), f64([3], [2, 2, NaN])], [3], [1, 0, 1], "bool"),
  r("select", "select", NONE, [bool([3], [1, 0, 1]), f64([3], [1, 2, 3]), f64([3], [4, 5, 6])], [3], [1, 5, 3]),
  r("cast to i32 truncates", "cast", { to: "i32" }, [f64([3], [1.7, -1.7, 2])], [3], [1, -1, 2], "i32"),
  r("cast to bool", "cast", { to: "bool" }, [f64([3], [0, 0.5, -2])], [3], [0, 1, 1], "bool"),
  r("cast bool to f32", "cast", { to: "f32" }, [bool([2], [1, 0])], [2], [1, 0], "f32"),
  r("stop_gradient", "stop_gradient", NONE, [f64([2], [3, -1])], [2], [3, -1]),
  r("reduce_sum", "reduce_sum", { axes: [1] }, [f64([2, 3], [1, 2, 3, 4, 5, 6])], [2], [6, 15]),
  r("reduce_max", "reduce_max", { axes: [0] }, [f64([2, 3], [1, 5, 3, 4, 2, 6])], [3], [4, 5, 6]),
  r("reduce_max of negative i32", "reduce_max", { axes: [0] }, [i32([2], [-5, -3])], [], [-3], "i32"),
  r("argmax (first of a tie)", "argmax", { axis: 1 }, [f64([2, 3], [1, 3, 3, 7, 0, 2])], [2], [1, 0], "i32"),
  r("argmax axis 0", "argmax", { axis: 0 }, [f64([2, 3], [1, 3, 3, 7, 0, 2])], [3], [1, 0, 0], "i32"),
  r("one_hot (out of range: zero row)", "one_hot", { depth: 3 }, [i32([3], [2, 0, 5])], [3, 3], [0, 0, 1, 1, 0, 0, 0, 0, 0], "f32"),
  r("gather", "gather", NONE, [f64([3, 2], [1, 2, 3, 4, 5, 6]), i32([3], [2, 0, 2])], [3, 2], [5, 6, 1, 2, 5, 6]),
  r("gather 2-D indices", "gather", NONE, [f64([3, 1], [1, 2, 3]), i32([2, 2], [2, 0, 1, 1])], [2, 2, 1], [3, 1, 2, 2]),
  r("scatter_add", "scatter_add", { rows: 3 }, [f64([3, 2], [1, 1, 2, 2, 3, 3]), i32([3], [2, 0, 2])], [3, 2], [2, 2, 0, 0, 4, 4]),
  r("broadcast [3] -> [2,3]", "broadcast", { shape: [2, 3] }, [f64([3], [1, 2, 3])], [2, 3], [1, 2, 3, 1, 2, 3]),
  r("broadcast [2,1] -> [2,3]", "broadcast", { shape: [2, 3] }, [f64([2, 1], [1, 2])], [2, 3], [1, 1, 1, 2, 2, 2]),
  r("broadcast [] -> [2]", "broadcast", { shape: [2] }, [f64([], [7])], [2], [7, 7]),
  r("reshape", "reshape", { shape: [3, 2] }, [f64([2, 3], [1, 2, 3, 4, 5, 6])], [3, 2], [1, 2, 3, 4, 5, 6]),
  r("transpose", "transpose", { perm: [1, 0] }, [f64([2, 3], [1, 2, 3, 4, 5, 6])], [3, 2], [1, 4, 2, 5, 3, 6]),
  r("transpose 3-D", "transpose", { perm: [2, 0, 1] }, [f64([1, 2, 2], [1, 2, 3, 4])], [2, 1, 2], [1, 3, 2, 4]),
  r("slice", "slice", { starts: [0, 1], ends: [2, 3] }, [f64([2, 3], [1, 2, 3, 4, 5, 6])], [2, 2], [2, 3, 5, 6]),
  r("pad", "pad", { before: [1, 0], after: [0, 1] }, [f64([1, 2], [1, 2])], [2, 3], [0, 0, 0, 1, 2, 0]),
  r("concat axis 1", "concat", { axis: 1 }, [f64([2, 1], [1, 2]), f64([2, 2], [3, 4, 5, 6])], [2, 3], [1, 3, 4, 2, 5, 6]),
  r("concat axis 0", "concat", { axis: 0 }, [f64([1, 2], [1, 2]), f64([2, 2], [3, 4, 5, 6])], [3, 2], [1, 2, 3, 4, 5, 6]),
  r("matmul", "matmul", { transA: false, transB: false }, [f64([2, 2], [1, 2, 3, 4]), f64([2, 1], [5, 6])], [2, 1], [17, 39]),
];

describe("reference evaluation", () => {
  it.each(REF_CASES)("$name", ({ op, attrs, inputs, shape, dtype, want }) => {
    const y = evalOp(op, attrs, inputs());
    expect(y.shape).toEqual(shape);
    expect(y.dtype).toBe(dtype);
    [...y.data].forEach((v, i) => {
      if (Number.isFinite(want[i]!)) expect(v).toBeCloseTo(want[i]!, 12);
      else expect(v).toBe(want[i]);
    });
  });

  it("sigmoid and softplus keep tiny results instead of flushing them to 0", () => {
    const s = evalOp("sigmoid", NONE, [f64([2], [-740, -50])]).data;
    expect(s[0]).toBeGreaterThan(0); // 1/(1+e^740) would be 1/Infinity = 0
    expect(s[1]! / Math.exp(-50)).toBeCloseTo(1, 12);
    const p = evalOp("softplus", NONE, [f64([2], [-50, 50])]).data;
    expect(p[0]! / Math.exp(-50)).toBeCloseTo(1, 12); // log(1 + e^-50) would be 0
    expect(p[1]).toBe(50);
  });

  it("leaves read the evaluation context; const fills its node's shape", () => {
    const b = new Builder();
    const ids = [
      b.leaf("input", "a", [2], "f64"),
      b.leaf("param", "a", [2], "f64"),
      b.leaf("state", "a", [2], "f64"),
      b.scanArg(1, [2], "f64"),
      b.constant(-2.5, [2, 2], "f64"),
    ];
    const t = (v: number) => f64([2], [v, v]);
    const vals = interpret(b.graph, { input: new Map([["a", t(1)]]), param: new Map([["a", t(2)]]), state: new Map([["a", t(3)]]) }, { args: [t(4), t(5)] });
    expect(ids.map((id) => [...(vals[id] as Tensor).data])).toEqual([[1, 1], [2, 2], [3, 3], [5, 5], [-2.5, -2.5, -2.5, -2.5]]);
  });

  it("random ops draw element i from Philox with the context's seed, step and iteration", () => {
    const b = new Builder();
    const u = b.randomUniform([3, 5], "f32", 11);
    const z = b.randomNormal([7], "f64", 12);
    const vals = interpret(b.graph, {}, { seed: 99, step: 4, iter: 2 });
    expect([...(vals[u] as Tensor).data]).toEqual(Array.from({ length: 15 }, (_, i) => uniform(99, 11, 4, 2, i)));
    expect([...(vals[z] as Tensor).data]).toEqual(Array.from({ length: 7 }, (_, i) => normal(99, 12, 4, 2, i)));
    expect(b.shape(u)).toEqual([3, 5]);
    expect(b.dtype(u)).toBe("f32");
    expect(() => b.randomUniform([2], "i32", 1)).toThrow(IRError);
  });
});

// ---- shape rules ---------------------------------------------------------------

describe("shape rules reject operands that do not fit", () => {
  const leaf = (b: Builder, shape: Shape, dtype: DType = "f64") => b.leaf("input", `x${b.graph.nodes.length}`, shape, dtype);
  it.each<[string, (b: Builder) => unknown]>([
    ["add of different shapes", (b) => b.op("add", [leaf(b, [2]), leaf(b, [3])], NONE)],
    ["log of i32", (b) => b.op("log", [leaf(b, [2], "i32")], NONE)],
    ["select with branches of different dtypes", (b) => b.op("select", [leaf(b, [2], "bool"), leaf(b, [2]), leaf(b, [2], "f32")], NONE)],
    ["broadcast [2] -> [3]", (b) => b.op("broadcast", [leaf(b, [2])], { shape: [3] })],
    ["broadcast to a lower rank", (b) => b.op("broadcast", [leaf(b, [1, 2])], { shape: [2] })],
    ["reshape changing the size", (b) => b.op("reshape", [leaf(b, [2, 3])], { shape: [4] })],
    ["transpose by a non-permutation", (b) => b.op("transpose", [leaf(b, [2, 3])], { perm: [0, 0] })],
    ["slice past the end", (b) => b.op("slice", [leaf(b, [2, 3])], { starts: [0, 1], ends: [2, 4] })],
    ["pad with a negative width", (b) => b.op("pad", [leaf(b, [2])], { before: [-1], after: [0] })],
    ["concat of mismatched dims", (b) => b.op("concat", [leaf(b, [2, 3]), leaf(b, [3, 3])], { axis: 1 })],
    ["argmax axis out of range", (b) => b.op("argmax", [leaf(b, [2, 3])], { axis: 2 })],
    ["one_hot of floats", (b) => b.op("one_hot", [leaf(b, [2])], { depth: 3 })],
    ["gather with float indices", (b) => b.op("gather", [leaf(b, [3, 2]), leaf(b, [2])], NONE)],
    ["scatter_add with mismatched index shape", (b) => b.op("scatter_add", [leaf(b, [3, 2]), leaf(b, [2], "i32")], { rows: 4 })],
    ["reduce over a missing axis", (b) => b.op("reduce_max", [leaf(b, [2])], { axes: [1] })],
    ["a leaf through infer()", (b) => b.op("param", [], { name: "w" })],
    ["a random op through infer()", (b) => b.op("random_normal", [], { salt: 1 })],
  ])("%s", (_name, build) => {
    expect(() => build(new Builder())).toThrow(IRError);
  });
});
