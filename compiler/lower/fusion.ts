// Decides which nodes get a buffer and which are fused into the loop of the
// elementwise node that consumes them. A fused chain is emitted as one loop
// with one store; broadcasts feeding elementwise code become index maps
// instead of copies. Pure analysis: no code text here.

import type { Graph, Node } from "../ir/types.ts";
import { shapeEq } from "../ir/types.ts";
import { OPS } from "../ops/registry.ts";
import { isSuffix } from "../ops/reduce-sum.ts";

export type Placement =
  /** Computed inside its consumer's loop; no buffer. */
  | "inline"
  /** A broadcast read through an index map by elementwise consumers. */
  | "indexmap"
  /** Has its own buffer (kernel output, loop root, leaf, view, tuple element). */
  | "buffer";

export interface Fusion {
  readonly placement: readonly Placement[];
  readonly consumers: readonly number[][];
  readonly isOutput: readonly boolean[];
}

const kindOf = (n: Node) => OPS[n.op].ts.kind;

/** reduce_sum over trailing axes: the emitter fuses its operand's chain. */
function fusedReduction(n: Node): boolean {
  if (n.op !== "reduce_sum") return false;
  const axes = (n as Node<"reduce_sum">).attrs.axes;
  return isSuffix(axes, n.shape.length + axes.length);
}

export function analyzeFusion(g: Graph): Fusion {
  const n = g.nodes.length;
  const consumers: number[][] = Array.from({ length: n }, () => []);
  for (const node of g.nodes) for (const i of node.inputs) consumers[i]!.push(node.id);
  const isOutput = new Array<boolean>(n).fill(false);
  for (const id of g.outputs.values()) isOutput[id] = true;
  const placement = new Array<Placement>(n).fill("buffer");
  const elementwiseUser = (c: number, shapeOf: Node) => kindOf(g.nodes[c]!) === "elementwise" && shapeEq(g.nodes[c]!.shape, shapeOf.shape);

  // Consumers come after producers, so deciding from the last node backwards
  // sees every consumer's placement first.
  for (let id = n - 1; id >= 0; id--) {
    const node = g.nodes[id]!;
    const cs = consumers[id]!;
    if (isOutput[id] || cs.length === 0) continue;
    if (node.op === "const") {
      // A constant is a literal wherever an elementwise loop or index map reads it.
      if (cs.every((c) => kindOf(g.nodes[c]!) === "elementwise" || placement[c] === "indexmap")) placement[id] = "inline";
      continue;
    }
    if (node.op === "broadcast") {
      if (cs.every((c) => elementwiseUser(c, node))) placement[id] = "indexmap";
      continue;
    }
    if (kindOf(node) !== "elementwise") continue;
    if (cs.length === 1 && elementwiseUser(cs[0]!, node)) placement[id] = "inline";
    // A sum over trailing axes computes its operand inside its own loop.
    if (cs.length === 1 && fusedReduction(g.nodes[cs[0]!]!)) placement[id] = "inline";
  }
  // An index map reads a buffer; if its source was fused, give that a buffer.
  for (let id = 0; id < n; id++) {
    if (placement[id] !== "indexmap") continue;
    const src = g.nodes[id]!.inputs[0]!;
    if (placement[src] === "inline" && g.nodes[src]!.op !== "const") placement[src] = "buffer";
  }
  return { placement, consumers, isOutput };
}
