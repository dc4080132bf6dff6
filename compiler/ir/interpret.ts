// The reference evaluator: runs a graph node by node with each op's f64
// `evaluate`. It is the oracle for gradient checks and for the generated code.

import { OPS } from "../ops/registry.ts";
import type { EvalCtx } from "../ops/op.ts";
import type { Tensor } from "./tensor.ts";
import { type Graph, IRError, type Node, fmtShape, shapeEq } from "./types.ts";

export type Value = Tensor | Tensor[];

export interface Leaves {
  readonly input?: ReadonlyMap<string, Tensor>;
  readonly param?: ReadonlyMap<string, Tensor>;
  readonly state?: ReadonlyMap<string, Tensor>;
}

export interface RunOptions {
  readonly seed?: number;
  readonly step?: number;
  readonly iter?: number;
  /** Values of `scan_arg` leaves when running a scan body. */
  readonly args?: readonly Tensor[];
}

export function interpret(g: Graph, leaves: Leaves, opts: RunOptions = {}): Value[] {
  const vals: Value[] = new Array(g.nodes.length);
  const seed = opts.seed ?? 0;
  const step = opts.step ?? 0;
  const ctx: EvalCtx = {
    seed,
    step,
    iter: opts.iter ?? 0,
    runBody: (body, args, iter) => {
      const v = interpret(body, leaves, { seed, step, iter, args });
      return [...body.outputs.values()].map((id) => v[id] as Tensor);
    },
    leaf: (kind, name) => {
      const t = leaves[kind]?.get(name);
      if (!t) throw new IRError(`no value for ${kind} '${name}'`);
      return t;
    },
    arg: (index) => {
      const a = opts.args?.[index];
      if (!a) throw new IRError(`scan body argument ${index} missing`);
      return a;
    },
  };
  for (const n of g.nodes) {
    const ins = n.inputs.map((i) => vals[i]!);
    const v = (OPS[n.op].evaluate as (i: unknown, n: Node, c: EvalCtx) => Value)(ins, n, ctx);
    if (!Array.isArray(v) && !shapeEq(v.shape, n.shape)) {
      throw new IRError(`${n.op} %${n.id}: evaluated shape ${fmtShape(v.shape)} differs from inferred ${fmtShape(n.shape)}`, n.loc);
    }
    vals[n.id] = v;
  }
  return vals;
}

/** Convenience: evaluates and returns the named outputs. */
export function interpretOutputs(g: Graph, leaves: Leaves, opts: RunOptions = {}): Map<string, Tensor> {
  const v = interpret(g, leaves, opts);
  const out = new Map<string, Tensor>();
  for (const [name, id] of g.outputs) out.set(name, v[id] as Tensor);
  return out;
}
