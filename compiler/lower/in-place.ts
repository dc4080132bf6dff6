// The one in-place rule, for every target: an update of a parameter or state
// (graph output `param:W` / `state:s`) is written straight into the leaf's
// buffer when that cannot change what any kernel reads.
//
// Conditions, and the trap each guards against:
// - The update is an elementwise loop root: element i is computed from
//   element i of the old value only. A kernel (a product, a gather) may read
//   other elements of the leaf after it has overwritten some.
// - Nothing else reads the update's value (it is only committed).
// - Every read of the old value happens in a kernel that runs no later than
//   the update. A read is where its kernel runs: a fused (inline) consumer
//   runs inside its root's loop, which may come after the update even though
//   the consumer's own node id is smaller; a view (reshape) shares the leaf's
//   buffer, so its readers count as readers of the leaf.
// - The old value is not itself an output (it would then be returned
//   overwritten).
// Updates that fail are computed into a buffer of their own and copied into
// the leaf after every kernel of the function has run.

import type { Graph, Node } from "../ir/types.ts";
import { OPS } from "../ops/registry.ts";
import type { Fusion } from "./fusion.ts";

/** Id of the node whose kernel computes node `id` (itself when it has a buffer). */
function runsAt(g: Graph, f: Fusion, id: number): number {
  const p = f.placement[id];
  if (p === "buffer") return id;
  // Inline and index-mapped values are computed in each consumer's loop.
  return Math.max(id, ...f.consumers[id]!.map((c) => runsAt(g, f, c)));
}

/** The latest kernel position at which `leaf`'s buffer is read. */
function lastRead(g: Graph, f: Fusion, leaf: number): number {
  let last = -1;
  for (const c of f.consumers[leaf]!) {
    const viaView = OPS[g.nodes[c]!.op].ts.kind === "view";
    last = Math.max(last, viaView ? Math.max(runsAt(g, f, c), lastRead(g, f, c)) : runsAt(g, f, c));
  }
  return last;
}

/** The leaf that output `outName` (computed by `n`) may be written into in place. */
export function inPlaceLeaf(g: Graph, f: Fusion, outName: string, n: Node): Node | undefined {
  const m = /^(param|state):(.+)$/.exec(outName);
  if (!m || OPS[n.op].ts.kind !== "elementwise" || f.placement[n.id] !== "buffer") return undefined;
  const leaf = g.nodes.find((x) => x.op === m[1] && (x.attrs as { name: string }).name === m[2]);
  if (!leaf || f.consumers[n.id]!.length > 0) return undefined;
  if (lastRead(g, f, leaf.id) > n.id) return undefined;
  if ([...g.outputs.values()].includes(leaf.id)) return undefined;
  return leaf;
}
