// Checks of the graph's structure: dependency cycles among graph entries and
// among the names of a scan body (E013), and what nothing uses (W001 graph
// entries, W003 parameters).

import type { Diagnostic } from "../diagnostics.ts";
import { type CheckContext, type Ref, refAt, scanEntries, type SpecCheck } from "./context.ts";

interface Edge {
  readonly to: string;
  readonly ref: Ref;
}

/** Dependencies between graph entries (scan outputs/finals count as their scan). */
function entryEdges(ctx: CheckContext): Map<string, Edge[]> {
  const edges = new Map<string, Edge[]>();
  for (const r of ctx.refs) {
    if (r.from === undefined || r.role !== "tensor") continue;
    if (r.scan && ctx.inner.get(r.scan)?.has(r.name)) continue;
    const to = ctx.entryOf(r.name);
    if (to === undefined) continue;
    const list = edges.get(r.from) ?? [];
    list.push({ to, ref: r });
    edges.set(r.from, list);
  }
  return edges;
}

/** One cycle through each strongly connected component that has one. */
function findCycles(nodes: readonly string[], edges: ReadonlyMap<string, readonly Edge[]>): Edge[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const sccs: string[][] = [];
  let next = 0;
  const strong = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    on.add(v);
    for (const { to } of edges.get(v) ?? []) {
      if (!index.has(to)) {
        strong(to);
        low.set(v, Math.min(low.get(v)!, low.get(to)!));
      } else if (on.has(to)) low.set(v, Math.min(low.get(v)!, index.get(to)!));
    }
    if (low.get(v) === index.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      sccs.push(comp);
    }
  };
  for (const v of nodes) if (!index.has(v)) strong(v);
  const cycles: Edge[][] = [];
  for (const comp of sccs) {
    const set = new Set(comp);
    const start = nodes.find((n) => set.has(n))!;
    const self = (edges.get(start) ?? []).find((e) => e.to === start);
    if (comp.length === 1 && !self) continue;
    if (self) {
      cycles.push([self]);
      continue;
    }
    // Breadth-first shortest path back to the start, inside the component.
    const prev = new Map<string, Edge>();
    const queue = [start];
    let found: Edge | undefined;
    while (queue.length && !found) {
      const v = queue.shift()!;
      for (const e of edges.get(v) ?? []) {
        if (!set.has(e.to)) continue;
        if (e.to === start) {
          found = e;
          break;
        }
        if (!prev.has(e.to)) {
          prev.set(e.to, e);
          queue.push(e.to);
        }
      }
    }
    if (!found) continue;
    const path: Edge[] = [found];
    for (let v = found.ref.from!; v !== start; ) {
      const e = prev.get(v)!;
      path.unshift(e);
      v = e.ref.from!;
    }
    cycles.push(path);
  }
  return cycles;
}

export const cycles: SpecCheck = {
  code: "E013",
  title: "dependency cycle",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    const nodes = Object.keys(ls.spec.graph);
    for (const cyc of findCycles(nodes, entryEdges(ctx))) {
      const first = cyc[0]!.ref.from!;
      const chain = [first, ...cyc.map((e) => e.to)].join(" → ");
      out.push(
        ctx.diag("E013", { path: ["graph", first], key: true }, cyc.length === 1 ? `graph entry '${first}' uses itself` : `dependency cycle among graph entries: ${chain}`, {
          help: "graph entries must form a DAG; to carry state from step to step use a `scan` with `carry`",
          related: cyc.map((e) => ctx.related(refAt(e.ref), `'${e.ref.from}' uses '${e.ref.name}' here`)),
        }),
      );
    }
    // Inside scan bodies: a carry's name is its incoming value, so only
    // references to other (non-carry) body names are dependencies.
    for (const [n, e] of scanEntries(ls.spec)) {
      const carry = new Set(Object.keys(e.scan.carry));
      const seqs = new Set(Object.keys(e.scan.sequences ?? {}));
      const bodyNames = Object.keys(e.scan.body);
      const edges = new Map<string, Edge[]>();
      for (const r of ctx.refs) {
        if (r.scan !== n || r.fromBody === undefined || r.role !== "tensor") continue;
        if (carry.has(r.name) || seqs.has(r.name) || !(r.name in e.scan.body)) continue;
        const list = edges.get(r.fromBody) ?? [];
        list.push({ to: r.name, ref: { ...r, from: r.fromBody } });
        edges.set(r.fromBody, list);
      }
      for (const cyc of findCycles(bodyNames, edges)) {
        const first = cyc[0]!.ref.from!;
        const chain = [first, ...cyc.map((x) => x.to)].join(" → ");
        out.push(
          ctx.diag("E013", { path: ["graph", n, "scan", "body", first], key: true }, `dependency cycle in the body of scan '${n}': ${chain}`, {
            help: "a value that depends on the previous step must be a carry (`carry: { name: initial }`)",
            related: cyc.map((x) => ctx.related(refAt(x.ref), `'${x.ref.from}' uses '${x.ref.name}' here`)),
          }),
        );
      }
    }
    return out;
  },
};

export const unusedEntry: SpecCheck = {
  code: "W001",
  title: "graph entry used by no loss or metric",
  run(ls, ctx) {
    const edges = entryEdges(ctx);
    const reached = new Set<string>();
    const visit = (n: string | undefined) => {
      if (n === undefined || reached.has(n)) return;
      reached.add(n);
      for (const e of edges.get(n) ?? []) visit(e.to);
    };
    // Roots: what losses and metrics read, and what phases store (state
    // updates) or report.
    for (const r of ctx.refs) if (r.from === undefined && (r.path[0] === "losses" || r.path[0] === "metrics" || ((r.path[0] === "phases" || r.path[0] === "samplers") && r.role === "tensor"))) visit(ctx.entryOf(r.name));
    return Object.keys(ls.spec.graph)
      .filter((n) => !reached.has(n))
      .map((n) => ctx.diag("W001", { path: ["graph", n], key: true }, `graph entry '${n}' is not used by any loss, metric, state update, report or sampler`, { help: "remove it, or use it in a loss or metric" }));
  },
};

export const unusedParam: SpecCheck = {
  code: "W003",
  title: "parameter never used",
  run(ls, ctx) {
    const used = new Set<string>();
    for (const r of ctx.refs) {
      if (r.role === "tensor" || r.role === "probs" || r.role === "labels") {
        if (r.scan && ctx.inner.get(r.scan)?.has(r.name)) continue;
        used.add(r.name);
      } else if (r.role === "param" && r.path[0] === "losses") used.add(r.name);
    }
    return Object.keys(ls.spec.params)
      .filter((p) => !used.has(p))
      .map((p) => ctx.diag("W003", { path: ["params", p], key: true }, `parameter '${p}' is not used by the graph, any loss or any metric`, { help: "remove it, or use it in the graph" }));
  },
};
