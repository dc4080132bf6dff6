// Cross-field checks of a schema-valid spec, as a table. Each check has one
// code and returns located diagnostics; `runChecks` runs them all over a shared
// context (parsed expressions, the names in scope, the reference list and the
// dependency graph). Shape and dtype rules that need the IR (E030–E049) are
// checked when the IR is built, not here.

import { type Diagnostic, displayPath, type RelatedLocation, sortDiagnostics } from "./diagnostics.ts";
import { type Expr, ExprError, FUNCTIONS, freeNames, parseExpr } from "./expr.ts";
import { choiceHelp, didYouMean } from "./suggest.ts";
import type { GraphEntry, LoadedSpec, Path, ScanNode } from "./types.ts";

/** What the checks see of a loaded spec (warnings are what they produce). */
export type CheckedSpec = Omit<LoadedSpec, "warnings">;

export interface SpecCheck {
  readonly code: string;
  readonly title: string;
  run(loaded: CheckedSpec, ctx: CheckContext): Diagnostic[];
}

export type NameKind = "input" | "param" | "graph" | "output" | "final";

export interface NameDef {
  readonly name: string;
  readonly kind: NameKind;
  /** Path of the defining key. */
  readonly path: Path;
  /** For `output`/`final`: the graph entry of the scan that binds it. */
  readonly owner?: string;
}

export interface ExprSite {
  readonly path: Path;
  readonly src: string;
  readonly expr?: Expr;
  readonly error?: ExprError;
  /** The graph entry of the scan whose body this is. */
  readonly scan?: string;
}

/** What a referenced name must be. */
export type RefRole = "tensor" | "labels" | "probs" | "param" | "loss" | "metric" | "scanOutput" | "scanFinal";

export interface Ref {
  readonly name: string;
  readonly role: RefRole;
  /** Where the name is written: a scalar, or an expression string. */
  readonly path: Path;
  /** Offset in the expression string at `path` (expressions only). */
  readonly offset?: number;
  /** Resolved inside the body of this scan (graph entry name). */
  readonly scan?: string;
  /** The graph entry whose definition holds the reference (for dependencies). */
  readonly from?: string;
  /** For body references: the body name whose expression holds it. */
  readonly fromBody?: string;
  /** Which field reads it (`losses.cost.nll.probs`), for messages. */
  readonly field: string;
}

export interface CheckContext {
  readonly exprs: readonly ExprSite[];
  /** Every definition of a global tensor name, in file order. */
  readonly defs: readonly NameDef[];
  /** The first definition of each global tensor name. */
  readonly scope: ReadonlyMap<string, NameDef>;
  readonly refs: readonly Ref[];
  /** Inner names of each scan: carries, sequences, body names. */
  readonly inner: ReadonlyMap<string, ReadonlySet<string>>;
  /** The dtype of a tensor name when it can be told without the IR. */
  dtypeOf(name: string): "int" | "float" | undefined;
  /** The graph entry that computes a global name (itself, or its scan). */
  entryOf(name: string): string | undefined;
  diag(code: string, at: At, message: string, extra?: Extra): Diagnostic;
  related(at: At, message: string): RelatedLocation;
}

export interface At {
  readonly path: Path;
  readonly key?: boolean;
  readonly offset?: number;
  readonly len?: number;
}

export interface Extra {
  readonly help?: string;
  readonly notes?: readonly string[];
  readonly related?: readonly RelatedLocation[];
}

const KIND_NAME: Readonly<Record<NameKind, string>> = {
  input: "an input",
  param: "a parameter",
  graph: "a graph entry",
  output: "a scan output",
  final: "a scan final",
};

const isScan = (e: GraphEntry): e is ScanNode => typeof e === "object" && "scan" in e;

// ---------------------------------------------------------------------------
// The context

