// The ONNX renderer's op table: each primitive of the IR as ONNX nodes
// (opset 18), typed exhaustively over `Prim` so a new primitive cannot be
// forgotten. A primitive with no ONNX form is a string saying why; the
// exporter reports it with the op's spec line (E070). Shapes are static:
// the IR's, at the export's batch size.
import type { Node, Prim, TensorType } from "../../ir/types.ts";

/** What a rule writes nodes with. */
export interface OnnxCtx {
  /** The ONNX value name of each operand. */
  readonly ins: readonly string[];
  readonly inTypes: readonly TensorType[];
  /** The value name this node must define. */
  readonly out: string;
  /** Appends an ONNX node; returns its (first) output. */
  node(op: string, inputs: readonly string[], attrs?: Readonly<Record<string, number | readonly number[] | string>>, out?: string): string;
  /** An int64 constant (shapes, axes, starts). */
  ints(values: readonly number[]): string;
  /** A constant tensor of the given dtype and shape, every element `value`. */
  filled(value: number, type: TensorType): string;
  /** Shape operands: a Reshape target, an Expand target, a Slice end. With
   * a dynamic batch they stand for the run-time batch where the IR's shape
   * has it (compiler/emit/onnx/model.ts). */
  reshapeTo(dims: readonly number[]): string;
  expandTo(dims: readonly number[]): string;
  axisEnd(end: number): number;
  /** A fresh value name. */
  fresh(base: string): string;
}

export type OnnxRule<P extends Prim> = ((n: Node<P>, c: OnnxCtx) => void) | string;

/** ONNX's element type numbers (TensorProto.DataType). */
export const ONNX_DTYPE = { f32: 1, f64: 11, i32: 6, bool: 9 } as const;

const unary =
  (op: string) =>
  (_n: Node, c: OnnxCtx): void => {
    c.node(op, [c.ins[0]!], {}, c.out);
  };
const binary =
  (op: string) =>
  (_n: Node, c: OnnxCtx): void => {
    c.node(op, [c.ins[0]!, c.ins[1]!], {}, c.out);
  };
const leaf = "a graph input or initializer (handled by the exporter)";
const NO_RANDOM = "draws from dlt's Philox stream, which ONNX cannot reproduce: export an output that does not depend on random draws (--output NAME)";

