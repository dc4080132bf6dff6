// Fused SGD updates: `W ← W − c·(±M₁ ± M₂ …)` where every Mᵢ is a matrix
// product used nowhere else becomes one accumulating kernel call per
// product, `W += (∓c)·op(A)@op(B)`, written straight into W's buffer.
//
// Why: at small batches a weight gradient is a rank-k outer product as big as
// W, and the plain lowering writes it to its own buffer and then runs a loop
// that reads W and the gradient and writes W: three passes over W-sized
// memory where the fused call makes one (read and write W). For the stacked
// dA's fine-tuning at batch 1 that is most of the step.
//
// The pattern is found on the optimised graph, after autodiff and the
// optimizer's update graph were built from primitives (no gradient code here):
//   %u = sub(param W, %s)   an output written in place into W
//   %s = mul(const c, %g)   (either operand order), fused into %u's loop
//   %g = matmul | add(%g, %g) | sub(%g, %g) | neg(%g), each fused (single
//        consumer), the matmuls with a buffer of their own and one consumer;
//        any other term (an L2 penalty's λW) stays in %u's loop, which then
//        runs first with the products read as 0.
// Trap: the products move from their own place in the step to the update's
// place, later. That is safe because no buffer is reused within a step and
// the only buffers written in place are parameters and state; a product that
// reads a parameter or state leaf, directly or through a view (a reshape
// shares its operand's buffer), is therefore left alone (its leaf might be
// updated in between).

import type { Graph, Node } from "../ir/types.ts";
import { shapeEq } from "../ir/types.ts";
import type { Fusion } from "./fusion.ts";
import { OPS } from "../ops/registry.ts";

/** The node whose buffer `id` reads: views (reshape) share their operand's. */
function bufferOwner(g: Graph, id: number): number {
  let n = g.nodes[id]!;
  while (OPS[n.op].ts.kind === "view") n = g.nodes[n.inputs[0]!]!;
  return n.id;
}

export interface FusedUpdate {
  /** The parameter (or state) leaf the products accumulate into. */
  readonly leaf: Node;
  /** Each product with the factor it is added with (−c or +c). */
  readonly terms: readonly { readonly matmul: Node<"matmul">; readonly alpha: number }[];
  /** Whether other terms remain (an L2 penalty's λW): the update's loop then
   * runs first with the products read as 0, and the products follow. */
  readonly rest: boolean;
}

/** The in-place updates of `g` that fuse, keyed by the update node's id. */
export function findFusedUpdates(g: Graph, f: Fusion, inPlaceLeaf: (outName: string, n: Node) => Node | undefined): Map<number, FusedUpdate> {
  const found = new Map<number, FusedUpdate>();
  for (const [outName, id] of g.outputs) {
    const u = g.nodes[id]!;
    if (u.op !== "sub" || u.dtype !== "f32") continue;
    const leaf = inPlaceLeaf(outName, u);
    if (!leaf || u.inputs[0] !== leaf.id) continue;
    const found1 = updateTerms(g, f, leaf, u);
    if (found1) found.set(u.id, { leaf, ...found1 });
  }
  return found;
}

function updateTerms(g: Graph, f: Fusion, leaf: Node, u: Node): Pick<FusedUpdate, "terms" | "rest"> | undefined {
  const only = (id: number, consumer: number) => f.consumers[id]!.length === 1 && f.consumers[id]![0] === consumer && !f.isOutput[id];
  const s = g.nodes[u.inputs[1]!]!;
  if (s.op !== "mul" || f.placement[s.id] !== "inline" || !only(s.id, u.id)) return undefined;
  const [x, y] = s.inputs.map((i) => g.nodes[i]!) as [Node, Node];
  const [c, grad] = x.op === "const" ? [x, y] : y.op === "const" ? [y, x] : [undefined, undefined];
  if (!c || !grad) return undefined;
  const rate = (c as Node<"const">).attrs.value;
  const terms: { matmul: Node<"matmul">; alpha: number }[] = [];
  let rest = false;
  // Walks the sum of terms below `mul`; anything that is not a fusable
  // product, or a fused ±/neg leading to one, stays in the loop.
  const walk = (n: Node, parent: number, sign: number): void => {
    const mine = only(n.id, parent) && shapeEq(n.shape, leaf.shape) && n.dtype === "f32";
    if (mine && n.op === "matmul") {
      const mm = n as Node<"matmul">;
      const readsLeaf = n.inputs.some((i) => ["param", "state", "scan_arg"].includes(g.nodes[bufferOwner(g, i)]!.op));
      if (f.placement[n.id] === "buffer" && !(mm.attrs.transA && mm.attrs.transB) && !readsLeaf) {
        terms.push({ matmul: mm, alpha: -rate * sign });
        return;
      }
    }
    if (mine && f.placement[n.id] === "inline" && (n.op === "add" || n.op === "sub")) {
      walk(g.nodes[n.inputs[0]!]!, n.id, sign);
      walk(g.nodes[n.inputs[1]!]!, n.id, n.op === "sub" ? -sign : sign);
      return;
    }
    if (mine && f.placement[n.id] === "inline" && n.op === "neg") return walk(g.nodes[n.inputs[0]!]!, n.id, -sign);
    rest = true;
  };
  walk(grad, s.id, 1);
  return terms.length > 0 ? { terms, rest } : undefined;
}
