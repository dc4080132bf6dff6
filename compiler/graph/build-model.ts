// Lowers a validated spec to IR graphs: the forward model (graph entries are
// built on demand, which orders them topologically), the losses, the per-step
// training graph of each phase (loss → derived gradients → optimizer update)
// and the evaluation graph (per-example metrics).

import { grad } from "../autodiff/grad.ts";
import { Builder } from "../ir/builder.ts";
import { type DType, type Graph, IRError, type SpecLoc } from "../ir/types.ts";
import { buildScan } from "../ops/scan.ts";
import { optimize } from "../passes/pipeline.ts";
import { parseExpr } from "../frontend/parse-expr.ts";
import type { GraphEntry, LoadedSpec, LossTerms, MetricSpec, Path, ScanNode } from "../frontend/types.ts";
import { type ExprEnv, lowerExpr } from "./build-expr.ts";
import * as lib from "./library.ts";
import { applyOptimizer, type StateTensor } from "./optimizers.ts";
import { RATIO_DENOMINATOR } from "../../runtime/compiled-model.ts";
import { commonOptions, decayWeights, needsCounter, phaseCounter, plateauRate, scheduledRate } from "./schedules.ts";

export interface BuildOptions {
  readonly dtype: "f32" | "f64";
  readonly batch: number;
  /** Evaluation and sampling graphs leave dropout out (default: train). */
  readonly mode?: "train" | "eval";
}

/** The forward model of a spec in one graph, with name lookup. */
export class ModelBuilder {
  readonly b = new Builder();
  readonly inputs = new Map<string, number>();
  readonly params = new Map<string, number>();
  /** Spec-level state tensors (persistent chains), read like parameters. */
  readonly state = new Map<string, number>();
  private readonly named = new Map<string, number>();
  private readonly building = new Set<string>();
  readonly salts = new lib.SaltCounter();

  constructor(
    readonly ls: LoadedSpec,
    readonly opts: BuildOptions,
  ) {
    const { spec } = ls;
    for (const [name, inp] of Object.entries(spec.data.inputs)) {
      this.b.loc = this.loc(["data", "inputs", name], `input ${name}`);
      const dt: DType = inp.dtype === "f32" ? opts.dtype : "i32";
      this.inputs.set(name, this.b.leaf("input", name, [opts.batch, ...inp.shape], dt));
    }
    for (const [name, p] of Object.entries(spec.params)) {
      this.b.loc = this.loc(["params", name], `param ${name}`);
      this.params.set(name, this.b.leaf("param", name, p.shape, opts.dtype));
    }
    for (const [name, p] of Object.entries(spec.state ?? {})) {
      this.b.loc = this.loc(["state", name], `state ${name}`);
      this.state.set(name, this.b.leaf("state", name, p.shape, opts.dtype));
    }
  }

  loc(path: Path, what: string): SpecLoc {
    const p = this.ls.locate(path);
    return { file: this.ls.file, line: p.line, col: p.col, what };
  }

  /** The node of a graph name, an input or a parameter. */
  resolve(name: string, at?: SpecLoc): number {
    const known = this.inputs.get(name) ?? this.params.get(name) ?? this.state.get(name) ?? this.named.get(name);
    if (known !== undefined) return known;
    const entry = this.ls.spec.graph[name];
    if (entry === undefined) {
      // Names bound by a scan's outputs/finals appear once their scan is built.
      const owner = Object.entries(this.ls.spec.graph).find(([, e]) => isScan(e) && (name in (e.scan.outputs ?? {}) || name in (e.scan.finals ?? {})));
      if (owner) {
        this.resolve(owner[0], at);
        return this.named.get(name)!;
      }
      throw new IRError(`unknown tensor '${name}'`, at, "E010");
    }
    if (this.building.has(name)) throw new IRError(`'${name}' depends on itself`, at, "E013");
    this.building.add(name);
    const saved = this.b.loc;
    const loc = this.loc(["graph", name], `graph.${name}`);
    this.b.loc = loc;
    const id = nameValue(this.b, this.entry(name, entry, loc), name);
    this.b.loc = saved;
    this.building.delete(name);
    this.named.set(name, id);
    return id;
  }

