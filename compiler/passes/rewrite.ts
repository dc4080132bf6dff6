// The rewrite engine the passes share: rebuilds a graph node by node into a
// fresh one, offering each (input-remapped) node to a table of rules keyed by
// op. A rule returns the id of a replacement built with the Builder, or
// undefined to keep the node. Scan bodies are rewritten with the same rules.

import { Builder } from "../ir/builder.ts";
import type { Graph, Node, Prim } from "../ir/types.ts";
import type { ScanAttrs } from "../ops/attrs.ts";
import { OPS } from "../ops/registry.ts";

export type Rule<P extends Prim> = (b: Builder, n: Node<P>) => number | undefined;
export type RuleTable = { readonly [P in Prim]?: Rule<P> };

/** `rules` may be a factory when rules keep per-graph memory (CSE). */
export function rewrite(g: Graph, rulesOrFactory: RuleTable | (() => RuleTable)): Graph {
  const rules = typeof rulesOrFactory === "function" ? rulesOrFactory() : rulesOrFactory;
  const b = new Builder();
  const map: number[] = [];
  for (const n of g.nodes) {
    const inputs = n.inputs.map((i) => map[i]!);
    let attrs = n.attrs;
    if (n.op === "scan") {
      const a = n.attrs as ScanAttrs;
      attrs = { ...a, body: rewrite(a.body, rulesOrFactory) };
    }
    const cand = { ...n, id: b.graph.nodes.length, inputs, attrs } as Node;
    b.loc = n.loc;
    const rule = rules[n.op] as Rule<Prim> | undefined;
    const r = rule ? rule(b, cand) : undefined;
    if (r !== undefined) {
      map.push(r);
    } else {
      b.graph.nodes.push(cand);
      map.push(cand.id);
    }
  }
  for (const [k, id] of g.outputs) b.graph.outputs.set(k, map[id]!);
  return b.graph;
}

/** Keeps only nodes that outputs depend on (scan_args always stay: a body's
 * argument list is fixed by its scan). */
export function dce(g: Graph): Graph {
  const live = new Array<boolean>(g.nodes.length).fill(false);
  for (const id of g.outputs.values()) live[id] = true;
  for (let id = g.nodes.length - 1; id >= 0; id--) {
    const n = g.nodes[id]!;
    if (n.op === "scan_arg") live[id] = true;
    if (live[id]) for (const i of n.inputs) live[i] = true;
  }
  const map: number[] = [];
  const nodes: Node[] = [];
  for (const n of g.nodes) {
    if (!live[n.id]) continue;
    let attrs = n.attrs;
    if (n.op === "scan") {
      const a = n.attrs as ScanAttrs;
      attrs = { ...a, body: dce(a.body) };
    }
    map[n.id] = nodes.length;
    nodes.push({ ...n, id: nodes.length, inputs: n.inputs.map((i) => map[i]!), attrs } as Node);
  }
  const outputs = new Map<string, number>();
  for (const [k, id] of g.outputs) outputs.set(k, map[id]!);
  return { nodes, outputs };
}

/** Common-subexpression elimination: one node per (op, inputs, attrs). Random
 * ops are pure functions of (salt, counters), so equal ones are equal too.
 * Scans are never merged (their attrs hold a whole body graph). */
export function cse(g: Graph): Graph {
  return rewrite(g, () => {
    const seen = new Map<string, number>();
    const rule = (b: Builder, n: Node): number | undefined => {
      if (n.op === "scan" || n.op === "scan_arg") return undefined;
      const key = `${n.op}|${n.inputs.join(",")}|${JSON.stringify(n.attrs)}|${n.dtype}|${n.shape.join(",")}`;
      const hit = seen.get(key);
      if (hit !== undefined) return hit;
      seen.set(key, b.graph.nodes.length);
      return undefined;
    };
    const table: Record<string, Rule<Prim>> = {};
    for (const op of Object.keys(OPS)) table[op] = rule;
    return table as RuleTable;
  });
}
