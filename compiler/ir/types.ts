// The typed tensor IR: a graph of single-output nodes in SSA form with static
// shapes and dtypes. Nodes are stored in topological order and a node's id is
// its index in `Graph.nodes`. The IR knows no backend and no spec syntax: a
// node only remembers *where* in the spec it came from, for error messages and
// for comments in generated code.

import type { PrimAttrs } from "../ops/attrs.ts";

export type DType = "f32" | "f64" | "i32" | "bool";
export type Shape = readonly number[];

/** Every primitive op, as a string union derived from the attribute table. */
export type Prim = keyof PrimAttrs;

/** Where a node came from: a spec file position (1-based line and column). */
export interface SpecLoc {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** A short description, e.g. `model.h` or `losses.nll`. */
  readonly what?: string;
  /** Set on nodes the differentiator built: they compute part of the
   * gradient flowing back through this spec line. */
  readonly grad?: boolean;
  /** The spec's name for the value this node computes (a graph entry's
   * result, `grad_W1`); generated code names its buffer after it. */
  readonly name?: string;
}

export interface TensorType {
  readonly shape: Shape;
  readonly dtype: DType;
}

export interface Node<P extends Prim = Prim> {
  readonly id: number;
  readonly op: P;
  readonly inputs: readonly number[];
  readonly attrs: PrimAttrs[P];
  readonly shape: Shape;
  readonly dtype: DType;
  readonly loc?: SpecLoc;
}

/** A named leaf of a graph: data fed per batch, a trained parameter, or state
 * carried between steps (optimizer slots, persistent Gibbs chains). */
export type LeafKind = "input" | "param" | "state";

export interface Graph {
  readonly nodes: Node[];
  /** Named outputs (loss, metrics, updated params `param:W`, ...). */
  readonly outputs: Map<string, number>;
}

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function shapeEq(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

export function fmtShape(s: Shape): string {
  return `[${s.join(", ")}]`;
}

/** Row-major strides of a shape. */
export function strides(shape: Shape): number[] {
  const st = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= shape[i]!;
  }
  return st;
}

export function isFloat(d: DType): boolean {
  return d === "f32" || d === "f64";
}

/** Raised for a malformed graph; carries the spec location of the node. */
export class IRError extends Error {
  constructor(
    message: string,
    readonly loc?: SpecLoc,
    readonly code = "E100",
    /** Other places that explain the error (where each operand was defined). */
    readonly related: readonly { readonly loc: SpecLoc; readonly message: string }[] = [],
  ) {
    super(message);
  }
}