  /** Expression environment for the string at `path` of the spec. */
  private env(b: Builder, path: Path, what: string, resolve: (n: string, l: SpecLoc) => number): ExprEnv {
    const at = (pos: number): SpecLoc => {
      const p = this.ls.locateIn(path, pos);
      return { file: this.ls.file, line: p.line, col: p.col, what };
    };
    return { b, at, salts: this.salts, resolve, dtype: this.opts.dtype, mode: this.opts.mode ?? "train", batch: this.opts.batch };
  }

  /** Lowers an expression string of the spec onto builder `b` (another
   * graph than this one's), names resolved by `resolve`. */
  exprOn(b: Builder, src: string, path: Path, what: string, resolve: (n: string, l: SpecLoc) => number): number {
    return lowerExpr(this.env(b, path, what, resolve), parseExpr(src));
  }

  /** Lowers an expression string written at `path` in the spec. */
  expr(src: string, path: Path, what: string): number {
    return lowerExpr(this.env(this.b, path, what, (n, l) => this.resolve(n, l)), parseExpr(src));
  }

  private entry(name: string, e: GraphEntry, loc: SpecLoc): number {
    if (typeof e === "string") return this.expr(e, ["graph", name], `graph.${name}`);
    if ("dense" in e) {
      const d = e.dense;
      const x = this.resolve(d.input, this.loc(["graph", name, "dense", "input"], "input"));
      const w = this.resolve(d.weight, this.loc(["graph", name, "dense", "weight"], "weight"));
      const bias = d.bias === undefined ? null : this.resolve(d.bias, this.loc(["graph", name, "dense", "bias"], "bias"));
      this.b.loc = loc;
      return lib.dense(this.b, x, w, bias, d.transpose_weight ?? false, d.activation ?? "identity");
    }
    return this.scan(name, e, loc);
  }

  /** A scan's `steps`: an i32 tensor, as the scan's count operand — a
   * scalar when it holds one number (a batch of one sentence gives its
   * length as a [1] input), else a vector of per-example lengths, of which
   * the scan runs the longest (the body masks the others' extra steps). */
  private stepCount(src: string, at: SpecLoc): number {
    const id = this.resolve(src, at);
    const shape = this.b.shape(id);
    if (this.b.dtype(id) !== "i32") throw new IRError(`scan steps '${src}' is ${this.b.dtype(id)}; a number of steps is an i32 tensor`, at, "E032");
    const size = shape.reduce((x, d) => x * d, 1);
    const saved = this.b.loc;
    this.b.loc = at;
    const count = size === 1 ? (shape.length === 0 ? id : this.b.reshape(id, [])) : shape.length === 1 ? id : this.b.reshape(id, [size]);
    this.b.loc = saved;
    return count;
  }

