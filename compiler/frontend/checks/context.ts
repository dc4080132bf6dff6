// What every cross-field check sees: the spec, the expressions parsed once,
// every name defined and every name referred to (with where it is written),
// the inner names of each scan, and a guess of dtypes that needs no IR. The
// checks themselves live beside this file, grouped by what they look at;
// index.ts puts them in the order they run.

import { type Diagnostic, displayPath, type RelatedLocation, tokenSpan } from "../diagnostics.ts";
import { type Expr, ExprError, freeNames, parseExpr } from "../parse-expr.ts";
import type { GraphEntry, LoadedSpec, Path, ScanNode, Spec } from "../types.ts";

/** What the checks see of a loaded spec (warnings are what they produce). */
export type CheckedSpec = Omit<LoadedSpec, "warnings">;

export interface SpecCheck {
  readonly code: string;
  readonly title: string;
  run(loaded: CheckedSpec, ctx: CheckContext): Diagnostic[];
}

export type NameKind = "input" | "param" | "state" | "graph" | "output" | "final";

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
export type RefRole = "tensor" | "labels" | "probs" | "param" | "state" | "loss" | "metric" | "scanOutput" | "scanFinal";

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

/** How a message names each kind of definition. */
export const KIND_NAME: Readonly<Record<NameKind, string>> = {
  input: "an input",
  param: "a parameter",
  state: "a state tensor",
  graph: "a graph entry",
  output: "a scan output",
  final: "a scan final",
};

const isScan = (e: GraphEntry): e is ScanNode => typeof e === "object" && "scan" in e;

/** The scans of the graph, in file order. */
export function scanEntries(spec: Spec): [string, ScanNode][] {
  return Object.entries(spec.graph).filter((entry): entry is [string, ScanNode] => isScan(entry[1]));
}

export function createContext(ls: CheckedSpec): CheckContext {
  const { spec } = ls;
  const lines = ls.text.split(/\r?\n/);

  const defs: NameDef[] = [];
  for (const n of Object.keys(spec.data.inputs)) defs.push({ name: n, kind: "input", path: ["data", "inputs", n] });
  for (const n of Object.keys(spec.params)) defs.push({ name: n, kind: "param", path: ["params", n] });
  for (const n of Object.keys(spec.state ?? {})) defs.push({ name: n, kind: "state", path: ["state", n] });
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
    } else if ("chunk_f1" in ms) {
      field(ms.chunk_f1.probs, "probs", [...b, "chunk_f1", "probs"]);
      field(ms.chunk_f1.labels, "labels", [...b, "chunk_f1", "labels"]);
      field(ms.chunk_f1.length, "labels", [...b, "chunk_f1", "length"]);
    } else if ("ratio" in ms) {
      exprRefs(parse([...b, "ratio", "numerator"], ms.ratio.numerator), `metrics.${m}.ratio.numerator`);
      exprRefs(parse([...b, "ratio", "denominator"], ms.ratio.denominator), `metrics.${m}.ratio.denominator`);
    } else exprRefs(parse([...b, "expr", "value"], ms.expr.value), `metrics.${m}.expr.value`);
  }
  spec.phases.forEach((ph, i) => {
    const b = ["phases", i];
    if (ph.loss !== undefined) field(ph.loss, "loss", [...b, "loss"]);
    for (const [out, r] of Object.entries(ph.record ?? {})) {
      for (const k of ["state", "target_mean", "target_cov"] as const) {
        const n = r[k];
        if (n !== undefined) refs.push({ name: n, role: "state", path: [...b, "record", out, k], field: `phases[${i}].record.${out}.${k}` });
      }
    }
    ph.params?.forEach((p, j) => field(p, "param", [...b, "params", j]));
    if (ph.early_stopping) field(ph.early_stopping.monitor, "metric", [...b, "early_stopping", "monitor"]);
    for (const [st, src] of Object.entries(ph.updates ?? {})) {
      refs.push({ name: st, role: "state", path: [...b, "updates", st], field: `phases[${i}].updates` });
      field(src, "tensor", [...b, "updates", st]);
    }
    if (ph.report !== undefined) field(ph.report, "tensor", [...b, "report"]);
    for (const [pn, src] of Object.entries(ph.after_update ?? {})) {
      field(pn, "param", [...b, "after_update", pn]);
      exprRefs(parse([...b, "after_update", pn], src), `phases[${i}].after_update.${pn}`);
    }
  });
  for (const [n, sm] of Object.entries(spec.samplers ?? {})) {
    field(sm.input, "tensor", ["samplers", n, "input"]);
    field(sm.next, "tensor", ["samplers", n, "next"]);
    field(sm.show, "tensor", ["samplers", n, "show"]);
  }

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
    else if (d.kind === "param" || d.kind === "state") r = "float";
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
  const spanAt = (line: number, col: number): number => tokenSpan((lines[line - 1] ?? "").slice(col - 1));

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

/** Where a reference is written: the name itself inside an expression. */
export const refAt = (r: Ref): At => ({ path: r.path, offset: r.offset, len: r.offset !== undefined ? r.name.length : undefined });
/** Where a name is defined: its key. */
export const defAt = (d: NameDef): At => ({ path: d.path, key: true });
