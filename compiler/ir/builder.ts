// Appends nodes to a graph, inferring each node's type through its op's shape
// rule. The helpers do numpy-style broadcasting by inserting explicit
// `broadcast` nodes, so primitives themselves only ever see equal shapes.
// Used by the spec lowering (layers, losses, optimizers) and by VJP rules.

import type { PrimAttrs } from "../ops/attrs.ts";
import { OPS } from "../ops/registry.ts";
import { type DType, type Graph, IRError, type Node, type Prim, type Shape, type SpecLoc, shapeEq } from "./types.ts";

export class Builder {
  /** Location stamped on nodes created from now on (the spec line being lowered). */
  loc: SpecLoc | undefined;
  /** Every `grad(f, x)` of a spec built on this graph: node g = ∂f/∂x, and
   * how the spec wrote it (dlt-compile --check-grad checks each). */
  readonly derivatives: { readonly f: number; readonly x: number; readonly g: number; readonly what: string }[] = [];

  constructor(readonly graph: Graph = { nodes: [], outputs: new Map() }) {}

  node(id: number): Node {
    const n = this.graph.nodes[id];
    if (!n) throw new Error(`no node %${id}`);
    return n;
  }
  shape(id: number): Shape {
    return this.node(id).shape;
  }
  dtype(id: number): DType {
    return this.node(id).dtype;
  }

  op<P extends Prim>(op: P, inputs: readonly number[], attrs: PrimAttrs[P]): number {
    const ins = inputs.map((i) => this.node(i));
    let t;
    try {
      t = OPS[op].infer(ins, attrs as never);
    } catch (e) {
      if (e instanceof IRError) throw this.located(e, ins);
      throw e;
    }
    const id = this.graph.nodes.length;
    const node: Node<P> = { id, op, inputs: [...inputs], attrs, shape: [...t.shape], dtype: t.dtype, loc: this.loc };
    this.graph.nodes.push(node as unknown as Node);
    return id;
  }

  /** A located type error naming where each operand was defined. */
  typeError(message: string, operands: readonly number[], code = "E031"): IRError {
    return this.located(new IRError(message, this.loc, code), operands.map((i) => this.node(i)));
  }

  /** Adds this builder's location and, for type errors, where each operand
   * was defined and with which type. */
  private located(e: IRError, operands: readonly Node[]): IRError {
    const related = e.related.length
      ? e.related
      : operands
          .filter((n) => n.loc && (e.code === "E031" || e.code === "E032"))
          .map((n) => ({ loc: n.loc!, message: `${n.loc!.what ?? n.op} is ${n.dtype}[${n.shape.join(", ")}] here` }));
    return new IRError(e.message, e.loc ?? this.loc, e.code, related);
  }

