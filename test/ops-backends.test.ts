// Every op on every backend it has, against the f64 reference `evaluate`,
// from one table of cases (the harness: test/setup/op-backends.ts). A case
// is an op with attributes and inputs, or a small graph (chains of
// elementwise ops, leaf-free ops); it runs on each backend of BACKENDS that
// has code for all of its ops — the TypeScript emitter in f64 and in f32
// (with the WebAssembly kernels it calls), the wasm SIMD expressions, and
// WGSL on Dawn — unless NOT_APPLICABLE (per op) or the case's `skip` (per
// case) says why not. The last describe checks that the table covers every
// op of the registry on every backend, from the table alone (no state
// shared between tests: any test may run alone).
//
// Special values (NaN, ±Infinity, overflow) are checked against JS
// semantics; WGSL calls some of them indeterminate, so those checks pin what
// the emitters rely on, as llvmpipe computes it.

import { describe, expect, it } from "vitest";
import { Builder } from "../compiler/ir/builder.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import type { Tensor } from "../compiler/ir/tensor.ts";
import { type Node, type Prim, type Shape } from "../compiler/ir/types.ts";
import type { ScalarCtx } from "../compiler/ops/op.ts";
import { matmulTile } from "../compiler/ops/matmul.ts";
import { OPS } from "../compiler/ops/registry.ts";
import { WGSL_LOOP_BUDGET, wgslLoopTrips } from "../compiler/ops/wgsl-loops.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";
import { BACKENDS, type Backend, checkCase, type Float, graph, NOT_APPLICABLE, type OpCase, op, prepare, type Tolerance, whyNot } from "./setup/op-backends.ts";
import { tieWindows } from "./setup/pool-ties.ts";
import { bool, f64, type Gen, i32, SPECIAL, zeroed } from "./setup/tensors.ts";

const NONE = {} as Record<string, never>;
/** A sum of `terms` f32 products: the rounding bound relative to Σ|a||b|. */
const sumOf = (terms: number): Tolerance => ({ rel: 2e-7 * (terms + 1), abs: 1e-6, scale: "magnitude" });
const N = 131; // three workgroups of 64, the last one partial

// ---- elementwise ----------------------------------------------------------------

/** Values from −800 to 800, signed zeros included (ops.test.ts's range). */
const WIDE = [-800, -30, -1.5, -0, 0, 0.3, 1, 2.5, 30, 800];
const BX = [-3, -1, 0, 0.5, 2, 2, 7];
const BY = [2, -1, 0.25, 0.5, -3, 2, 0];
const BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow"] as const;
const UNARY = ["neg", "exp", "log", "tanh", "sigmoid", "softplus", "abs", "sqrt"] as const;
const CMPS = ["lt", "le", "gt", "ge", "eq", "ne"] as const;
/** Every pair of special values. */
const SA = SPECIAL.flatMap((x) => SPECIAL.map(() => x));
const SB = SPECIAL.flatMap(() => SPECIAL);

const ELEMENTWISE: OpCase[] = [
  ...BINARY.map((p) => op(`${p} of mixed signs and zeros`, p, NONE, () => [f64([BX.length], BX), f64([BY.length], BY)])),
  ...BINARY.filter((p) => p !== "pow").flatMap((p) => [
    op(`${p} f32`, p, NONE, (g) => [g.normal([N], 3), g.normal([N], 3)]),
    op(`${p} special`, p, NONE, () => [f64([SA.length], SA), f64([SB.length], SB)]),
  ]),
  ...(["add", "sub", "mul", "maximum", "minimum"] as const).map((p) => op(`${p} i32 (wrapping like an Int32Array store)`, p, NONE, (g) => [g.ints([N], -100000, 100000), g.ints([N], -30000, 30000)])),
  op("add i32 overflow", "add", NONE, () => [i32([2], [2147483647, -2147483648]), i32([2], [1, -1])]),
  ...UNARY.flatMap((p) => [
    op(`${p} from -800 to 800`, p, NONE, () => [f64([WIDE.length], WIDE)]),
    op(`${p}`, p, NONE, (g) => [p === "log" || p === "sqrt" ? g.uniform([N], 1e-3, 30) : g.normal([N], p === "exp" ? 5 : 4)]),
    op(`${p} special`, p, NONE, () => [f64([SPECIAL.length], SPECIAL)]),
  ]),
  ...(["neg", "abs"] as const).map((p) => op(`${p} i32`, p, NONE, () => [i32([5], [0, 1, -7, 2147483647, -2147483647])])),
  op("pow positive base", "pow", NONE, (g) => [g.uniform([N], 0.1, 4), g.normal([N], 2)]),
  (() => {
    // Math.pow on negative bases, zero exponents and zero bases.
    const base = [-2, -2, -2, -2, -0.5, -0.5, -3, -3, -1.5, -1, -1, -2, 0, 0, 0, 2, NaN, NaN, 1, 4, -8, -Infinity, -Infinity, 0, 0, 0, 2, 0.5, 2, 0.5, Infinity, Infinity, 3, -3];
    const expo = [3, 2, -3, -2, 3, 0.5, 0, 1, 2.5, Infinity, -Infinity, 31, 2, -1, 0, 0, 0, 2, 5, 0.5, 1 / 3, 3, 2, -2, Infinity, -Infinity, Infinity, Infinity, -Infinity, -Infinity, 2, -1, NaN, NaN];
    return op("pow special", "pow", NONE, () => [f64([base.length], base), f64([expo.length], expo)]);
  })(),
  ...CMPS.flatMap((cmp) => [
    op(`compare ${cmp} of mixed signs and zeros`, "compare", { cmp }, () => [f64([BX.length], BX), f64([BY.length], BY)]),
    op(`compare ${cmp} f32 with NaN`, "compare", { cmp }, () => [
      f64([12], [1, 2, 3, -1, 0, -0, NaN, NaN, Infinity, -Infinity, 5, 2]),
      f64([12], [2, 2, 1, -1, -0, 0, 1, NaN, Infinity, 3, NaN, 2.5]),
    ]),
    op(`compare ${cmp} i32`, "compare", { cmp }, (g) => [g.ints([N], -3, 3), g.ints([N], -3, 3)]),
    op(`compare ${cmp} bool`, "compare", { cmp }, (g) => [g.bools([16]), g.bools([16])]),
  ]),
  op("select", "select", NONE, () => [bool([4], [1, 0, 1, 0]), f64([4], [1, 2, 3, 4]), f64([4], [-1, -2, -3, -4])]),
  op("select f32", "select", NONE, (g) => [g.bools([N]), g.normal([N]), g.normal([N])]),
  op("select i32", "select", NONE, (g) => [g.bools([N]), g.ints([N], -9, 9), g.ints([N], -9, 9)]),
  op("select bool", "select", NONE, (g) => [g.bools([N]), g.bools([N]), g.bools([N])]),
  // NaN/Inf in the unchosen branch never leaks.
  op("select special", "select", NONE, () => [bool([3], [1, 0, 1]), f64([3], [1, NaN, 2]), f64([3], [Infinity, 3, NaN])]),
  op("cast to i32 truncates toward zero", "cast", { to: "i32" }, () => [f64([5], [1.7, -1.7, 0, 2e9, -0.5])]),
  op("cast float -> i32 (toward zero)", "cast", { to: "i32" }, () => [f64([15], [2.7, -2.7, 0.5, -0.5, 0, -0, 1, -1, 1e9, -1e9, 123456.8, 3, 16777217, -2147483520, NaN])]),
  op("cast to bool", "cast", { to: "bool" }, () => [f64([4], [0, -0, 0.1, -3])]),
  op("cast float -> bool", "cast", { to: "bool" }, () => [f64([7], [0, -0, 0.5, -3, Infinity, NaN, 1e-30])]),
  op("cast i32 -> float", "cast", (f) => ({ to: f }), () => [i32([5], [0, -7, 2147483647, -2147483648, 16777217])]),
  op("cast i32 -> f32", "cast", { to: "f32" }, () => [i32([2], [3, -4])]),
  op("cast i32 -> bool", "cast", { to: "bool" }, () => [i32([4], [0, -7, 1, -2147483648])]),
  op("cast bool -> float", "cast", (f) => ({ to: f }), (g) => [g.bools([N])]),
  op("cast bool -> i32", "cast", { to: "i32" }, (g) => [g.bools([N])]),
  op("cast float -> float (the other float type)", "cast", (f) => ({ to: f === "f32" ? "f64" : "f32" }), (g) => [g.normal([6])], {
    skip: { ts: "an f64 value in an f32 model", wgsl: "WGSL has no f64" },
  }),
];

