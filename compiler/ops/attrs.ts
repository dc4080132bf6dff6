// The attribute table of every primitive op. This interface *is* the list of
// primitives: `Prim = keyof PrimAttrs`, and the op registry is typed as
// `{ [P in Prim]: OpDef<P> }`, so adding a line here without writing the op
// (shape rule, VJP, reference evaluation, emitters) fails the type check.

import type { DType, Graph, Shape } from "../ir/types.ts";

type None = Record<string, never>;

export type CompareKind = "lt" | "le" | "gt" | "ge" | "eq" | "ne";

export interface ScanAttrs {
  /** The loop body. Its leaves are `scan_arg` nodes numbered in the order
   * carries, per-step slices of the sequences, constants, and (if used) the
   * iteration index is available to random ops through the evaluation
   * context. Its outputs are named "0".."n-1": first the new carries, then
   * the per-step outputs that the scan stacks along a new leading axis. */
  readonly body: Graph;
  readonly nCarry: number;
  readonly nSeq: number;
  readonly nConst: number;
  readonly nStepOut: number;
  readonly length: number;
  /** Iterate t = length-1 .. 0 (used by the gradient of a forward scan). */
  readonly reverse: boolean;
  /** The scan has one more operand after its constants: an i32 scalar, the
   * number of steps to run this time (clamped to 0..length). Steps past it
   * are skipped: their stacked outputs and carry history are 0, the finals
   * are the carries after the last step run. A reverse scan runs the same
   * steps backwards (t = count-1 .. 0). Sequences of varying length run
   * without recompiling, up to `length`. */
  readonly counted?: boolean;
}

export interface PrimAttrs {
  // Leaves.
  input: { readonly name: string };
  param: { readonly name: string };
  state: { readonly name: string };
  const: { readonly value: number };
  scan_arg: { readonly index: number };

  // Elementwise, same-shape operands (broadcasts are explicit nodes).
  add: None;
  sub: None;
  mul: None;
  div: None;
  maximum: None;
  minimum: None;
  pow: None;
  neg: None;
  exp: None;
  log: None;
  tanh: None;
  sigmoid: None;
  softplus: None;
  abs: None;
  sqrt: None;
  compare: { readonly cmp: CompareKind };
  select: None;
  cast: { readonly to: DType };
  stop_gradient: None;

  // Reductions and indexing.
  reduce_sum: { readonly axes: readonly number[] };
  reduce_max: { readonly axes: readonly number[] };
  argmax: { readonly axis: number };
  one_hot: { readonly depth: number };
  gather: None;
  scatter_add: { readonly rows: number };

  // Layout.
  broadcast: { readonly shape: Shape };
  reshape: { readonly shape: Shape };
  transpose: { readonly perm: readonly number[] };
  slice: { readonly starts: readonly number[]; readonly ends: readonly number[] };
  pad: { readonly before: readonly number[]; readonly after: readonly number[] };
  concat: { readonly axis: number };

  // Linear algebra.
  matmul: { readonly transA: boolean; readonly transB: boolean };

  // Convolutional nets (NCHW; see conv2d.ts for the convolution convention).
  conv2d: { readonly border: "valid" | "full" };
  conv2d_filter_grad: None;
  flip: { readonly axes: readonly number[] };
  max_pool2d: { readonly size: readonly number[] };
  max_pool2d_grad: { readonly size: readonly number[] };

  // Randomness from the counter-based generator (Philox4x32-10).
  random_uniform: { readonly salt: number };
  random_normal: { readonly salt: number };
  /** 1 at (step mod depth): a counter cycling with the training step. */
  step_one_hot: { readonly depth: number };

  // Loops.
  scan: ScanAttrs;
  tuple_get: { readonly index: number };
}