  /** A spec-level scan: carries, sequences and the outer values the body
   * reads (passed in as loop constants) become the body's arguments. */
  private scan(name: string, e: ScanNode, loc: SpecLoc): number {
    const s = e.scan;
    const outer = this.b;
    const carries = Object.entries(s.carry);
    const seqs = Object.entries(s.sequences ?? {});
    const init = carries.map(([c, src]) => this.resolve(src, this.loc(["graph", name, "scan", "carry", c], c)));
    const seqIds = seqs.map(([q, src]) => this.resolve(src, this.loc(["graph", name, "scan", "sequences", q], q)));
    const length = s.length ?? outer.shape(seqIds[0]!)[0]!;
    const body = new Builder();
    body.loc = loc;
    let k = 0;
    const args = new Map<string, number>();
    carries.forEach(([c], j) => args.set(c, body.scanArg(k++, outer.shape(init[j]!), outer.dtype(init[j]!))));
    seqs.forEach(([q], i) => {
      const sh = outer.shape(seqIds[i]!);
      if (sh[0] !== length) throw new IRError(`sequence '${q}' has ${sh[0]} steps, the scan runs ${length}`, loc, "E031");
      args.set(q, body.scanArg(k++, sh.slice(1), outer.dtype(seqIds[i]!)));
    });
    const consts: number[] = [];
    const constArg = new Map<number, number>();
    const values = new Map<string, number>();
    const inBody = new Set<string>();
    const resolveBody = (n: string, at: SpecLoc): number => {
      const a = args.get(n);
      if (a !== undefined) return a;
      const v = values.get(n);
      if (v !== undefined) return v;
      const src = s.body[n];
      if (src !== undefined) {
        if (inBody.has(n)) throw new IRError(`scan body name '${n}' depends on itself`, at, "E013");
        inBody.add(n);
        const id = lowerExpr(this.env(body, ["graph", name, "scan", "body", n], `graph.${name}.body.${n}`, resolveBody), parseExpr(src));
        values.set(n, id);
        return id;
      }
      const o = this.resolve(n, at);
      let ca = constArg.get(o);
      if (ca === undefined) {
        ca = body.scanArg(-1, outer.shape(o), outer.dtype(o));
        constArg.set(o, ca);
        consts.push(o);
      }
      return ca;
    };
    // Carry names inside the body mean the incoming value; a body entry of the
    // same name is the carry's new value.
    const bodyValue = (n: string, at: SpecLoc) => {
      const src = s.body[n];
      if (src === undefined) return resolveBody(n, at);
      if (!values.has(n)) {
        values.set(n, lowerExpr(this.env(body, ["graph", name, "scan", "body", n], `graph.${name}.body.${n}`, resolveBody), parseExpr(src)));
      }
      return values.get(n)!;
    };
    const newCarry = carries.map(([c]) => bodyValue(c, loc));
    const outNames = Object.entries(s.outputs ?? {});
    const stepOuts = outNames.map(([o, src]) => bodyValue(src, this.loc(["graph", name, "scan", "outputs", o], o)));
    // Constants were numbered -1 while discovered; give them their final slots.
    const nFixed = carries.length + seqs.length;
    [...constArg.values()].forEach((argId, i) => {
      const n = body.graph.nodes[argId]!;
      body.graph.nodes[argId] = { ...n, attrs: { index: nFixed + i } };
    });
    [...newCarry, ...stepOuts].forEach((id, i) => body.graph.outputs.set(String(i), id));
    outer.loc = loc;
    const count = s.steps === undefined ? [] : [this.stepCount(s.steps, this.loc(["graph", name, "scan", "steps"], "steps"))];
    const res = buildScan(outer, [...init, ...seqIds, ...consts, ...count], {
      body: body.graph,
      nCarry: carries.length,
      nSeq: seqs.length,
      nConst: consts.length,
      nStepOut: outNames.length,
      length,
      reverse: false,
      ...(count.length ? { counted: true } : {}),
    });
    outNames.forEach(([o], i) => this.named.set(o, res.stepOuts[i]!));
    for (const [f, c] of Object.entries(s.finals ?? {})) {
      const j = carries.findIndex(([cn]) => cn === c);
      if (j < 0) throw new IRError(`finals: '${c}' is not a carry of this scan`, this.loc(["graph", name, "scan", "finals", f], f), "E010");
      this.named.set(f, res.finals[j]!);
    }
    // The entry's own name is its first stacked output (or first final).
    return res.stepOuts[0] ?? res.finals[0]!;
  }

  /** Sum of a loss's weighted terms (a scalar). */
  loss(name: string): number {
    const terms = this.ls.spec.losses[name];
    if (!terms) throw new IRError(`unknown loss '${name}'`, undefined, "E010");
    const b = this.b;
    const parts: number[] = [];
    const at = (t: string, f: string) => this.loc(["losses", name, t, f], `losses.${name}.${t}`);
    const r = (t: string, f: string, n: string) => this.resolve(n, at(t, f));
    // Names are resolved first (which may build graph entries under their own
    // locations); then the term is built under the loss term's location.
    const weigh = <T>(t: keyof LossTerms, w: number | undefined, names: () => T, make: (ids: T) => number) => {
      const ids = names();
      b.loc = this.loc(["losses", name, t], `losses.${name}.${t}`);
      const v = make(ids);
      parts.push(w === undefined || w === 1 ? v : b.mul(v, b.scalarLike(w, v)));
    };
    const t = terms;
    if (t.nll) {
      const x = t.nll;
      weigh("nll", x.weight, () => [r("nll", "probs", x.probs), r("nll", "labels", x.labels)] as const, ([p, l]) => b.mean(lib.nllPerExample(b, p, l)));
    }
    if (t.cross_entropy) {
      const x = t.cross_entropy;
      weigh("cross_entropy", x.weight, () => [r("cross_entropy", "probs", x.probs), r("cross_entropy", "targets", x.targets)] as const, ([p, q]) => b.mean(lib.crossEntropyPerExample(b, p, q)));
    }
    if (t.squared_error) {
      const x = t.squared_error;
      weigh("squared_error", x.weight, () => [r("squared_error", "pred", x.pred), r("squared_error", "target", x.target)] as const, ([p, q]) => b.mean(lib.squaredErrorPerExample(b, p, q)));
    }
    // A zero weight drops the term (mlp.py's L1_reg = 0.0).
    if (t.l1 && t.l1.weight !== 0) {
      const x = t.l1;
      weigh("l1", x.weight, () => x.params.map((p) => r("l1", "params", p)), (ids) => lib.l1(b, ids));
    }
    if (t.l2 && t.l2.weight !== 0) {
      const x = t.l2;
      weigh("l2", x.weight, () => x.params.map((p) => r("l2", "params", p)), (ids) => lib.l2(b, ids));
    }
    if (t.expr) {
      const x = t.expr;
      weigh("expr", x.weight, () => this.expr(x.value, ["losses", name, "expr", "value"], `losses.${name}.expr`), (v) => {
        if (b.shape(v).length !== 0) throw new IRError(`loss expression must be a scalar, got shape [${b.shape(v).join(", ")}]`, b.node(v).loc, "E031");
        return v;
      });
    }
    if (parts.length === 0) throw new IRError(`loss '${name}' has no terms`, this.loc(["losses", name], name), "E042");
    return parts.reduce((a, c) => b.add(a, c));
  }