export function createContext(ls: CheckedSpec): CheckContext {
  const { spec } = ls;
  const lines = ls.text.split(/\r?\n/);

  const defs: NameDef[] = [];
  for (const n of Object.keys(spec.data.inputs)) defs.push({ name: n, kind: "input", path: ["data", "inputs", n] });
  for (const n of Object.keys(spec.params)) defs.push({ name: n, kind: "param", path: ["params", n] });
  for (const [n, e] of Object.entries(spec.graph)) {
    defs.push({ name: n, kind: "graph", path: ["graph", n] });
    if (isScan(e)) {
      for (const o of Object.keys(e.scan.outputs ?? {})) defs.push({ name: o, kind: "output", path: ["graph", n, "scan", "outputs", o], owner: n });
      for (const f of Object.keys(e.scan.finals ?? {})) defs.push({ name: f, kind: "final", path: ["graph", n, "scan", "finals", f], owner: n });
    }
  }
  const scope = new Map<string, NameDef>();
  for (const d of defs) if (!scope.has(d.name)) scope.set(d.name, d);

  const exprs: ExprSite[] = [];
  const refs: Ref[] = [];
  const inner = new Map<string, Set<string>>();
  const parse = (path: Path, src: string, scan?: string): ExprSite => {
    let site: ExprSite;
    try {
      site = { path, src, expr: parseExpr(src), scan };
    } catch (e) {
      if (!(e instanceof ExprError)) throw e;
      site = { path, src, error: e, scan };
    }
    exprs.push(site);
    return site;
  };
  const exprRefs = (site: ExprSite, field: string, from?: string, fromBody?: string) => {
    if (!site.expr) return;
    for (const { name, pos } of freeNames(site.expr)) refs.push({ name, role: "tensor", path: site.path, offset: pos, scan: site.scan, from, fromBody, field });
  };
  const field = (name: string, role: RefRole, path: Path, from?: string) => refs.push({ name, role, path, from, field: displayPath(path) });

  for (const [n, e] of Object.entries(spec.graph)) {
    const base = ["graph", n];
    if (typeof e === "string") exprRefs(parse(base, e), `graph.${n}`, n);
    else if ("dense" in e) {
      const d = e.dense;
      field(d.input, "tensor", [...base, "dense", "input"], n);
      field(d.weight, "tensor", [...base, "dense", "weight"], n);
      if (d.bias !== undefined) field(d.bias, "tensor", [...base, "dense", "bias"], n);
    } else {
      const s = e.scan;
      const sb = [...base, "scan"];
      inner.set(n, new Set([...Object.keys(s.carry), ...Object.keys(s.sequences ?? {}), ...Object.keys(s.body)]));
      for (const [q, src] of Object.entries(s.sequences ?? {})) field(src, "tensor", [...sb, "sequences", q], n);
      for (const [c, src] of Object.entries(s.carry)) field(src, "tensor", [...sb, "carry", c], n);
      for (const [b, src] of Object.entries(s.body)) exprRefs(parse([...sb, "body", b], src, n), `graph.${n}.scan.body.${b}`, n, b);
      for (const [o, src] of Object.entries(s.outputs ?? {})) refs.push({ name: src, role: "scanOutput", path: [...sb, "outputs", o], scan: n, field: `graph.${n}.scan.outputs.${o}` });
      for (const [f, src] of Object.entries(s.finals ?? {})) refs.push({ name: src, role: "scanFinal", path: [...sb, "finals", f], scan: n, field: `graph.${n}.scan.finals.${f}` });
    }
  }
  for (const [l, t] of Object.entries(spec.losses)) {
    const b = ["losses", l];
    if (t.nll) {
      field(t.nll.probs, "probs", [...b, "nll", "probs"]);
      field(t.nll.labels, "labels", [...b, "nll", "labels"]);
    }
    if (t.cross_entropy) {
      field(t.cross_entropy.probs, "probs", [...b, "cross_entropy", "probs"]);
      field(t.cross_entropy.targets, "probs", [...b, "cross_entropy", "targets"]);
    }
    if (t.squared_error) {
      field(t.squared_error.pred, "probs", [...b, "squared_error", "pred"]);
      field(t.squared_error.target, "probs", [...b, "squared_error", "target"]);
    }
    for (const k of ["l1", "l2"] as const) t[k]?.params.forEach((p, i) => field(p, "param", [...b, k, "params", i]));
    if (t.expr) exprRefs(parse([...b, "expr", "value"], t.expr.value), `losses.${l}.expr.value`);
  }
  for (const [m, ms] of Object.entries(spec.metrics ?? {})) {
    const b = ["metrics", m];
    if ("zero_one" in ms || "nll" in ms) {
      const k = "zero_one" in ms ? "zero_one" : "nll";
      const f = "zero_one" in ms ? ms.zero_one : ms.nll;
      field(f.probs, "probs", [...b, k, "probs"]);
      field(f.labels, "labels", [...b, k, "labels"]);
    } else exprRefs(parse([...b, "expr", "value"], ms.expr.value), `metrics.${m}.expr.value`);
  }
  spec.phases.forEach((ph, i) => {
    const b = ["phases", i];
    field(ph.loss, "loss", [...b, "loss"]);
    ph.params?.forEach((p, j) => field(p, "param", [...b, "params", j]));
    if (ph.early_stopping) field(ph.early_stopping.monitor, "metric", [...b, "early_stopping", "monitor"]);
  });

  const entryOf = (name: string): string | undefined => {
    const d = scope.get(name);
    if (!d) return undefined;
    if (d.kind === "graph") return d.name;
    return d.owner;
  };

  // dtypes: inputs declare theirs, parameters are float, expressions follow
  // simple rules; anything unclear is undefined (the IR checks it later).
  type DT = "int" | "float" | "lit" | undefined;
  const memo = new Map<string, DT>();
  const combine = (a: DT, b: DT): DT => (a === "float" || b === "float" ? "float" : a === "int" && (b === "int" || b === "lit") ? "int" : b === "int" && a === "lit" ? "int" : undefined);
  const FLOAT_FNS = new Set(["tanh", "sigmoid", "exp", "log", "sqrt", "softplus", "softmax", "log_softmax", "bernoulli", "normal_like", "uniform_like", "one_hot", "mean"]);
  const SAME_FNS = new Set(["abs", "relu", "sum", "max", "stop_gradient", "time_major", "reshape", "broadcast", "binomial_mask"]);
  const ofExpr = (e: Expr): DT => {
    switch (e.kind) {
      case "num":
        return "lit";
      case "name":
        return ofName(e.name);
      case "unary":
      case "transpose":
        return ofExpr(e.arg);
      case "binary":
        return ["+", "-", "*", "@", "**"].includes(e.op) ? combine(ofExpr(e.left), ofExpr(e.right)) : undefined;
      case "call":
        if (FLOAT_FNS.has(e.fn)) return "float";
        if (e.fn === "argmax") return "int";
        if (SAME_FNS.has(e.fn)) return ofExpr(e.args[0]!);
        if (e.fn === "maximum" || e.fn === "minimum") return combine(ofExpr(e.args[0]!), ofExpr(e.args[1]!));
        if (e.fn === "where") return combine(ofExpr(e.args[1]!), ofExpr(e.args[2]!));
        return undefined;
    }
  };
  const ofName = (name: string): DT => {
    if (memo.has(name)) return memo.get(name);
    memo.set(name, undefined); // cycle guard
    const d = scope.get(name);
    let r: DT;
    if (!d) r = undefined;
    else if (d.kind === "input") r = spec.data.inputs[name]!.dtype === "i32" ? "int" : "float";
    else if (d.kind === "param") r = "float";
    else if (d.kind === "graph") {
      const e = spec.graph[name]!;
      if (typeof e === "string") {
        const site = exprs.find((s) => s.path.length === 2 && s.path[0] === "graph" && s.path[1] === name);
        r = site?.expr ? ofExpr(site.expr) : undefined;
      } else r = "dense" in e ? "float" : undefined;
    } else r = undefined;
    memo.set(name, r);
    return r;
  };

  const position = (at: At) => (at.offset !== undefined ? ls.locateIn(at.path, at.offset) : ls.locate(at.path, { key: at.key }));
  const spanAt = (line: number, col: number): number => {
    const rest = (lines[line - 1] ?? "").slice(col - 1);
    if (rest[0] === '"' || rest[0] === "'") {
      const end = rest.indexOf(rest[0], 1);
      return end > 0 ? end + 1 : 1;
    }
    const m = /^[A-Za-z0-9_.+\-]+/.exec(rest);
    return m ? m[0].length : 1;
  };

  return {
    exprs,
    defs,
    scope,
    refs,
    inner,
    dtypeOf: (n) => {
      const r = ofName(n);
      return r === "lit" ? undefined : r;
    },
    entryOf,
    diag(code, at, message, extra = {}) {
      const p = position(at);
      const d: Diagnostic = {
        code,
        severity: code.startsWith("W") ? "warning" : "error",
        file: ls.file,
        line: p.line,
        col: p.col,
        message,
        span: at.len ?? spanAt(p.line, p.col),
        sourceLine: lines[p.line - 1],
        ...(extra.help !== undefined ? { help: extra.help } : {}),
        ...(extra.notes?.length ? { notes: extra.notes } : {}),
        ...(extra.related?.length ? { related: extra.related } : {}),
      };
      return d;
    },
    related(at, message) {
      const p = position(at);
      return { line: p.line, col: p.col, message };
    },
  };
}