/** Literals, including values no WGSL literal spells (±Infinity, NaN) and
 * f32 overflow, at shapes [] and [N]. */
const CONST_FLOATS = [0.01, 2, -0.05, 1e-4, 0, -0, 1 / 3, 0.1, 123456789, 3.4028234663852886e38, -3.4028234663852886e38, 3.4028235e38, 1e300, 1e-45, 1e-50, Infinity, -Infinity, NaN, 6.02e23, -1e-7, 1, -1, -2.5, 1e-7, 1e21, 123456789.125];
const CONSTANTS: OpCase[] = [
  ...CONST_FLOATS.flatMap((v) => ([[], [N]] as Shape[]).map((shape) => graph(`const float ${Object.is(v, -0) ? "-0" : v} ${JSON.stringify(shape)}`, "const", () => [], (b, _xs, f) => b.constant(v, shape, f)))),
  ...[3, -7, 0, 2147483647, -2147483648, 2.9, -2.9].map((v) => graph(`const i32 ${v}`, "const", () => [], (b) => b.constant(v, [5], "i32"))),
  ...[0, 1].map((v) => graph(`const bool ${v}`, "const", () => [], (b) => b.constant(v, [5], "bool"))),
];

const CHAINS: OpCase[] = [
  graph("float chain (precedence, mixed dtypes, constants inline)", "mul", (g) => [g.normal([N], 2), g.normal([N], 2)], (b, [x, z], f) => {
    const t = b.add(b.unary("softplus", b.sub(b.mul(x!, b.constant(-0.5, [N], f)), b.neg(z!))), b.select(b.compare("gt", x!, z!), b.unary("exp", x!), b.unary("tanh", z!)));
    const u = b.mul(b.cast(b.compare("le", b.unary("abs", x!), b.constant(1, [N], f)), f), b.div(t, b.add(b.unary("sqrt", b.unary("abs", z!)), b.constant(1, [N], f))));
    return b.sub(b.pow(b.unary("sigmoid", u), b.constant(2, [N], f)), b.neg(b.neg(x!)));
  }),
  graph("i32 chain", "cast", (g) => [g.ints([N], -50, 50), g.ints([N], -50, 50)], (b, [x, y], f) => {
    const m = b.maximum(b.minimum(b.sub(x!, b.neg(y!)), b.constant(30, [N], "i32")), b.unary("abs", b.mul(x!, b.constant(-2, [N], "i32"))));
    return b.cast(b.add(m, b.cast(b.compare("ne", x!, y!), "i32")), f);
  }),
  // maximum/minimum against ±Infinity constants (relu-like clamps).
  graph("clamp by infinities", "add", () => [f64([SPECIAL.length], SPECIAL)], (b, [x], f) => {
    const n = SPECIAL.length;
    const y = b.minimum(b.maximum(x!, b.constant(-Infinity, [n], f)), b.constant(Infinity, [n], f));
    return b.add(y, b.constant(0, [n], f));
  }),
  // The SIMD forms in one loop: constants splatted, transcendentals chained.
  graph("a wasm-able chain (tanh(x·w + b)·0.5, sigmoid, exp, sqrt|x|)", "add", (g) => [g.normal([37], 2), g.normal([37], 2)], (b, [x, w], f) => {
    const h = b.mul(b.unary("tanh", b.add(b.mul(x!, w!), b.constant(0.25, [37], f))), b.constant(0.5, [37], f));
    return b.add(b.sub(b.unary("sigmoid", h), b.unary("exp", b.neg(b.unary("abs", w!)))), b.maximum(b.minimum(b.unary("sqrt", b.unary("abs", x!)), h), b.div(x!, b.constant(3, [37], f))));
  }),
];

const COUNTERS: OpCase[] = [
  ...[5, 3, 1, 7].map((depth) => graph(`step_one_hot depth ${depth} (1 at step mod depth)`, "step_one_hot", () => [], (b, _xs, f) => b.stepOneHot(depth, f))),
  ...[5, 0xfffffffe, 11].map((salt) => graph(`random_uniform salt ${salt}`, "random_uniform", () => [], (b, _xs, f) => b.randomUniform([64, 33], f, salt))),
  graph("random_uniform of 3×5", "random_uniform", () => [], (b, _xs, f) => b.randomUniform([3, 5], f, 11)),
  ...[9, 12].map((salt) => graph(`random_normal salt ${salt}`, "random_normal", () => [], (b, _xs, f) => b.randomNormal([64, 33], f, salt), {
    // WGSL computes Box-Muller in f32 (docs/webgpu.md): within 1e-5 of the f64 value.
    tol: { wgsl: { rel: 0, abs: 1e-5 } },
  })),
];