  /** A per-example metric: a vector over the batch. */
  metric(name: string, m: MetricSpec): number {
    const b = this.b;
    b.loc = this.loc(["metrics", name], `metrics.${name}`);
    const at = (k: string, f: string) => this.loc(["metrics", name, k, f], `metrics.${name}`);
    if ("zero_one" in m) return lib.zeroOnePerExample(b, this.resolve(m.zero_one.probs, at("zero_one", "probs")), this.resolve(m.zero_one.labels, at("zero_one", "labels")));
    if ("nll" in m) return lib.nllPerExample(b, this.resolve(m.nll.probs, at("nll", "probs")), this.resolve(m.nll.labels, at("nll", "labels")));
    if ("chunk_f1" in m) return this.chunkPredictions(name, m.chunk_f1, at);
    if ("ratio" in m) return this.perExample(name, m.ratio.numerator, ["metrics", name, "ratio", "numerator"]);
    return this.perExample(name, m.expr.value, ["metrics", name, "expr", "value"]);
  }

  /** A per-example metric expression: a vector over the batch (E031). */
  perExample(name: string, src: string, path: Path): number {
    const b = this.b;
    const v = this.expr(src, path, `metrics.${name}`);
    const s = b.shape(v);
    if (s.length !== 1 || s[0] !== this.opts.batch) throw new IRError(`metric '${name}' must be a vector over the batch [${this.opts.batch}], got [${s.join(", ")}]`, b.node(v).loc, "E031");
    return v;
  }

  /** chunk_f1's graph part: the predicted label of every word, argmax of
   * `probs` per word, as a float [batch, T] the trainer reads back. The
   * labels and length must be data inputs ([T] and [] i32): the trainer
   * takes them from each batch to score the sentences with conlleval. */
  private chunkPredictions(name: string, m: { readonly probs: string; readonly labels: string; readonly length: string }, at: (k: string, f: string) => SpecLoc): number {
    const b = this.b;
    const batch = this.opts.batch;
    const input = (n: string, f: string, rank: number): number => {
      const id = this.inputs.get(n);
      const shape = id === undefined ? [] : b.shape(id);
      if (id === undefined || b.dtype(id) !== "i32" || shape.length !== rank + 1) {
        throw new IRError(`metric '${name}': ${f} '${n}' must be an i32 data input of shape [${rank ? "T" : ""}] per example (inputs: ${[...this.inputs.keys()].join(", ")})`, at("chunk_f1", f), "E031");
      }
      return id;
    };
    const labels = input(m.labels, "labels", 1);
    input(m.length, "length", 0);
    const tokens = b.shape(labels)[1]!;
    const probs = this.resolve(m.probs, at("chunk_f1", "probs"));
    const ps = b.shape(probs);
    const fits = (ps.length === 2 && ps[0] === batch * tokens) || (ps.length === 3 && ps[0] === batch && ps[1] === tokens);
    if (!fits) {
      throw new IRError(`metric '${name}': probs '${m.probs}' has shape [${ps.join(", ")}]; per-word probabilities of ${batch} sentence(s) of ${tokens} words are [${batch * tokens}, classes] or [${batch}, ${tokens}, classes]`, at("chunk_f1", "probs"), "E031");
    }
    const pred = b.op("argmax", [probs], { axis: ps.length - 1 });
    return b.reshape(b.cast(pred, this.opts.dtype), [batch, tokens]);
  }
}

