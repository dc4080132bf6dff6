// Which tensors hold only exact 0s and 1s: a matrix product with one on the
// left needs no multiplications (compiler/emit/wasm/sparse.ts sums the rows
// of B that its ones select). Proved from the graph, never assumed:
//   cast(compare(…)) to f32           a Bernoulli sample, a thresholded input
//   select(c, 1, 0) / select(c, 0, 1) `where(x > 0.5, 1, 0)`
//   a scan's final carry               when at least one step always runs and
//                                      the body's new carry is one of these
// through reshapes, transposes and stop_gradient.
import type { Graph, Node } from "../ir/types.ts";
import type { ScanAttrs } from "../ops/attrs.ts";
import { OPS } from "../ops/registry.ts";

/** Follows views, transposes and stop_gradient back to the node that
 * computes the values (each keeps the set of values). */
function source(g: Graph, n: Node): Node {
  let t = n;
  while (OPS[t.op].ts.kind === "view" || t.op === "stop_gradient" || t.op === "transpose") t = g.nodes[t.inputs[0]!]!;
  return t;
}

/** Whether `n` is the constant `v` (a scalar or a broadcast of one). */
function isConst(g: Graph, n: Node, v: number): boolean {
  const t = source(g, n);
  return t.op === "const" && (t as Node<"const">).attrs.value === v;
}

/** Whether every element of `n` (in graph `g`) is exactly 0 or 1, as f32. */
export function binaryValued(g: Graph, n: Node): boolean {
  if (n.dtype !== "f32") return false;
  const t = source(g, n);
  if (t.op === "cast") return g.nodes[t.inputs[0]!]!.op === "compare";
  if (t.op === "select") {
    const [a, b] = [g.nodes[t.inputs[1]!]!, g.nodes[t.inputs[2]!]!];
    return (isConst(g, a, 1) && isConst(g, b, 0)) || (isConst(g, a, 0) && isConst(g, b, 1));
  }
  if (t.op === "tuple_get") {
    const scan = g.nodes[t.inputs[0]!]!;
    if (scan.op !== "scan") return false;
    const a = scan.attrs as ScanAttrs;
    const k = (t as Node<"tuple_get">).attrs.index;
    // A final carry is the initial value when no step runs: a counted scan
    // may run none, so only fixed-length scans of at least one step count.
    if (k >= a.nCarry || a.counted === true || a.length < 1) return false;
    const out = a.body.outputs.get(String(k));
    return out !== undefined && binaryValued(a.body, a.body.nodes[out]!);
  }
  return false;
}