export const ONNX_RULES: { readonly [P in Prim]: OnnxRule<P> } = {
  input: leaf,
  param: leaf,
  state: leaf,
  const: (n, c) => {
    c.node("Identity", [c.filled(n.attrs.value, n)], {}, c.out);
  },
  scan_arg: "a scan body's argument (rendered by the exporter's Loop)",
  add: binary("Add"),
  sub: binary("Sub"),
  mul: binary("Mul"),
  div: binary("Div"),
  maximum: binary("Max"),
  minimum: binary("Min"),
  pow: binary("Pow"),
  neg: unary("Neg"),
  exp: unary("Exp"),
  log: unary("Log"),
  tanh: unary("Tanh"),
  sigmoid: unary("Sigmoid"),
  softplus: unary("Softplus"),
  abs: unary("Abs"),
  sqrt: unary("Sqrt"),
  compare: (n, c) => {
    const [a, b] = c.ins as [string, string];
    const op = { lt: "Less", le: "LessOrEqual", gt: "Greater", ge: "GreaterOrEqual", eq: "Equal", ne: "Equal" }[n.attrs.cmp];
    if (n.attrs.cmp === "ne") c.node("Not", [c.node(op, [a, b])], {}, c.out);
    else c.node(op, [a, b], {}, c.out);
  },
  select: (_n, c) => {
    // The IR's condition may be a 0/1 number; Where wants a bool.
    const cond = c.inTypes[0]!.dtype === "bool" ? c.ins[0]! : c.node("Cast", [c.ins[0]!], { to: ONNX_DTYPE.bool });
    c.node("Where", [cond, c.ins[1]!, c.ins[2]!], {}, c.out);
  },
  cast: (n, c) => {
    c.node("Cast", [c.ins[0]!], { to: ONNX_DTYPE[n.attrs.to] }, c.out);
  },
  stop_gradient: unary("Identity"),
  reduce_sum: (n, c) => {
    c.node("ReduceSum", [c.ins[0]!, c.ints(n.attrs.axes)], { keepdims: 0 }, c.out);
  },
  reduce_max: (n, c) => {
    c.node("ReduceMax", [c.ins[0]!, c.ints(n.attrs.axes)], { keepdims: 0 }, c.out);
  },
  argmax: (n, c) => {
    // The IR's indices are i32; ArgMax gives int64. Ties: both take the first.
    c.node("Cast", [c.node("ArgMax", [c.ins[0]!], { axis: n.attrs.axis, keepdims: 0 })], { to: ONNX_DTYPE.i32 }, c.out);
  },
  one_hot: (n, c) => {
    // Not ONNX's OneHot: it counts a negative label from the end, where the
    // IR gives a zero row (rnnslu's −1 padding). Equal against 0..depth−1.
    const depth = n.attrs.depth;
    const idx = c.node("Range", [c.filled(0, { shape: [], dtype: "i32" }), c.filled(depth, { shape: [], dtype: "i32" }), c.filled(1, { shape: [], dtype: "i32" })]);
    const labels = c.node("Unsqueeze", [c.ins[0]!, c.ints([-1])]);
    c.node("Cast", [c.node("Equal", [labels, idx])], { to: ONNX_DTYPE[n.dtype] }, c.out);
  },
  gather: (_n, c) => {
    c.node("Gather", [c.ins[0]!, c.ins[1]!], { axis: 0 }, c.out);
  },
  scatter_add: "a gradient op (not in evaluation graphs)",
  broadcast: (n, c) => {
    c.node("Expand", [c.ins[0]!, c.expandTo(n.attrs.shape)], {}, c.out);
  },
  reshape: (n, c) => {
    c.node("Reshape", [c.ins[0]!, c.reshapeTo(n.attrs.shape)], {}, c.out);
  },
  transpose: (n, c) => {
    c.node("Transpose", [c.ins[0]!], { perm: n.attrs.perm }, c.out);
  },
  slice: (n, c) => {
    const axes = n.attrs.starts.map((_, k) => k);
    c.node("Slice", [c.ins[0]!, c.ints(n.attrs.starts), c.ints(n.attrs.ends.map((e) => c.axisEnd(e))), c.ints(axes)], {}, c.out);
  },
  pad: (n, c) => {
    c.node("Pad", [c.ins[0]!, c.ints([...n.attrs.before, ...n.attrs.after])], { mode: "constant" }, c.out);
  },
  concat: (n, c) => {
    c.node("Concat", c.ins, { axis: n.attrs.axis < 0 ? n.attrs.axis + n.shape.length : n.attrs.axis }, c.out);
  },
  matmul: (n, c) => {
    const [a, b] = c.ins as [string, string];
    const [ta, tb] = c.inTypes as [TensorType, TensorType];
    if (ta.shape.length === 2 && tb.shape.length === 2) {
      // Gemm without C: alpha·A'·B'.
      c.node("Gemm", [a, b], { transA: n.attrs.transA ? 1 : 0, transB: n.attrs.transB ? 1 : 0 }, c.out);
      return;
    }
    const swapLast = (x: string, r: number) => c.node("Transpose", [x], { perm: [...Array(r).keys()].map((k) => (k === r - 2 ? r - 1 : k === r - 1 ? r - 2 : k)) });
    c.node("MatMul", [n.attrs.transA ? swapLast(a, ta.shape.length) : a, n.attrs.transB ? swapLast(b, tb.shape.length) : b], {}, c.out);
  },
  conv2d: (n, c) => {
    // The IR's conv2d is the true convolution (Theano's): ONNX's Conv
    // correlates, so the filters are flipped first; 'full' pads kh−1, kw−1.
    const [, , kh, kw] = c.inTypes[1]!.shape as [number, number, number, number];
    const big = -(2 ** 62);
    const flipped = c.node("Slice", [c.ins[1]!, c.ints([-1, -1]), c.ints([big, big]), c.ints([2, 3]), c.ints([-1, -1])]);
    const pads = n.attrs.border === "full" ? [kh - 1, kw - 1, kh - 1, kw - 1] : [0, 0, 0, 0];
    c.node("Conv", [c.ins[0]!, flipped], { kernel_shape: [kh, kw], pads }, c.out);
  },
  flip: (n, c) => {
    const big = -(2 ** 62);
    const axes = n.attrs.axes;
    if (axes.length === 0) {
      c.node("Identity", [c.ins[0]!], {}, c.out);
      return;
    }
    c.node("Slice", [c.ins[0]!, c.ints(axes.map(() => -1)), c.ints(axes.map(() => big)), c.ints(axes), c.ints(axes.map(() => -1))], {}, c.out);
  },
  max_pool2d: (n, c) => {
    // Non-overlapping windows, a partial window at the border dropped:
    // MaxPool's floor rule (ceil_mode 0).
    c.node("MaxPool", [c.ins[0]!], { kernel_shape: n.attrs.size, strides: n.attrs.size }, c.out);
  },
  max_pool2d_grad: "a gradient op (not in evaluation graphs)",
  conv2d_filter_grad: "a gradient op (not in evaluation graphs)",
  random_uniform: NO_RANDOM,
  random_normal: NO_RANDOM,
  step_one_hot: "reads the training step counter, which an exported model does not have",
  scan: "rendered by the exporter as an ONNX Loop",
  tuple_get: "rendered by the exporter (a Loop's output)",
};