/** Where a chunk_f1 metric's sentence data comes from: the label and length
 * inputs the trainer reads from each batch (the graph computes only the
 * predictions). */
export interface ChunkF1Inputs {
  readonly labels: string;
  readonly length: string;
  /** Words per example (the labels' static length). */
  readonly tokens: number;
}

function isScan(e: GraphEntry): e is ScanNode {
  return typeof e === "object" && "scan" in e;
}

export interface StepGraph {
  readonly graph: Graph;
  readonly state: StateTensor[];
  readonly trained: string[];
}

/** A phase's loss as an optimised graph, ready to differentiate. The
 * rewrites run *before* autodiff so that the gradient is taken of the stable
 * forms (the log-softmax), never through a division by a probability. */
export function buildLoss(ls: LoadedSpec, p: number, opts: BuildOptions): { graph: Graph; params: Map<string, number>; inputs: Map<string, number>; cost: number; mb: ModelBuilder } {
  const mb = new ModelBuilder(ls, opts);
  const phase = ls.spec.phases[p]!;
  // A sampling phase minimises nothing: its step returns the reported value
  // (or 0) as its cost.
  if (phase.loss !== undefined) mb.b.graph.outputs.set("cost", mb.loss(phase.loss));
  else if (phase.report === undefined) mb.b.graph.outputs.set("cost", mb.b.constant(0, [], opts.dtype));
  // State updates and the reported cost are outputs before optimisation, so
  // that what they read survives dead-code elimination.
  for (const [st, src] of Object.entries(phase.updates ?? {})) {
    const at = mb.loc(["phases", p, "updates", st], `phases[${p}].updates.${st}`);
    const v = mb.resolve(src, at);
    const want = ls.spec.state![st]!.shape;
    const got = mb.b.shape(v);
    if (got.length !== want.length || got.some((d, k) => d !== want[k])) {
      throw new IRError(`update of state '${st}': '${src}' has shape [${got.join(", ")}], the state tensor [${want.join(", ")}]`, at, "E031");
    }
    mb.b.graph.outputs.set(`state:${st}`, v);
  }
  if (phase.report !== undefined) {
    const at = mb.loc(["phases", p, "report"], `phases[${p}].report`);
    const v = mb.resolve(phase.report, at);
    if (mb.b.shape(v).length !== 0) throw new IRError(`report '${phase.report}' must be a scalar, got shape [${mb.b.shape(v).join(", ")}]`, at, "E031");
    mb.b.graph.outputs.set("report", v);
  }
  const graph = optimize(mb.b.graph);
  const params = new Map<string, number>();
  const inputs = new Map<string, number>();
  for (const n of graph.nodes) {
    const name = (n.attrs as { name?: string }).name;
    if (n.op === "param" && name) params.set(name, n.id);
    if (n.op === "input" && name) inputs.set(name, n.id);
  }
  return { graph, params, inputs, cost: graph.outputs.get("cost")!, mb };
}