// ---- kernels -----------------------------------------------------------------------

const AXES = [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]];

const REDUCTIONS: OpCase[] = [
  ...AXES.flatMap((axes) => [
    op(`reduce_sum ${axes}`, "reduce_sum", { axes }, (g) => [g.normal([3, 5, 7])]),
    op(`reduce_sum i32 ${axes}`, "reduce_sum", { axes }, (g) => [g.ints([3, 5, 7], -1000, 1000)]),
  ]),
  op("reduce_sum [0,2] of [2,3,4]", "reduce_sum", { axes: [0, 2] }, (g) => [g.normal([2, 3, 4])]),
  // A bias gradient's sums (the CPU's sumAround kernel): over the batch of
  // [N, D] with a ragged D, and over the batch and the map of [N, C, H, W].
  op("reduce_sum a batch of rows [0] of [7, 13]", "reduce_sum", { axes: [0] }, (g) => [g.normal([7, 13])]),
  op("reduce_sum a conv bias gradient [0,2,3] of [3,4,5,7]", "reduce_sum", { axes: [0, 2, 3] }, (g) => [g.normal([3, 4, 5, 7])]),
  op("reduce_sum [0,1,3] of [2,3,4,6]", "reduce_sum", { axes: [0, 1, 3] }, (g) => [g.normal([2, 3, 4, 6])]),
  op("reduce_sum to scalar", "reduce_sum", { axes: [0] }, (g) => [g.normal([5])]),
  op("reduce_sum over a size-1 axis", "reduce_sum", { axes: [1] }, (g) => [g.normal([4, 1, 6])]),
  op("reduce_sum around a size-1 axis", "reduce_sum", { axes: [0, 2] }, (g) => [g.normal([4, 1, 6])]),
  op("reduce_sum long rows", "reduce_sum", { axes: [1] }, (g) => [g.uniform([3, 2000], 0, 1)]),
  op("reduce_sum bool counts", "reduce_sum", { axes: [0] }, (g) => [g.bools([9, 4])]),
  ...[[0], [1], [2], [0, 2], [0, 1, 2]].flatMap((axes) => [
    op(`reduce_max negatives ${axes}`, "reduce_max", { axes }, (g) => [g.uniform([3, 5, 7], -9, -1)]),
    op(`reduce_max i32 ${axes}`, "reduce_max", { axes }, (g) => [g.ints([3, 5, 7], -2000000000, -1000000000)]),
  ]),
  op("reduce_max [1]", "reduce_max", { axes: [1] }, (g) => [g.normal([3, 4])]),
  op("reduce_max [0,2]", "reduce_max", { axes: [0, 2] }, (g) => [g.normal([2, 3, 4])]),
  op("reduce_max of negative i32", "reduce_max", { axes: [1] }, () => [i32([2, 2], [-5, -3, -9, -8])]),
  op("reduce_max NaN rows", "reduce_max", { axes: [1] }, () => [f64([3, 4], [1, NaN, 3, 2, NaN, 0, 0, 0, -Infinity, -Infinity, -5, -Infinity])]),
  op("reduce_max NaN columns", "reduce_max", { axes: [0] }, () => [f64([3, 4], [1, NaN, 3, 2, NaN, 0, 0, 0, -Infinity, -Infinity, -5, -Infinity])]),
  // Rows of 6: four lanes and a tail of two (the wasm kernel's max_rows), a NaN and zeros of both signs in each part.
  op("reduce_max zeros and NaN in lanes and tail", "reduce_max", { axes: [1] }, () => [f64([3, 6], [-0, -1, -2, -3, 0, -4, -5, -6, -7, -8, -0, NaN, -0, NaN, -1, -1, -2, -3])]),
  ...[0, 1, 2, -1].flatMap((axis) => [
    op(`argmax ties axis ${axis}`, "argmax", { axis }, (g) => [f64([3, 5, 7], g.fill([3, 5, 7], () => Math.floor(g.rand() * 3)))]),
    op(`argmax axis ${axis}`, "argmax", { axis }, (g) => [g.normal([3, 5, 7])]),
  ]),
  op("argmax axis 1 of [3,4,2]", "argmax", { axis: 1 }, (g) => [g.normal([3, 4, 2])]),
  op("argmax axis -1 of [3,4]", "argmax", { axis: -1 }, (g) => [g.normal([3, 4])]),
  op("argmax NaN (a NaN first is never beaten, a later NaN never wins)", "argmax", { axis: 1 }, () => [f64([3, 3], [NaN, 1, 2, 1, NaN, 0, 1, NaN, 2])]),
  op("argmax i32 to scalar", "argmax", { axis: 0 }, (g) => [g.ints([9], -5, 5)]),
];

const INDEXING: OpCase[] = [
  op("one_hot", "one_hot", { depth: 4 }, () => [i32([2, 3], [0, 3, 1, -1, 4, 2])]),
  op("one_hot: out-of-range labels give zero rows", "one_hot", { depth: 5 }, () => [i32([9], [0, 4, 2, -1, 5, 7, 3, 3, -2147483648])]),
  op("one_hot 2-D", "one_hot", { depth: 10 }, (g) => [g.ints([3, 7], -1, 11)]),
  op("one_hot depth 1", "one_hot", { depth: 1 }, () => [i32([4], [0, 1, -1, 0])]),
  op("gather", "gather", NONE, (g) => [g.normal([5, 3]), i32([2, 2], [4, 0, 4, 2])]),
  op("gather 3-D table", "gather", NONE, (g) => [g.normal([6, 3, 2]), i32([2, 4], [0, 5, 2, 5, 1, 0, 5, 3])]),
  op("gather 1-D table", "gather", NONE, (g) => [g.normal([5]), i32([7], [4, 4, 0, 1, 3, 2, 0])]),
  op("gather i32 table", "gather", NONE, (g) => [g.ints([7, 5], -9, 9), g.ints([11], 0, 7)]),
  op("scatter_add", "scatter_add", { rows: 4 }, (g) => [g.normal([3, 2, 2]), i32([3], [3, 0, 3])]),
  op("scatter_add sums repeated rows, leaves unused rows zero", "scatter_add", { rows: 6 }, (g) => [g.normal([2, 4, 3]), i32([2, 4], [0, 5, 2, 5, 1, 0, 5, 2])]),
  op("scatter_add 1-D", "scatter_add", { rows: 4 }, (g) => [g.normal([9]), i32([9], [3, 3, 0, 1, 3, 0, 1, 1, 3])]),
  op("scatter_add many", "scatter_add", { rows: 40 }, (g) => [g.normal([100, 5]), g.ints([100], 0, 40)]),
  op("scatter_add i32", "scatter_add", { rows: 3 }, (g) => [g.ints([5, 2], -9, 9), i32([5], [2, 2, 0, 2, 0])]),
];

