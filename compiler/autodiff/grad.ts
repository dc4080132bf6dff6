// Reverse-mode differentiation over the IR, at compile time. Walks the nodes
// between the seeds and the wanted inputs in reverse topological order, asks
// each op for its VJP (written in IR ops), and sums cotangents where a value
// fans out. stop_gradient, integer values and ops without a gradient cut the
// flow (their VJPs return null). Tuples (scan) collect one cotangent per
// element through their `tuple_get` consumers.

import type { Builder } from "../ir/builder.ts";
import { type Graph, IRError, type Node, type SpecLoc, isFloat } from "../ir/types.ts";
import type { Cotangent } from "../ops/op.ts";
import { OPS } from "../ops/registry.ts";

/** Cotangents of `wrt` given cotangents `seeds` of some outputs. Appends the
 * gradient nodes to the builder's graph; null where no gradient flows. */
export function vjpGraph(b: Builder, seeds: ReadonlyArray<readonly [number, number]>, wrt: readonly number[]): (number | null)[] {
  const g = b.graph;
  const n = g.nodes.length;
  const live = between(g, seeds.map((s) => s[0]), wrt);
  const ct = new Map<number, number>();
  const tupleCt = new Map<number, (number | null)[]>();
  const accumulate = (id: number, c: number) => {
    const prev = ct.get(id);
    ct.set(id, prev === undefined ? c : b.add(prev, c));
  };
  for (const [id, c] of seeds) accumulate(id, c);

  for (let id = n - 1; id >= 0; id--) {
    if (!live[id]) continue;
    const node = g.nodes[id]!;
    const saved = b.loc;
    // What the rule builds is part of the gradient of this node's spec line
    // (generated code marks it so); its value names are not this node's.
    b.loc = node.loc && { file: node.loc.file, line: node.loc.line, col: node.loc.col, ...(node.loc.what ? { what: node.loc.what } : {}), grad: true };
    if (node.op === "tuple_get") {
      const c = ct.get(id);
      if (c !== undefined) {
        const src = node.inputs[0]!;
        const arr = tupleCt.get(src) ?? [];
        const k = (node as Node<"tuple_get">).attrs.index;
        arr[k] = arr[k] === undefined || arr[k] === null ? c : b.add(arr[k]!, c);
        tupleCt.set(src, arr);
      }
    } else if (node.op === "scan") {
      const arr = tupleCt.get(id);
      if (arr) pushInputs(b, node, OPS.scan.vjp(b, node as Node<"scan">, arr), live, accumulate);
    } else {
      const c = ct.get(id);
      if (c !== undefined && node.inputs.length > 0) {
        const rule = OPS[node.op].vjp as (b: Builder, n: Node, c: Cotangent<"add">) => readonly (number | null)[];
        pushInputs(b, node, rule(b, node, c), live, accumulate);
      }
    }
    b.loc = saved;
  }
  return wrt.map((w) => ct.get(w) ?? null);
}

function pushInputs(b: Builder, node: Node, cts: readonly (number | null)[], live: boolean[], acc: (id: number, c: number) => void) {
  if (cts.length !== node.inputs.length) {
    throw new IRError(`VJP of ${node.op} returned ${cts.length} cotangents for ${node.inputs.length} inputs`, node.loc);
  }
  node.inputs.forEach((inp, i) => {
    const c = cts[i];
    if (c === null || c === undefined || !live[inp]) return;
    if (!isFloat(b.dtype(inp))) return;
    acc(inp, c);
  });
}

/** Nodes that are ancestors of some seed and descendants of some wrt node. */
function between(g: Graph, seeds: readonly number[], wrt: readonly number[]): boolean[] {
  const n = g.nodes.length;
  const fromWrt = new Array<boolean>(n).fill(false);
  for (const w of wrt) fromWrt[w] = true;
  for (let id = 0; id < n; id++) {
    if (!fromWrt[id] && g.nodes[id]!.inputs.some((i) => fromWrt[i])) fromWrt[id] = true;
  }
  const toSeed = new Array<boolean>(n).fill(false);
  for (const s of seeds) toSeed[s] = true;
  for (let id = n - 1; id >= 0; id--) {
    if (toSeed[id]) for (const i of g.nodes[id]!.inputs) toSeed[i] = true;
  }
  return fromWrt.map((f, i) => f && toSeed[i]!);
}

/** Gradient of a scalar `loss` with respect to `wrt`. */
export function grad(b: Builder, loss: number, wrt: readonly number[]): (number | null)[] {
  if (b.shape(loss).length !== 0) throw new IRError("grad: the loss must be a scalar", b.node(loss).loc);
  return vjpGraph(b, [[loss, b.fill(1, loss)]], wrt);
}

/** Ops through which no derivative flows to a float operand (their VJP
 * returns null for it); stop_gradient is not one: it cuts on purpose. */
const NOT_DIFFERENTIABLE: ReadonlySet<string> = new Set(["compare", "argmax", "one_hot", "cast"]);

const DESCRIBE: Readonly<Record<string, string>> = {
  compare: "a comparison",
  argmax: "argmax",
  one_hot: "one_hot",
  cast: "a cast to an integer",
};

/** `grad(f, x)` of a spec expression: ∂f/∂x for a float scalar f, built by
 * the same reverse pass as the training gradient, so the result is ordinary
 * graph nodes that can be differentiated again. `what` names f and x as the
 * spec writes them (messages). Where only stop_gradient separates f from x
 * the gradient is zeros, as asked; where an op without a derivative does,
 * or f does not read x at all, it is an error. */
export function gradOf(b: Builder, f: number, x: number, what: { readonly f: string; readonly x: string }, loc?: SpecLoc): number {
  const call = `grad(${what.f}, ${what.x})`;
  const fs = b.shape(f);
  if (!isFloat(b.dtype(f))) throw new IRError(`${call}: ${what.f} is ${b.dtype(f)}, not a float: it has no derivative`, loc, "E046");
  if (fs.length !== 0) {
    throw new IRError(`${call}: ${what.f} has shape [${fs.join(", ")}]; grad differentiates a scalar: write grad(sum(${what.f}), ${what.x}) for the gradient of its sum`, loc, "E046");
  }
  if (!isFloat(b.dtype(x))) throw new IRError(`${call}: ${what.x} is ${b.dtype(x)}; only float values have gradients`, loc, "E047");
  const [g] = vjpGraph(b, [[f, b.fill(1, f)]], [x]);
  if (g !== null && g !== undefined) {
    b.derivatives.push({ f, x, g, what: call });
    return g;
  }
  const g0 = b.graph;
  const on = between(g0, [f], [x]);
  if (!on[x]) throw new IRError(`${call}: ${what.f} does not depend on ${what.x}`, loc, "E047");
  for (let id = x; id <= f; id++) {
    const n = g0.nodes[id]!;
    if (!on[id] || !NOT_DIFFERENTIABLE.has(n.op)) continue;
    if (n.op === "cast" && isFloat(n.dtype)) continue;
    const where = n.loc ? ` (${n.loc.file}:${n.loc.line}:${n.loc.col})` : "";
    throw new IRError(`${call}: every path from ${what.x} to ${what.f} passes through ${DESCRIBE[n.op]}${where}, which has no derivative`, loc, "E048");
  }
  // Only stop_gradient separates them: the gradient asked for is zero.
  return b.fill(0, x);
}