const refAt = (r: Ref): At => ({ path: r.path, offset: r.offset, len: r.offset !== undefined ? r.name.length : undefined });
const defAt = (d: NameDef): At => ({ path: d.path, key: true });

// ---------------------------------------------------------------------------
// The checks

function exprCheck(code: string, title: string): SpecCheck {
  return {
    code,
    title,
    run: (_ls, ctx) =>
      ctx.exprs
        .filter((s) => s.error?.code === code)
        .map((s) => ctx.diag(code, { path: s.path, offset: s.error!.offset, len: s.error!.length }, s.error!.message, { help: s.error!.help })),
  };
}

/** Why an unknown tensor name might have been written. */
function unknownNameHelp(ls: CheckedSpec, ctx: CheckContext, name: string, candidates: readonly string[]): string {
  const parts: string[] = [];
  const dym = didYouMean(name, candidates);
  if (dym) parts.push(dym);
  if (name in FUNCTIONS) parts.push(`'${name}' is a function: call it as ${FUNCTIONS[name]!.usage}`);
  else if (name in ls.spec.losses) parts.push(`'${name}' is a loss, not a tensor`);
  else if (ls.spec.metrics && name in ls.spec.metrics) parts.push(`'${name}' is a metric, not a tensor`);
  else {
    for (const [s, names] of ctx.inner) if (names.has(name)) parts.push(`'${name}' is local to the body of scan '${s}': bind it with \`outputs\` or \`finals\``);
  }
  if (!parts.length) parts.push(`define it under \`graph:\`, \`params:\` or \`data.inputs:\``);
  return parts.join("; ");
}