const LAYOUT: OpCase[] = [
  ...([[[3, 1], [2, 3, 4]], [[3, 1], [2, 3, 5]], [[], [3]], [[], [4]], [[1, 5], [3, 5]], [[4, 1, 6], [2, 4, 7, 6]], [[5], [3, 5]], [[2, 1, 1], [2, 3, 4]], [[1], [1]]] as [Shape, Shape][]).map(([from, to]) =>
    op(`broadcast ${JSON.stringify(from)} -> ${JSON.stringify(to)}`, "broadcast", { shape: to }, (g) => [g.normal(from)]),
  ),
  op("broadcast bool [2] -> [2,2]", "broadcast", { shape: [2, 2] }, () => [bool([2], [1, 0])]),
  op("broadcast bool [4] -> [3,4]", "broadcast", { shape: [3, 4] }, (g) => [g.bools([4])]),
  op("broadcast i32", "broadcast", { shape: [4, 3] }, (g) => [g.ints([4, 1], -9, 9)]),
  ...([[[2, 3, 4], [2, 0, 1]], [[3, 5, 7], [2, 0, 1]], [[3, 5, 7], [1, 0, 2]], [[3, 5, 7], [0, 2, 1]], [[3, 5, 7], [0, 1, 2]], [[2, 3], [1, 0]], [[1, 4, 1, 3], [3, 2, 1, 0]], [[2, 3, 4, 5], [1, 3, 0, 2]]] as [Shape, number[]][]).map(([shape, perm]) =>
    op(`transpose ${JSON.stringify(shape)} by ${perm}`, "transpose", { perm }, (g) => [g.normal(shape)]),
  ),
  op("transpose i32", "transpose", { perm: [1, 0] }, (g) => [g.ints([5, 3], -9, 9)]),
  // The wasm block moves (compiler/emit/wasm/layout.ts) and the index loops.
  op("transpose [1, 0, 2, 3] (block copies)", "transpose", { perm: [1, 0, 2, 3] }, (g) => [g.normal([3, 5, 4, 6])], { code: { ts: /K\.swap01Blocks\(/ }, tol: { ts: "bitwise" } }),
  op("transpose [1, 0] (blocks of 1)", "transpose", { perm: [1, 0] }, (g) => [g.normal([7, 3])], { code: { ts: /K\.swap01Blocks\(/ }, tol: { ts: "bitwise" } }),
  op("transpose [0, 2, 1, 3] (index loops)", "transpose", { perm: [0, 2, 1, 3] }, (g) => [g.normal([2, 3, 4, 5])], { code: { ts: /^let /m }, tol: { ts: "bitwise" } }),
  op("transpose bool (index loops)", "transpose", { perm: [1, 0] }, (g) => [g.bools([3, 4])], { code: { ts: /^let /m } }),
  op("slice", "slice", { starts: [1, 1, 0], ends: [2, 3, 2] }, (g) => [g.normal([2, 3, 4])]),
  op("slice 3-D", "slice", { starts: [1, 2, 0], ends: [4, 7, 3] }, (g) => [g.normal([5, 7, 3])]),
  op("slice 1-D", "slice", { starts: [2], ends: [7] }, (g) => [g.normal([9])]),
  op("slice a column", "slice", { starts: [0, 1], ends: [4, 2] }, (g) => [g.ints([4, 5], -9, 9)]),
  op("slice everything", "slice", { starts: [0, 0], ends: [4, 5] }, (g) => [g.normal([4, 5])]),
  op("pad", "pad", { before: [1, 0, 2], after: [0, 2, 1] }, (g) => [g.normal([2, 3, 1])]),
  op("pad 2-D", "pad", { before: [1, 0], after: [2, 3] }, (g) => [g.normal([3, 4])]),
  op("pad 3-D", "pad", { before: [0, 1, 0], after: [0, 0, 2] }, (g) => [g.normal([2, 3, 4])]),
  op("pad i32", "pad", { before: [2], after: [0] }, (g) => [g.ints([5], -9, 9)]),
  op("pad an empty tensor", "pad", { before: [1, 0], after: [1, 0] }, () => [f64([0, 3], [])]),
  op("pad nothing (bool)", "pad", { before: [0, 0], after: [0, 0] }, (g) => [g.bools([2, 3])]),
  // Boxes the CPU path copies with copyRuns (outer × inner × a contiguous
  // run, runs of 1-13 floats: the vector loop and its tail), and one whose
  // four axes do not coalesce into three (index loops).
  op("slice 3-D box, runs of 5", "slice", { starts: [1, 1, 1], ends: [3, 4, 6] }, (g) => [g.normal([3, 4, 7])]),
  op("slice 4-D box (four axes apart)", "slice", { starts: [1, 1, 1, 1], ends: [3, 3, 3, 4] }, (g) => [g.normal([4, 4, 4, 5])]),
  op("slice the last column of a 4-D map", "slice", { starts: [0, 0, 0, 0], ends: [2, 3, 4, 4] }, (g) => [g.normal([2, 3, 4, 5])]),
  op("pad 3-D, runs of 6", "pad", { before: [1, 0, 1], after: [0, 1, 2] }, (g) => [g.normal([2, 3, 6])]),
  op("concat a row and a column's padding (4-D)", "concat", { axis: 3 }, (g) => [g.normal([2, 3, 13, 13]), g.normal([2, 3, 13, 1])]),
  op("concat axis 1 of 3-D", "concat", { axis: 1 }, (g) => [g.normal([2, 1, 3]), g.normal([2, 2, 3]), g.normal([2, 1, 3])]),
  op("concat axis 0", "concat", { axis: 0 }, (g) => [g.normal([1, 3]), g.normal([2, 3])]),
  op("concat axis 0 of three", "concat", { axis: 0 }, (g) => [g.normal([2, 3]), g.normal([4, 3]), g.normal([1, 3])]),
  op("concat axis 1", "concat", { axis: 1 }, (g) => [g.normal([2, 3]), g.normal([2, 1]), g.normal([2, 4])]),
  op("concat axis 1 of two 3-D", "concat", { axis: 1 }, (g) => [g.normal([2, 3, 4]), g.normal([2, 2, 4])]),
  op("concat i32 last axis", "concat", { axis: -1 }, (g) => [g.ints([2, 3, 2], -9, 9), g.ints([2, 3, 5], -9, 9)]),
  op("concat of one", "concat", { axis: 0 }, (g) => [g.normal([3, 2])]),
  op("concat with an empty operand", "concat", { axis: 1 }, (g) => [g.normal([2, 3]), f64([2, 0], []), g.normal([2, 2])]),
  graph("concat of one operand thrice", "concat", (g) => [g.normal([2, 3])], (b, [x]) => b.op("concat", [x!, x!, x!], { axis: 0 })),
  op("flip spatial", "flip", { axes: [2, 3] }, (g) => [g.normal([2, 3, 4, 5])]),
  op("flip [2,3] of [2,1,3,4]", "flip", { axes: [2, 3] }, (g) => [g.normal([2, 1, 3, 4])]),
  op("flip [0, 2]", "flip", { axes: [0, 2] }, (g) => [g.normal([3, 1, 4])]),
  op("flip [0]", "flip", { axes: [0] }, (g) => [g.normal([3, 1, 2])]),
  op("flip i32", "flip", { axes: [1] }, (g) => [g.ints([3, 4], -9, 9)]),
  op("flip [2, 3] of 5×5 (vector and scalar tail)", "flip", { axes: [2, 3] }, (g) => [g.normal([3, 4, 5, 5])], { code: { ts: /K\.reverseBlocks\(/ }, tol: { ts: "bitwise" } }),
  op("flip [1, 2, 3] (blocks of C·H·W)", "flip", { axes: [1, 2, 3] }, (g) => [g.normal([2, 3, 4, 4])], { code: { ts: /K\.reverseBlocks\(/ }, tol: { ts: "bitwise" } }),
  op("flip [2] over a size-1 axis 3", "flip", { axes: [2] }, (g) => [g.normal([2, 3, 9, 1])], { code: { ts: /K\.reverseBlocks\(/ }, tol: { ts: "bitwise" } }),
  op("flip [2] of 4-D (index loops)", "flip", { axes: [2] }, (g) => [g.normal([2, 3, 4, 5])], { code: { ts: /^let /m }, tol: { ts: "bitwise" } }),
];

/** Products at sizes off the 16×16 tile grid and off the SIMD kernels'
 * 4×8 blocks, every transpose combination. */
const MATMULS: OpCase[] = [
  ...([[2, 3, 4], [5, 7, 3], [33, 17, 19], [16, 16, 16], [1, 1, 1], [40, 3, 1], [1, 50, 35], [64, 100, 48]] as [number, number, number][]).flatMap(([m, k, n]) =>
    [false, true].flatMap((transA) =>
      [false, true].map((transB) =>
        op(`matmul ${m}x${k}x${n}${transA ? " Aᵀ" : ""}${transB ? " Bᵀ" : ""}`, "matmul", { transA, transB }, (g) => [g.normal(transA ? [k, m] : [m, k]), g.normal(transB ? [n, k] : [k, n])], {
          tol: { f32: sumOf(k) },
          code: { ts: transA && transB ? /K\.swap01Blocks\([^]*K\.gemm\(/ : /K\.gemm\(/ },
        }),
      ),
    ),
  ),
  // Shapes large enough for the WGSL product's larger tiles (matmulTile):
  // 64×64 blocks (4×4 a thread), and a tall thin C.
  ...([[520, 20, 520], [2100, 33, 9]] as [number, number, number][]).flatMap(([m, k, n]) =>
    [false, true].flatMap((transA) =>
      [false, true].map((transB) =>
        op(`matmul ${m}x${k}x${n}${transA ? " Aᵀ" : ""}${transB ? " Bᵀ" : ""} (tile ${Object.values(matmulTile(m, n)).join("×")})`, "matmul", { transA, transB }, (g) => [g.normal(transA ? [k, m] : [m, k]), g.normal(transB ? [n, k] : [k, n])], {
          tol: { f32: sumOf(k) },
        }),
      ),
    ),
  ),
  op("matmul [2,2]·[2,1] by hand", "matmul", { transA: false, transB: false }, () => [f64([2, 2], [1, 2, 3, 4]), f64([2, 1], [5, 6])]),
  // Zeros in A: a data input's pixels take the zero-skipping kernels when
  // rows of C are 64+ long (compiler/emit/wasm/sparse.ts; KernelCtx.dataInputs
  // is absent here, so these run the dense kernels on mostly-zero data).
  op("matmul with a mostly-zero A", "matmul", { transA: false, transB: false }, (g) => [zeroed(g.normal([6, 11]), (i) => i % 3 === 0), g.normal([11, 13])], { tol: { f32: sumOf(11) } }),
  op("matmul Aᵀ with a mostly-zero A", "matmul", { transA: true, transB: false }, (g) => [zeroed(g.normal([11, 6]), (i) => i % 3 === 0), g.normal([11, 13])], { tol: { f32: sumOf(11) } }),
];

/** [input, filters, border]; LeNet's layer shapes among them. */
const CONV_SHAPES: [string, Shape, Shape, "valid" | "full", ((i: number) => boolean)?, ((i: number) => boolean)?][] = [
  ["", [2, 3, 5, 6], [4, 3, 2, 3], "valid"],
  ["", [2, 3, 3, 4], [2, 3, 2, 3], "full"],
  ["", [2, 3, 7, 8], [4, 3, 3, 2], "valid"],
  ["filters as large as the input", [3, 2, 5, 5], [2, 2, 5, 5], "valid"],
  ["", [2, 3, 4, 5], [2, 3, 3, 2], "full"],
  ["filters larger than the input", [1, 2, 2, 3], [3, 2, 4, 5], "full"],
  ["narrow output", [3, 2, 9, 9], [2, 2, 6, 7], "valid"],
  // Several image blocks, the last one partial (8 images of 8×8 outputs a block).
  ["a partial last image block", [11, 3, 10, 10], [2, 3, 3, 3], "valid"],
  ["many images per block (swapped roles: 4·4 outputs under 5×5 windows)", [40, 3, 6, 6], [4, 3, 5, 5], "valid"],
  ["many images per block, the last partial", [40, 3, 8, 8], [4, 3, 3, 3], "valid"],
  // Channel blocks (the im2col buffer holds part of the channels), zero
  // filter taps as in a filter gradient of a pooled layer.
  ["channel blocks and zero filter taps", [3, 40, 12, 12], [2, 40, 8, 8], "valid", undefined, (i) => i % 3 === 1],
  ["channel blocks (filter-gradient shape)", [2, 300, 12, 12], [3, 300, 8, 8], "valid", (i) => i % 3 !== 0],
  ["zero input pixels", [3, 5, 4, 4], [2, 5, 3, 2], "full", (i) => i % 3 === 1],
  ["zero input pixels, 6×5", [3, 4, 6, 5], [2, 4, 3, 4], "full", (i) => i % 3 !== 0],
  ["a zero-pixel input", [3, 2, 9, 8], [5, 2, 3, 2], "valid", (i) => i % 4 !== 0],
  // Full border with few channels: a zero-padded copy of x through the
  // valid path (compiler/ops/conv2d.ts emitPadded), not the scatter form.
  ["newmu-convnet's first layer (one channel, full, padded)", [3, 1, 28, 28], [4, 1, 3, 3], "full"],
  ["two channels, full, padded, ragged", [2, 2, 9, 7], [3, 2, 2, 3], "full", (i) => i % 5 !== 2],
  ["LeNet conv1 (batch 4)", [4, 1, 28, 28], [20, 1, 5, 5], "valid"],
  ["LeNet conv2", [2, 20, 12, 12], [50, 20, 5, 5], "valid"],
  ["LeNet conv2's input gradient", [2, 50, 8, 8], [20, 50, 5, 5], "full"],
  ["LeNet conv2's filter gradient (batch 6 as channels)", [20, 6, 12, 12], [50, 6, 8, 8], "valid"],
  ["LeNet conv1's filter gradient", [1, 6, 28, 28], [20, 6, 24, 24], "valid"],
  // Windows larger than the output, few filters: the filters padded and
  // laid out by im2col instead of x (emitSwapped).
  ["one filter larger than the output (swapped roles)", [8, 3, 12, 12], [1, 3, 10, 10], "valid"],
  ["two filters, a wide output (swapped roles)", [8, 2, 11, 10], [2, 2, 9, 6], "valid"],
  ["newmu-convnet's first filter gradient shape (swapped roles)", [16, 6, 30, 30], [1, 6, 28, 28], "valid", undefined, (i) => i % 4 !== 0],
];

const CONVOLUTIONS: OpCase[] = [
  ...CONV_SHAPES.map(([what, xs, ws, border, keepX, keepW]) =>
    op(`conv2d ${border} ${JSON.stringify(xs)} * ${JSON.stringify(ws)}${what ? `, ${what}` : ""}`, "conv2d", { border }, (g) => {
      const x = g.normal(xs), w = g.normal(ws);
      return [keepX ? zeroed(x, keepX) : x, keepW ? zeroed(w, keepW) : w];
    // The products' path: gemm, or the block calls that wrap it (convBlock: im2col + product; fullConv: product + col2im).
    }, { tol: { f32: sumOf(xs[1]! * ws[2]! * ws[3]!) }, code: { ts: /K\.(gemm|convBlock|fullConv|convValid)\(/ } }),
  ),
  // The filter gradient of a valid convolution (x, the output's cotangent):
  // LeNet's two layers at small batches, rows of 4 + 3 pixels, odd filter
  // counts, taps left over after 4, one-pixel rows.
  ...([
    ["LeNet conv2 (batch 3)", [3, 20, 12, 12], [3, 50, 8, 8]],
    ["LeNet conv1 (batch 2)", [2, 1, 28, 28], [2, 20, 24, 24]],
    ["rows of 7, 3×3 taps, 5 filters", [3, 2, 9, 9], [3, 5, 7, 7]],
    ["rows of 6, 3×7 taps", [2, 3, 8, 12], [2, 3, 6, 6]],
    ["one-pixel rows", [4, 2, 5, 9], [4, 1, 4, 1]],
  ] as [string, Shape, Shape][]).map(([what, xs, cs]) =>
    op(`conv2d_filter_grad ${JSON.stringify(xs)}, ${JSON.stringify(cs)}, ${what}`, "conv2d_filter_grad", {}, (g) => [g.normal(xs), g.normal(cs)], {
      tol: { f32: sumOf(cs[0]! * cs[2]! * cs[3]!) },
      code: { ts: /K\.convFilterGrad\(/ },
    }),
  ),
];

/** Values with ties, both zeros and (optionally) NaNs: where a vector max
 * would differ from the ops' first-maximum rule. */
function tricky(g: Gen, shape: Shape, withNaN: boolean): Tensor {
  const t = g.normal(shape);
  return f64(shape, [...t.data].map((v, i) => (withNaN && i % 29 === 3 ? NaN : i % 11 === 0 ? (i % 2 ? -0 : 0) : i % 7 === 0 ? 0.5 : v)));
}
const POOL_SHAPES: { name: string; x: Shape; size: [number, number] }[] = [
  { name: "2×2, LeNet's first layer", x: [2, 3, 24, 24], size: [2, 2] },
  { name: "2×2, odd sizes (border ignored, vector and scalar columns)", x: [3, 2, 9, 19], size: [2, 2] },
  { name: "3×2 windows (scalar path)", x: [2, 2, 7, 11], size: [3, 2] },
  { name: "1×1", x: [1, 2, 3, 5], size: [1, 1] },
];

const POOLING: OpCase[] = [
  op("max_pool2d 2×2", "max_pool2d", { size: [2, 2] }, (g) => [g.normal([3, 4, 8, 6])]),
  op("max_pool2d 2×2 of 5×4", "max_pool2d", { size: [2, 2] }, (g) => [g.normal([2, 2, 5, 4])]),
  op("max_pool2d 2×2 of 6×8", "max_pool2d", { size: [2, 2] }, (g) => [g.normal([2, 3, 6, 8])]),
  op("max_pool2d 2×3 border", "max_pool2d", { size: [2, 3] }, (g) => [g.normal([2, 3, 5, 7])]),
  op("max_pool2d 2×3 with a border", "max_pool2d", { size: [2, 3] }, (g) => [g.normal([2, 2, 5, 7])]),
  op("max_pool2d NaN propagates", "max_pool2d", { size: [2, 2] }, () => [f64([1, 1, 2, 6], [NaN, 1, 2, 3, 0, 0, 4, NaN, -Infinity, -Infinity, 1, 2])]),
  op("max_pool2d NaN", "max_pool2d", { size: [2, 2] }, () => [f64([1, 1, 2, 4], [NaN, 1, 2, 3, 0, 0, 4, NaN])]),
  ...POOL_SHAPES.map(({ name, x, size }) =>
    op(`max_pool2d ${name}: bitwise, NaN and −0 included`, "max_pool2d", { size }, (g) => [tricky(g, x, true)], { tol: { ts: "bitwise" }, code: { ts: /K\.maxPool2d\(/ } }),
  ),
  op("max_pool2d_grad 2×2", "max_pool2d_grad", { size: [2, 2] }, (g) => [g.normal([3, 4, 8, 6]), g.normal([3, 4, 4, 3])]),
  op("max_pool2d_grad 2×2 of 5×4", "max_pool2d_grad", { size: [2, 2] }, (g) => [g.normal([2, 2, 5, 4]), g.normal([2, 2, 2, 2])]),
  op("max_pool2d_grad border", "max_pool2d_grad", { size: [2, 3] }, (g) => [g.normal([2, 3, 5, 7]), g.normal([2, 3, 2, 2])]),
  op("max_pool2d_grad 2×3 with a border", "max_pool2d_grad", { size: [2, 3] }, (g) => [g.normal([2, 2, 5, 7]), g.normal([2, 2, 2, 2])]),
  op("max_pool2d_grad ties (first maximum)", "max_pool2d_grad", { size: [2, 2] }, (g) => [f64([2, 3, 4, 4], g.fill([2, 3, 4, 4], () => Math.floor(g.rand() * 2))), g.normal([2, 3, 2, 2])]),
  op("max_pool2d_grad ties by hand", "max_pool2d_grad", { size: [2, 2] }, () => [f64([1, 1, 2, 4], [1, 3, 2, 2, 3, 0, 2, 2]), f64([1, 1, 1, 2], [5, 6])]),
  // A tie in every window, on every lane of the wasm 2×2 vector path and on
  // its scalar tail (test/tie-breaking.test.ts checks these by hand).
  ...([[[2, 2], 2, 9], [[3, 2], 2, 5]] as [[number, number], number, number][]).map(([size, Ho, Wo]) =>
    op(`max_pool2d_grad ${size[0]}×${size[1]} ties in every window, ${Wo} windows a row`, "max_pool2d_grad", { size }, () => {
      const t = tieWindows(size[0], size[1], Ho, Wo, 1, 1);
      return [t.x, t.ct];
    }, { tol: { ts: "bitwise" }, code: { ts: /K\.maxPool2dGrad\(/ } }),
  ),
  ...POOL_SHAPES.map(({ name, x, size }) =>
    op(`max_pool2d_grad ${name}: the cotangent at each window's first maximum`, "max_pool2d_grad", { size }, (g) => {
      const [n, c, h, w] = x as [number, number, number, number];
      return [tricky(g, x, false), g.normal([n, c, Math.floor(h / size[0]), Math.floor(w / size[1])])];
    }, { tol: { ts: "bitwise" }, code: { ts: /K\.maxPool2dGrad\(/ } }),
  ),
];

const CASES: OpCase[] = [...ELEMENTWISE, ...CONSTANTS, ...CHAINS, ...COUNTERS, ...REDUCTIONS, ...INDEXING, ...LAYOUT, ...MATMULS, ...CONVOLUTIONS, ...POOLING];

// ---- the suite -----------------------------------------------------------------------

/** Each backend's cases (decided from the table alone). */
function casesOn(backend: Backend): OpCase[] {
  return CASES.filter((c) => whyNot(backend, c) === undefined);
}
const RUNS = new Map(BACKENDS.map((b) => [b.name, casesOn(b)]));

describe.each(BACKENDS.map((b) => [b.name, b] as const))("%s", (_name, backend) => {
  it.each(RUNS.get(backend.name)!.map((c) => [c.name, c] as const))("%s", async (_case, c) => {
    await checkCase(backend, c);
  });
});

describe("the table", () => {
  it("has unique case names", () => {
    const seen = new Set<string>();
    const dup = CASES.filter((c) => seen.size === seen.add(c.name).size).map((c) => c.name);
    expect(dup).toEqual([]);
  });

  it("runs every op of the registry on every backend, or says why not", () => {
    const missing: string[] = [];
    for (const p of Object.keys(OPS) as Prim[]) {
      for (const b of BACKENDS) {
        if (NOT_APPLICABLE[p][b.name]) continue;
        if (!RUNS.get(b.name)!.some((c) => prepare(c, b.float).ops.has(p))) missing.push(`${p} on ${b.name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("lists as not applicable only what the op really lacks there, or says why", () => {
    // A backend with code for an op (its emitter kind) marked not applicable
    // must give a reason other than "no code"; one without must be marked.
    for (const p of Object.keys(OPS) as Prim[]) {
      const d = OPS[p];
      const has = { "ts-f64": d.ts.kind === "elementwise" || d.ts.kind === "kernel", ts: d.ts.kind === "elementwise" || d.ts.kind === "kernel", wasm: d.wasm !== undefined, wgsl: ["elementwise", "kernel", "tiled"].includes(d.wgsl.kind) };
      for (const b of BACKENDS) {
        if (!has[b.name]) expect(NOT_APPLICABLE[p][b.name], `${p} has no ${b.name} code`).toBeTruthy();
      }
    }
  });

  it("reshape and stop_gradient are views and need no kernel", () => {
    expect(OPS.reshape.ts.kind).toBe("view");
    expect(OPS.stop_gradient.ts.kind).toBe("view");
    expect(OPS.reshape.wgsl.kind).toBe("view");
    expect(OPS.stop_gradient.wgsl.kind).toBe("view");
  });
});

// ---- emitter specifics ------------------------------------------------------------------

describe("TypeScript emitter specifics", () => {
  const scalar: ScalarCtx = { index: "i", seed: "seed", step: "step", iter: "iter", rng: "rng" };
  const rngModule = { uniform, normal };
  const compile = (node: Node, arity: number) => {
    const em = OPS[node.op].ts;
    if (em.kind !== "elementwise") throw new Error(`${node.op} is not elementwise`);
    const args = Array.from({ length: arity }, (_, k) => `a${k}`);
    const expr = (em.expr as (a: readonly string[], n: Node, e: ScalarCtx) => string)(args, node, scalar);
    return new Function("rng", "seed", "step", "iter", "i", ...args, `return ${expr};`) as (...v: unknown[]) => number;
  };

  it.each([0, 1, -1, 0.1, -2.5, 1e-7, -1e-7, 1e21, 123456789.125, -0, NaN, Infinity, -Infinity])("const %s is a valid literal in any position", (v) => {
    const b = new Builder();
    const k = b.node(b.constant(v, [], "f64"));
    const lit = compile(k, 0)(rngModule, 0, 0, 0, 0);
    expect(Object.is(lit, v)).toBe(true);
    // After a binary minus and under neg, where an unparenthesised -1 breaks.
    const em = OPS.const.ts;
    if (em.kind !== "elementwise") throw new Error("const is elementwise");
    const text = em.expr([], k as Node<"const">, scalar);
    expect(Object.is(new Function(`return 1 - ${text};`)(), 1 - v)).toBe(true);
    const neg = b.node(b.op("neg", [k.id], NONE)) as Node<"neg">;
    const negEm = OPS.neg.ts;
    if (negEm.kind !== "elementwise") throw new Error("neg is elementwise");
    expect(Object.is(new Function(`return ${negEm.expr([text], neg, scalar)};`)(), -v)).toBe(true);
  });

  it("step_one_hot is 1 at (step mod depth), in the reference and the emitted code", () => {
    for (const step of [0, 3, 784, 1000]) {
      const b = new Builder();
      const id = b.stepOneHot(7, "f64");
      const want = interpret(b.graph, {}, { seed: 1, step })[id] as Tensor;
      expect([...want.data]).toEqual(Array.from({ length: 7 }, (_, k) => (k === step % 7 ? 1 : 0)));
      const f = compile(b.node(id), 0);
      for (let i = 0; i < 7; i++) expect(f(rngModule, 1, step, 0, i)).toBe(want.data[i]);
    }
  });

  it.each(["random_uniform", "random_normal"] as const)("%s uses the scalar context's counters", (p) => {
    const b = new Builder();
    const id = p === "random_uniform" ? b.randomUniform([6], "f64", 5) : b.randomNormal([6], "f64", 5);
    const want = interpret(b.graph, {}, { seed: 3, step: 8, iter: 1 })[id] as Tensor;
    const f = compile(b.node(id), 0);
    for (let i = 0; i < 6; i++) expect(f(rngModule, 3, 8, 1, i)).toBe(want.data[i]);
  });

  it("matmul and conv2d refuse f64: their kernels are f32 WebAssembly", () => {
    for (const c of [MATMULS[0]!, CONVOLUTIONS[0]!]) {
      const p = prepare(c, "f64");
      const em = OPS[c.op].ts;
      if (em.kind !== "kernel") throw new Error("kernel");
      const ctx = { node: p.g.nodes[p.out], out: "out", ins: ["a", "b"], inTypes: p.operands, fresh: (s: string) => s, scratch: () => "w", addr: () => 16, kernels: "K" };
      expect(() => (em.emit as (k: unknown) => string)(ctx)).toThrow(/f32/);
    }
  });
});

describe("WGSL loop budget", () => {
  const trips = (c: OpCase, float: Float = "f32") => {
    const p = prepare(c, float);
    return wgslLoopTrips(p.g.nodes[p.out]!, p.g.nodes[p.out]!.inputs.map((id) => p.g.nodes[id]!));
  };
  const shapes = (name: string, p: Prim, attrs: object, ...xs: Shape[]) => op(name, p, attrs as never, () => xs.map((s) => f64(s, new Array(s.reduce((a, b) => a * b, 1)).fill(0))));

  it("the WGSL product's tile grows with the shape while 64 workgroups remain", () => {
    expect(matmulTile(20, 500)).toEqual({ rm: 1, rn: 1 }); // 2×32 workgroups of 16×16 already
    expect(matmulTile(600, 10)).toEqual({ rm: 1, rn: 1 });
    expect(matmulTile(520, 520)).toEqual({ rm: 4, rn: 4 });
    expect(matmulTile(2100, 9)).toEqual({ rm: 2, rn: 1 }); // never wider than C's 9 columns
    expect(matmulTile(1030, 9)).toEqual({ rm: 1, rn: 1 });
    expect(matmulTile(4096, 4096)).toEqual({ rm: 4, rn: 4 });
  });

  it("counts every loop of an invocation, nested ones in full", () => {
    // Axes 0 and 2 of [3, 5, 7] are not contiguous: 3 outer trips, 7 inner each.
    expect(trips(shapes("a", "reduce_max", { axes: [0, 2] }, [3, 5, 7]))).toBe(3 + 3 * 7);
    // Contiguous axes merge into one loop.
    expect(trips(shapes("b", "reduce_sum", { axes: [1, 2] }, [3, 5, 7]))).toBe(35);
    expect(trips(shapes("c", "argmax", { axis: 1 }, [3, 10]))).toBe(9);
    expect(trips(op("d", "scatter_add", { rows: 3 }, () => [f64([6, 2], new Array(12).fill(0)), i32([6], [0, 1, 2, 0, 1, 2])]))).toBe(6);
    // ⌈784/16⌉ = 49 tiles of 16 steps.
    expect(trips(shapes("e", "matmul", { transA: false, transB: true }, [20, 784], [500, 784]))).toBe(49 * 17);
    // LeNet's conv2: 20 channels, 5 filter rows each (rows unrolled).
    expect(trips(shapes("f", "conv2d", { border: "valid" }, [2, 20, 12, 12], [50, 20, 5, 5]))).toBe(20 + 100);
    expect(trips(shapes("g", "conv2d", { border: "valid" }, [1, 2, 3, 70], [1, 2, 2, 65]))).toBe(2 + 4 + 2 * 2 * 65);
    // LeNet's first filter gradient: 500 images, 24 rows each (rows unrolled).
    expect(trips(shapes("k", "conv2d_filter_grad", {}, [500, 1, 28, 28], [500, 20, 24, 24]))).toBe(500 + 500 * 24);
    expect(trips(shapes("h", "transpose", { perm: [1, 0] }, [3, 4]))).toBe(0);
    expect(trips(shapes("i", "add", {}, [3], [3]))).toBe(0);
    expect(trips(shapes("j", "max_pool2d", { size: [2, 2] }, [1, 1, 4, 4]))).toBe(0);
  });

  it("every case of the table fits the budget", () => {
    const over = CASES.filter((c) => trips(c) > WGSL_LOOP_BUDGET).map((c) => c.name);
    expect(over).toEqual([]);
  });
});