/** The training step of phase `p`: cost, derived gradients, updates. */
export function buildTrainStep(ls: LoadedSpec, p: number, opts: BuildOptions): StepGraph {
  const { graph, params, cost, mb } = buildLoss(ls, p, opts);
  const b = new Builder(graph);
  const phase = ls.spec.phases[p]!;
  if (phase.optimizer === undefined) return samplingStep(b);
  const names = phase.params ?? Object.keys(ls.spec.params);
  const reached = names.filter((n) => params.has(n));
  b.loc = mb.loc(["phases", p, "loss"], `phases[${p}].loss`);
  const grads = grad(b, cost, reached.map((n) => params.get(n)!));
  const trained: string[] = [];
  const state: StateTensor[] = [];
  // The learning rate of this step: a schedule reads the phase's step
  // counter (state, advanced by the step); a constant rate is left to the
  // optimizer (compiler/graph/schedules.ts).
  const common = commonOptions(phase.optimizer);
  let rate: number | undefined;
  const plateau = common.schedule !== "constant" && "on_plateau" in common.schedule;
  if (plateau) {
    b.loc = mb.loc(["phases", p, "optimizer"], `phases[${p}].optimizer`);
    if (!phase.early_stopping) throw new IRError(`phase '${phase.name}': the on_plateau schedule decays from the best validation, which early_stopping keeps; add early_stopping (a patience as long as the phase never stops it early)`, b.loc, "E045");
    const pr = plateauRate(b, phase.name, common.lr, opts.dtype);
    rate = pr.rate;
    state.push(pr.state);
  } else if (needsCounter(common.schedule) || common.weightDecay > 0) {
    b.loc = mb.loc(["phases", p, "optimizer"], `phases[${p}].optimizer`);
    const counter = needsCounter(common.schedule) ? phaseCounter(b, phase.name, common.schedule, opts.dtype) : undefined;
    rate = scheduledRate(b, common.lr, common.schedule, counter, opts.dtype);
    for (const s of counter?.state ?? []) {
      // The epoch length is only read; the counter advances.
      if (s.next !== s.leaf) b.graph.outputs.set(`state:${s.name}`, s.next);
      state.push(s);
    }
  }
  for (const n of names) {
    const i = reached.indexOf(n);
    const g = i < 0 ? null : grads[i];
    if (g === null || g === undefined) {
      const why = `its loss '${phase.loss}' does not depend on it (no gradient flows to it)`;
      if (phase.params) throw new IRError(`parameter '${n}' is listed for phase '${phase.name}' but ${why}`, mb.loc(["phases", p, "params"], n), "E040");
      if (ls.spec.phases.length === 1) throw new IRError(`parameter '${n}' is never trained: ${why}`, mb.loc(["params", n], n), "E040");
      continue;
    }
    trained.push(n);
    nameValue(b, g, `grad_${n}`);
    b.loc = mb.loc(["phases", p, "optimizer"], `phases[${p}].optimizer`);
    const upd = applyOptimizer(b, phase.optimizer, n, params.get(n)!, g, phase.name, rate);
    const updated = rate === undefined ? upd.param : decayWeights(b, upd.param, params.get(n)!, rate, common.weightDecay);
    b.graph.outputs.set(`param:${n}`, afterUpdate(mb, b, p, n, updated));
    for (const s of upd.state) {
      b.graph.outputs.set(`state:${s.name}`, s.next);
      state.push(s);
    }
  }
  if (trained.length === 0) throw new IRError(`phase '${phase.name}': its loss reaches no parameter`, mb.loc(["phases", p, "loss"], "loss"), "E040");
  for (const n of Object.keys(phase.after_update ?? {})) {
    if (!trained.includes(n)) throw new IRError(`after_update names '${n}', which phase '${phase.name}' does not train (it trains ${trained.join(", ")})`, mb.loc(["phases", p, "after_update", n], n), "E040");
  }
  // The step returns the reported value as its cost when the phase names one
  // (the gradient above was taken of the loss itself).
  const report = b.graph.outputs.get("report");
  if (report !== undefined) {
    b.graph.outputs.set("cost", report);
    b.graph.outputs.delete("report");
  }
  return { graph: b.graph, state, trained };
}

/** A sampling phase's step: the state updates, and the reported value (if
 * any) as its cost; nothing is differentiated or trained. */
function samplingStep(b: Builder): StepGraph {
  const report = b.graph.outputs.get("report");
  if (report !== undefined) {
    b.graph.outputs.set("cost", report);
    b.graph.outputs.delete("report");
  }
  return { graph: b.graph, state: [], trained: [] };
}

/** A phase's `after_update` rule for parameter `n` applied to its updated
 * value (the value itself when there is none). The rule may read only that
 * parameter, which there means the updated value; its result keeps the
 * parameter's shape. */
function afterUpdate(mb: ModelBuilder, b: Builder, p: number, n: string, updated: number): number {
  const src = mb.ls.spec.phases[p]!.after_update?.[n];
  if (src === undefined) return updated;
  const path = ["phases", p, "after_update", n];
  const what = `phases[${p}].after_update.${n}`;
  b.loc = mb.loc(path, what);
  const v = mb.exprOn(b, src, path, what, (name, at) => {
    if (name === n) return updated;
    throw new IRError(`after_update of '${n}' may read only '${n}' (its updated value), not '${name}'`, at, "E010");
  });
  const want = b.shape(updated);
  const got = b.shape(v);
  if (got.length !== want.length || got.some((d, k) => d !== want[k])) {
    throw new IRError(`after_update of '${n}' has shape [${got.join(", ")}], the parameter [${want.join(", ")}]`, mb.loc(path, what), "E031");
  }
  return nameValue(b, v, `${n}_after_update`);
}