function scopeNames(ctx: CheckContext, scan?: string): string[] {
  return [...(scan ? [...(ctx.inner.get(scan) ?? [])] : []), ...ctx.scope.keys()];
}

const unknownTensor: SpecCheck = {
  code: "E010",
  title: "unknown tensor name",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const r of ctx.refs) {
      if (r.role !== "tensor" && r.role !== "labels" && r.role !== "probs") continue;
      if (r.scan && ctx.inner.get(r.scan)?.has(r.name)) continue;
      if (ctx.scope.has(r.name)) continue;
      const where = r.scan ? `in the body of scan '${r.scan}'` : `in ${r.field}`;
      out.push(ctx.diag("E010", refAt(r), `unknown tensor '${r.name}' ${where}`, { help: unknownNameHelp(ls, ctx, r.name, scopeNames(ctx, r.scan)) }));
    }
    return out;
  },
};

const definedTwice: SpecCheck = {
  code: "E012",
  title: "name defined twice",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const d of ctx.defs) {
      const first = ctx.scope.get(d.name)!;
      if (first === d) continue;
      out.push(
        ctx.diag("E012", defAt(d), `'${d.name}' is defined twice: as ${KIND_NAME[first.kind]} and as ${KIND_NAME[d.kind]}`, {
          help: "tensor names (inputs, parameters, graph entries, scan outputs and finals) share one namespace: rename one",
          related: [ctx.related(defAt(first), `'${d.name}' first defined here`)],
        }),
      );
    }
    for (const [n, e] of Object.entries(ls.spec.graph)) {
      if (!isScan(e)) continue;
      const s = e.scan;
      const seqs = Object.keys(s.sequences ?? {});
      for (const c of Object.keys(s.carry)) {
        if (seqs.includes(c)) {
          out.push(ctx.diag("E012", { path: ["graph", n, "scan", "carry", c], key: true }, `'${c}' is both a sequence and a carry of scan '${n}'`, { help: "rename one of them", related: [ctx.related({ path: ["graph", n, "scan", "sequences", c], key: true }, `sequence '${c}'`)] }));
        }
      }
      for (const b of Object.keys(s.body)) {
        if (seqs.includes(b)) {
          out.push(ctx.diag("E012", { path: ["graph", n, "scan", "body", b], key: true }, `body name '${b}' redefines the sequence '${b}' of scan '${n}'`, { help: "a sequence is read-only in the body: choose another name", related: [ctx.related({ path: ["graph", n, "scan", "sequences", b], key: true }, `sequence '${b}'`)] }));
        }
      }
    }
    const phases = new Map<string, number>();
    ls.spec.phases.forEach((p, i) => {
      const j = phases.get(p.name);
      if (j === undefined) phases.set(p.name, i);
      else out.push(ctx.diag("E012", { path: ["phases", i, "name"] }, `phase name '${p.name}' is used twice`, { help: "phase names identify phases in logs and checkpoints: make them unique", related: [ctx.related({ path: ["phases", j, "name"] }, "first used here")] }));
    });
    return out;
  },
};

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