  // ---- leaves and constants -------------------------------------------------
  leaf(kind: "input" | "param" | "state", name: string, shape: Shape, dtype: DType): number {
    // Leaves carry their type in the node; infer() of a leaf cannot know it,
    // so they are appended directly.
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, op: kind, inputs: [], attrs: { name }, shape: [...shape], dtype, loc: this.loc });
    return id;
  }
  scanArg(index: number, shape: Shape, dtype: DType): number {
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, op: "scan_arg", inputs: [], attrs: { index }, shape: [...shape], dtype, loc: this.loc });
    return id;
  }
  constant(value: number, shape: Shape = [], dtype: DType = "f32"): number {
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, op: "const", inputs: [], attrs: { value }, shape: [...shape], dtype, loc: this.loc });
    return id;
  }
  /** Random ops have no operands, so infer() cannot know their type either:
   * appended directly, like leaves. `salt` names the stream. */
  randomUniform(shape: Shape, dtype: DType, salt: number): number {
    return this.random("random_uniform", shape, dtype, salt);
  }
  randomNormal(shape: Shape, dtype: DType, salt: number): number {
    return this.random("random_normal", shape, dtype, salt);
  }
  /** [depth] f32 (or f64): 1 at (training step mod depth), 0 elsewhere. */
  stepOneHot(depth: number, dtype: DType): number {
    if (!Number.isInteger(depth) || depth < 1) throw new IRError(`step_one_hot: depth ${depth} is not a positive integer`, this.loc, "E031");
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, op: "step_one_hot", inputs: [], attrs: { depth }, shape: [depth], dtype, loc: this.loc });
    return id;
  }
  private random(op: "random_uniform" | "random_normal", shape: Shape, dtype: DType, salt: number): number {
    if (dtype !== "f32" && dtype !== "f64") throw new IRError(`${op} needs a float dtype, got ${dtype}`, this.loc, "E032");
    const id = this.graph.nodes.length;
    this.graph.nodes.push({ id, op, inputs: [], attrs: { salt }, shape: [...shape], dtype, loc: this.loc });
    return id;
  }
  /** A constant of the same shape and dtype as `like`. */
  fill(value: number, like: number): number {
    return this.constant(value, this.shape(like), this.dtype(like));
  }

  // ---- broadcasting ---------------------------------------------------------
  broadcastTo(x: number, shape: Shape): number {
    if (shapeEq(this.shape(x), shape)) return x;
    return this.op("broadcast", [x], { shape: [...shape] });
  }
  /** Broadcasts two operands to their common numpy-style shape. */
  unify(a: number, b: number): [number, number] {
    let s: Shape;
    try {
      s = broadcastShapes(this.shape(a), this.shape(b), this.loc);
    } catch (e) {
      throw e instanceof IRError ? this.located(e, [this.node(a), this.node(b)]) : e;
    }
    return [this.broadcastTo(a, s), this.broadcastTo(b, s)];
  }
  /** Makes a float constant or matches dtype: `b.scalarLike(0.5, x)`. */
  scalarLike(value: number, x: number): number {
    return this.constant(value, [], this.dtype(x));
  }

  // ---- elementwise helpers (broadcasting) ------------------------------------
  private bin(op: "add" | "sub" | "mul" | "div" | "maximum" | "minimum" | "pow", a: number, b: number): number {
    const [x, y] = this.unify(a, b);
    return this.op(op, [x, y], {});
  }
  add(a: number, b: number): number {
    return this.bin("add", a, b);
  }
  sub(a: number, b: number): number {
    return this.bin("sub", a, b);
  }
  mul(a: number, b: number): number {
    return this.bin("mul", a, b);
  }
  div(a: number, b: number): number {
    return this.bin("div", a, b);
  }
  maximum(a: number, b: number): number {
    return this.bin("maximum", a, b);
  }
  minimum(a: number, b: number): number {
    return this.bin("minimum", a, b);
  }
  pow(a: number, b: number): number {
    return this.bin("pow", a, b);
  }
  compare(cmp: PrimAttrs["compare"]["cmp"], a: number, b: number): number {
    const [x, y] = this.unify(a, b);
    return this.op("compare", [x, y], { cmp });
  }
  select(c: number, a: number, b: number): number {
    const s = broadcastShapes(broadcastShapes(this.shape(c), this.shape(a), this.loc), this.shape(b), this.loc);
    return this.op("select", [this.broadcastTo(c, s), this.broadcastTo(a, s), this.broadcastTo(b, s)], {});
  }
  unary(op: "neg" | "exp" | "log" | "tanh" | "sigmoid" | "softplus" | "abs" | "sqrt" | "stop_gradient", x: number): number {
    return this.op(op, [x], {});
  }
  neg(x: number): number {
    return this.unary("neg", x);
  }
  cast(x: number, to: DType): number {
    return this.dtype(x) === to ? x : this.op("cast", [x], { to });
  }

  // ---- reductions and layout -------------------------------------------------
  sum(x: number, axes?: readonly number[]): number {
    const r = this.shape(x).length;
    const ax = axes ?? [...Array(r).keys()];
    if (ax.length === 0) return x;
    return this.op("reduce_sum", [x], { axes: normAxes(ax, r) });
  }
  mean(x: number, axes?: readonly number[]): number {
    const s = this.shape(x);
    const ax = normAxes(axes ?? [...s.keys()], s.length);
    const n = ax.reduce((acc, a) => acc * s[a]!, 1);
    return this.mul(this.sum(x, ax), this.constant(1 / n, [], this.dtype(x)));
  }
  max(x: number, axes: readonly number[]): number {
    return this.op("reduce_max", [x], { axes: normAxes(axes, this.shape(x).length) });
  }
  reshape(x: number, shape: Shape): number {
    if (shapeEq(this.shape(x), shape)) return x;
    return this.op("reshape", [x], { shape: [...shape] });
  }
  transpose(x: number, perm: readonly number[]): number {
    if (perm.every((p, i) => p === i)) return x;
    return this.op("transpose", [x], { perm: [...perm] });
  }
  matmul(a: number, b: number, transA = false, transB = false): number {
    return this.op("matmul", [a, b], { transA, transB });
  }

  /** Sums `x` down to `shape` (the inverse of broadcasting), for VJPs. */
  unbroadcast(x: number, shape: Shape): number {
    const xs = this.shape(x);
    if (shapeEq(xs, shape)) return x;
    const lead = xs.length - shape.length;
    const axes: number[] = [];
    for (let i = 0; i < xs.length; i++) {
      if (i < lead || (shape[i - lead] === 1 && xs[i] !== 1)) axes.push(i);
    }
    return this.reshape(this.sum(x, axes), shape);
  }
}

export function normAxes(axes: readonly number[], rank: number): number[] {
  return [...new Set(axes.map((a) => (a < 0 ? a + rank : a)))].sort((a, b) => a - b);
}

/** numpy broadcasting of two shapes; throws IRError naming both shapes. */
export function broadcastShapes(a: Shape, b: Shape, loc?: SpecLoc): Shape {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new IRError(`shapes [${a.join(", ")}] and [${b.join(", ")}] do not broadcast`, loc, "E031");
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}
