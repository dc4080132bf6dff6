// Copies the nodes of one graph into a builder's graph with remapped inputs,
// keeping attributes (random salts included) and locations. Used to inline a
// scan body into the body of its gradient scan, so the recomputed forward
// values — random draws too — are the same as the forward pass's.

import type { Builder } from "./builder.ts";
import type { Graph, Node } from "./types.ts";

/** Returns the new id of every node of `src`; `args[k]` replaces scan_arg k. */
export function cloneInto(b: Builder, src: Graph, args: readonly number[]): number[] {
  const ids: number[] = [];
  for (const n of src.nodes) {
    if (n.op === "scan_arg") {
      const k = (n as Node<"scan_arg">).attrs.index;
      const a = args[k];
      if (a === undefined) throw new Error(`cloneInto: no argument for scan_arg ${k}`);
      ids.push(a);
      continue;
    }
    const id = b.graph.nodes.length;
    b.graph.nodes.push({ ...n, id, inputs: n.inputs.map((i) => ids[i]!) });
    ids.push(id);
  }
  return ids;
}