const cycles: SpecCheck = {
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
    for (const [n, e] of Object.entries(ls.spec.graph)) {
      if (!isScan(e)) continue;
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

const unknownLoss: SpecCheck = {
  code: "E014",
  title: "unknown loss",
  run(ls, ctx) {
    const losses = Object.keys(ls.spec.losses);
    return ctx.refs
      .filter((r) => r.role === "loss" && !(r.name in ls.spec.losses))
      .map((r) => {
        return ctx.diag("E014", refAt(r), `phase loss '${r.name}' is not defined under \`losses:\``, { help: choiceHelp(r.name, losses, "losses") });
      });
  },
};

const notAParam: SpecCheck = {
  code: "E015",
  title: "not a parameter",
  run(ls, ctx) {
    const params = Object.keys(ls.spec.params);
    return ctx.refs
      .filter((r) => r.role === "param" && !(r.name in ls.spec.params))
      .map((r) => {
        const d = ctx.scope.get(r.name);
        const msg = d ? `'${r.name}' is ${KIND_NAME[d.kind]}, not a parameter (${r.field})` : `unknown parameter '${r.name}' (${r.field})`;
        return ctx.diag("E015", refAt(r), msg, { help: choiceHelp(r.name, params, "parameters") });
      });
  },
};

const labelsNotInt: SpecCheck = {
  code: "E016",
  title: "labels are not integers",
  run(ls, ctx) {
    return ctx.refs
      .filter((r) => r.role === "labels" && ctx.dtypeOf(r.name) === "float")
      .map((r) => {
        const d = ctx.scope.get(r.name);
        const why = d?.kind === "input" ? `input '${r.name}' has dtype f32` : `'${r.name}' is a float tensor`;
        return ctx.diag("E016", refAt(r), `${r.field} must be integer class labels, but ${why}`, {
          help: d?.kind === "input" ? "declare the labels input with `dtype: i32` (and `classes: N`)" : "labels are the i32 class indices of the dataset, e.g. the input `y`",
        });
      });
  },
};

const intAsProbs: SpecCheck = {
  code: "E017",
  title: "integer tensor used as probabilities",
  run(ls, ctx) {
    return ctx.refs
      .filter((r) => r.role === "probs" && ctx.dtypeOf(r.name) === "int")
      .map((r) => {
        const inp = ls.spec.data.inputs[r.name];
        const depth = inp?.classes ?? "N";
        return ctx.diag("E017", refAt(r), `${r.field} must be a float tensor, but '${r.name}' holds integer labels`, {
          help: `for a distribution over classes define a graph entry \`${r.name}_onehot: one_hot(${r.name}, ${depth})\`; labels go in \`labels:\``,
        });
      });
  },
};

const monitorNotMetric: SpecCheck = {
  code: "E018",
  title: "early stopping monitor is not a metric",
  run(ls, ctx) {
    const metrics = Object.keys(ls.spec.metrics ?? {});
    return ctx.refs
      .filter((r) => r.role === "metric" && !metrics.includes(r.name))
      .map((r) => {
        const help = metrics.length === 0 ? "add a `metrics:` section, e.g. `error: { zero_one: { probs: p_y_given_x, labels: y } }`" : choiceHelp(r.name, metrics, "metrics");
        const what = r.name in ls.spec.losses ? ` ('${r.name}' is a loss; early stopping watches a validation metric)` : "";
        return ctx.diag("E018", refAt(r), `early stopping monitors '${r.name}', which is not a metric${what}`, { help });
      });
  },
};

const scanLength: SpecCheck = {
  code: "E019",
  title: "scan without length or sequences",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, e] of Object.entries(ls.spec.graph)) {
      if (!isScan(e)) continue;
      if (e.scan.length === undefined && Object.keys(e.scan.sequences ?? {}).length === 0) {
        out.push(ctx.diag("E019", { path: ["graph", n, "scan"], key: true }, `scan '${n}' has neither \`length\` nor \`sequences\`: its number of steps is unknown`, { help: "add `length: K` (e.g. Gibbs steps) or iterate over a tensor with `sequences: { x_t: xs }`" }));
      }
    }
    return out;
  },
};