/** The evaluation graph: per-example metrics over a batch. */
export function buildEval(ls: LoadedSpec, opts: BuildOptions, outputs: readonly string[] = []): Graph {
  const mb = new ModelBuilder(ls, { ...opts, mode: "eval" });
  // Graph names the caller asked to read per example (compile's `outputs`:
  // a classifier's probabilities for a page that draws digits).
  for (const name of outputs) {
    const at = mb.loc([], `output ${name}`);
    const id = mb.resolve(name, at);
    const shape = mb.b.shape(id);
    if (shape[0] !== opts.batch) throw new IRError(`output '${name}' has shape [${shape.join(", ")}]: not one value or row per example (the batch is ${opts.batch})`, at, "E031");
    mb.b.graph.outputs.set(`output:${name}`, id);
  }
  for (const [name, m] of Object.entries(ls.spec.metrics ?? {})) {
    mb.b.graph.outputs.set(`metric:${name}`, mb.metric(name, m));
    // A ratio's denominator is a second output, summed by the trainer.
    if ("ratio" in m) mb.b.graph.outputs.set(`metric:${name}${RATIO_DENOMINATOR}`, mb.perExample(name, m.ratio.denominator, ["metrics", name, "ratio", "denominator"]));
  }
  return mb.b.graph;
}

/** A sampler's graph (batch = its number of chains): outputs `next` (the
 * chain after one call, shaped like the input batch) and `show`. */
export function buildSampler(ls: LoadedSpec, name: string, dtype: "f32" | "f64"): Graph {
  const sm = ls.spec.samplers![name]!;
  const mb = new ModelBuilder(ls, { dtype, batch: sm.chains, mode: "eval" });
  const at = (f: string) => mb.loc(["samplers", name, f], `samplers.${name}.${f}`);
  // The chains: a data input (batch = chains), or a state tensor whose
  // first axis is the chains (a generator's recurrent state).
  const input = mb.inputs.get(sm.input) ?? mb.state.get(sm.input);
  if (input === undefined) throw new IRError(`sampler '${name}': '${sm.input}' is neither a data input (${[...mb.inputs.keys()].join(", ")}) nor a state tensor${mb.state.size ? ` (${[...mb.state.keys()].join(", ")})` : ""}`, at("input"), "E010");
  if (mb.state.has(sm.input) && mb.b.shape(input)[0] !== sm.chains) {
    throw new IRError(`sampler '${name}': state '${sm.input}' has shape [${mb.b.shape(input).join(", ")}]; its first axis must be the ${sm.chains} chains`, at("input"), "E031");
  }
  const next = mb.resolve(sm.next, at("next"));
  const show = mb.resolve(sm.show, at("show"));
  const want = mb.b.shape(input);
  const got = mb.b.shape(next);
  if (got.length !== want.length || got.some((d, k) => d !== want[k])) {
    throw new IRError(`sampler '${name}': next '${sm.next}' has shape [${got.join(", ")}], the chains [${want.join(", ")}] (input '${sm.input}' for ${sm.chains} chains)`, at("next"), "E031");
  }
  const [h, w] = sm.image.shape;
  const per = mb.b.shape(show).slice(1).reduce((a, d) => a * d, 1);
  if (mb.b.shape(show)[0] !== sm.chains || per !== h * w) {
    throw new IRError(`sampler '${name}': show '${sm.show}' has shape [${mb.b.shape(show).join(", ")}], not ${sm.chains} images of ${h}×${w}`, at("show"), "E031");
  }
  mb.b.graph.outputs.set("next", next);
  mb.b.graph.outputs.set("show", show);
  return mb.b.graph;
}

/** Records the spec's name for the value of node `id` (its buffer in
 * generated code is called so). Leaves keep their own names, and a node that
 * already has one keeps the first (an entry that merely renames another). */
function nameValue(b: Builder, id: number, name: string): number {
  const n = b.graph.nodes[id]!;
  if (n.loc && !n.loc.name && !["input", "param", "state", "const", "scan_arg"].includes(n.op)) b.graph.nodes[id] = { ...n, loc: { ...n.loc, name } };
  return id;
}