const scanBinding: SpecCheck = {
  code: "E020",
  title: "scan output or final names no value of the scan",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const r of ctx.refs) {
      if (r.role !== "scanOutput" && r.role !== "scanFinal") continue;
      const s = (ls.spec.graph[r.scan!] as ScanNode).scan;
      const carries = Object.keys(s.carry);
      if (r.role === "scanFinal") {
        if (carries.includes(r.name)) continue;
        out.push(ctx.diag("E020", refAt(r), `finals of scan '${r.scan}': '${r.name}' is not a carry of this scan`, { help: carries.length ? choiceHelp(r.name, carries, "carries") : "this scan has no carries" }));
      } else {
        const ok = [...Object.keys(s.body), ...carries.filter((c) => !(c in s.body))];
        if (ok.includes(r.name)) continue;
        out.push(ctx.diag("E020", refAt(r), `outputs of scan '${r.scan}': '${r.name}' is not a body name or carry of this scan`, { help: choiceHelp(r.name, ok, "per-step values") }));
      }
    }
    return out;
  },
};

const uniformRange: SpecCheck = {
  code: "E026",
  title: "empty uniform range",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, p] of Object.entries(ls.spec.params)) {
      const init = p.init;
      if (typeof init === "object" && "uniform" in init && !(init.uniform.low < init.uniform.high)) {
        out.push(ctx.diag("E026", { path: ["params", n, "init", "uniform", "high"] }, `uniform init of '${n}': high (${init.uniform.high}) must be greater than low (${init.uniform.low})`, { help: "e.g. `{ uniform: { low: -0.5, high: 0.5 } }`", related: [ctx.related({ path: ["params", n, "init", "uniform", "low"] }, "low is set here")] }));
      }
    }
    return out;
  },
};

const classesOnFloat: SpecCheck = {
  code: "E027",
  title: "classes on a float input",
  run(ls, ctx) {
    return Object.entries(ls.spec.data.inputs)
      .filter(([, i]) => i.classes !== undefined && i.dtype !== "i32")
      .map(([n]) => ctx.diag("E027", { path: ["data", "inputs", n, "classes"], key: true }, `input '${n}' has \`classes\` but dtype f32: classes describe integer labels`, { help: "use `dtype: i32` for class labels, or remove `classes`", related: [ctx.related({ path: ["data", "inputs", n, "dtype"] }, "dtype is set here")] }));
  },
};

const unusedEntry: SpecCheck = {
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
    for (const r of ctx.refs) if (r.from === undefined && (r.path[0] === "losses" || r.path[0] === "metrics")) visit(ctx.entryOf(r.name));
    return Object.keys(ls.spec.graph)
      .filter((n) => !reached.has(n))
      .map((n) => ctx.diag("W001", { path: ["graph", n], key: true }, `graph entry '${n}' is not used by any loss or metric`, { help: "remove it, or use it in a loss or metric" }));
  },
};

const carryNotUpdated: SpecCheck = {
  code: "W002",
  title: "scan carry never updated",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, e] of Object.entries(ls.spec.graph)) {
      if (!isScan(e)) continue;
      for (const c of Object.keys(e.scan.carry)) {
        if (!(c in e.scan.body)) out.push(ctx.diag("W002", { path: ["graph", n, "scan", "carry", c], key: true }, `carry '${c}' of scan '${n}' is never updated: every step sees its initial value`, { help: `add a body entry \`${c}: …\` giving its value after each step` }));
      }
    }
    return out;
  },
};

const unusedParam: SpecCheck = {
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

/** Every cross-field check, in the order they run. */
export const CHECKS: readonly SpecCheck[] = [
  exprCheck("E021", "expression syntax error"),
  exprCheck("E022", "unknown function"),
  exprCheck("E023", "wrong number of arguments"),
  exprCheck("E024", "integer literal required"),
  unknownTensor,
  definedTwice,
  cycles,
  unknownLoss,
  notAParam,
  labelsNotInt,
  intAsProbs,
  monitorNotMetric,
  scanLength,
  scanBinding,
  uniformRange,
  classesOnFloat,
  unusedEntry,
  carryNotUpdated,
  unusedParam,
];

/** Runs every check; errors and warnings sorted by position. */
export function runChecks(ls: CheckedSpec, checks: readonly SpecCheck[] = CHECKS): Diagnostic[] {
  const ctx = createContext(ls);
  return sortDiagnostics(checks.flatMap((c) => c.run(ls, ctx)));
}
