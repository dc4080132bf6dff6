// Graph → lowered program (./program.ts). One pass per function graph, in
// node order: each node that the fusion analysis gives a buffer becomes a
// kernel; what it fuses becomes its expression. Leaves are buffers shared by
// every function of the model; intermediates belong to one function.

import type { Graph, Node } from "../ir/types.ts";
import { IRError, numel } from "../ir/types.ts";
import type { ScanAttrs } from "../ops/attrs.ts";
import { OPS } from "../ops/registry.ts";
import { isSuffix } from "../ops/reduce-sum.ts";
import { countOperand, scanOutTypes } from "../ops/scan.ts";
import { WGSL_LOOP_BUDGET } from "../ops/wgsl-loops.ts";
import { binaryValued } from "./binary-values.ts";
import { analyzeFusion, type Fusion, type Placement } from "./fusion.ts";
import { findFusedUpdates, type FusedUpdate } from "./fused-update.ts";
import { inPlaceLeaf } from "./in-place.ts";
import { baseName, identifier, Names } from "./names.ts";
import { type Block, type BufferId, type BufferInfo, contiguous, type Expr, type Kernel, type LoweredFunction, type Program } from "./program.ts";

/** Limits every target shares (WebGPU's defaults are the tightest). */
export const LOWERING_LIMITS = {
  /** Buffers one fused kernel may bind, its output included
   * (WebGPU's maxStorageBuffersPerShaderStage default). */
  maxBuffersPerKernel: 8,
  /** Terms one output of a sum may have before the sum is split in two
   * stages: a GPU workgroup of 64 invocations, each looping at most
   * WGSL_LOOP_BUDGET times in all, 6 of them spent combining the 64 partial
   * sums (compiler/ops/wgsl-loops.ts, compiler/emit/wgsl/templates.ts). */
  maxSumTerms: 64 * (WGSL_LOOP_BUDGET - 6),
} as const;

export interface ModelGraphs {
  /** One training step per phase (phase names give the step's buffer prefix). */
  readonly steps: readonly Graph[];
  readonly stepNames?: readonly string[];
  readonly evalGraph: Graph;
  readonly samplers?: readonly Graph[];
}

/** Lowers every function of a model into one program. */
export function lowerModel(m: ModelGraphs): Program {
  const all = [...m.steps, m.evalGraph, ...(m.samplers ?? [])];
  const model = new ModelLowering(all.flatMap(leafNames));
  const fns: LoweredFunction[] = [];
  m.steps.forEach((g, s) => fns.push(model.lowerFunction(g, "step", `step${s}`, s === 0 ? "" : `${m.stepNames?.[s] ?? `step${s}`}_`)));
  fns.push(model.lowerFunction(m.evalGraph, "eval", "evaluate", "eval_"));
  (m.samplers ?? []).forEach((g, k) => fns.push(model.lowerFunction(g, "sampler", `sampler${k}`, `sampler${k}_`)));
  return { buffers: model.buffers, functions: fns };
}

/** Names of the leaves of a graph and its scan bodies. */
function leafNames(g: Graph): string[] {
  return g.nodes.flatMap((n) => {
    if (n.op === "input" || n.op === "param" || n.op === "state") return [(n.attrs as { name: string }).name];
    if (n.op === "scan") return leafNames((n.attrs as ScanAttrs).body);
    return [];
  });
}

class ModelLowering {
  readonly buffers: BufferInfo[] = [];
  /** Leaf names, reserved in every function's scope. */
  private readonly leafNames: Names;
  private readonly taken: string[];
  private scope = { prefix: "", names: new Names() };
  private readonly leaves = new Map<string, BufferId>();

  constructor(leaves: readonly string[]) {
    this.leafNames = new Names();
    this.taken = [...new Set(leaves)].map((l) => this.leafNames.reserve(l));
  }

  /** A function's buffer: named in the current function's scope. */
  add(b: Omit<BufferInfo, "id" | "size" | "name" | "local">, base: string): BufferId {
    const local = this.scope.names.take(base);
    return this.push(b, `${this.scope.prefix}${local}`, local);
  }

  private push(b: Omit<BufferInfo, "id" | "size" | "name" | "local">, name: string, local: string): BufferId {
    const id = this.buffers.length;
    this.buffers.push({ id, name, local, size: Math.max(1, numel(b.shape)), ...b });
    return id;
  }

  /** The buffer of a parameter, state or input; inputs of different shapes
   * (a training batch and an evaluation batch) get one buffer each. */
  leaf(n: Node): BufferId {
    const name = (n.attrs as { name: string }).name;
    const key = `${n.op}:${name}:${n.shape.join("x")}`;
    let b = this.leaves.get(key);
    if (b === undefined) {
      const first = ![...this.leaves.keys()].some((k) => k.startsWith(`${n.op}:${name}:`));
      const local = first ? identifier(name) : this.leafNames.take(`${name}_${n.shape[0]}`);
      this.taken.push(local);
      b = this.push({ dtype: n.dtype, shape: n.shape, role: n.op as "param" | "state" | "input", ref: name, ...(n.loc ? { loc: n.loc } : {}) }, local, local);
      this.leaves.set(key, b);
    }
    return b;
  }

  lowerFunction(g: Graph, kind: LoweredFunction["kind"], name: string, prefix: string): LoweredFunction {
    this.scope = { prefix, names: new Names(this.taken) };
    const inputs = new Set<BufferId>();
    const block = new BlockLowering(this, g, [], inputs).lower();
    return { kind, name, block, inputs: [...inputs] };
  }
}

class BlockLowering {
  private readonly f: Fusion;
  private readonly placement: Placement[];
  private readonly buf = new Map<number, BufferId>();
  private readonly kernels: Kernel[] = [];
  private readonly outputName = new Map<number, string>();
  /** Products moved into a fused update, by node id. */
  private readonly deferred = new Set<number>();
  private readonly updates: Map<number, FusedUpdate>;
  /** Names for nodes whose value the spec names through a view. */
  private readonly nameHint = new Map<number, string>();
  /** Nodes already lowered (fit() lowers some ahead of their turn). */
  private readonly done = new Set<number>();

  constructor(
    private readonly model: ModelLowering,
    private readonly g: Graph,
    /** Buffers of the scan_args (inside a scan body). */
    private readonly args: readonly BufferId[],
    private readonly inputs: Set<BufferId>,
    private readonly topLevel = true,
  ) {
    this.f = analyzeFusion(g);
    this.placement = [...this.f.placement];
    for (const [k, id] of g.outputs) if (!this.outputName.has(id)) this.outputName.set(id, k);
    // A named view (a gradient reshaped to its parameter's shape) names the
    // buffer it shares, when that has no name of its own.
    for (const n of g.nodes) {
      if (OPS[n.op].ts.kind !== "view" || !n.loc?.name) continue;
      const src = g.nodes[n.inputs[0]!]!;
      if (!src.loc?.name && OPS[src.op].ts.kind !== "leaf" && this.f.consumers[src.id]!.length === 1) this.nameHint.set(src.id, n.loc.name);
    }
    this.updates = topLevel ? findFusedUpdates(g, this.f, (out, n) => inPlaceLeaf(g, this.f, out, n)) : new Map();
    for (const u of this.updates.values()) for (const t of u.terms) this.deferred.add(t.matmul.id);
  }

  lower(): Block {
    for (const n of this.g.nodes) this.node(n);
    const outputs = new Map<string, BufferId>();
    for (const [k, id] of this.g.outputs) outputs.set(k, this.bufferOf(id));
    if (this.topLevel) {
      // Updates that could not be written in place are committed last.
      for (const [k, id] of this.g.outputs) {
        const m = /^(param|state):(.+)$/.exec(k);
        const leaf = m ? this.g.nodes.find((x) => x.op === m[1] && (x.attrs as { name: string }).name === m[2]) : undefined;
        if (!leaf) continue;
        const dst = this.model.leaf(leaf);
        const src = outputs.get(k)!;
        if (src !== dst) this.kernels.push({ kind: "copy", node: this.g.nodes[id]!, fused: [], out: dst, src });
      }
    }
    return { kernels: this.kernels, outputs };
  }

  /** The buffer holding node `id`'s value (allocated on first use). */
  bufferOf(id: number): BufferId {
    const have = this.buf.get(id);
    if (have !== undefined) return have;
    const n = this.g.nodes[id]!;
    let b: BufferId;
    if (n.op === "input" || n.op === "param" || n.op === "state") {
      b = this.model.leaf(n);
      if (n.op === "input") this.inputs.add(b);
    } else if (n.op === "scan_arg") b = this.args[(n as Node<"scan_arg">).attrs.index]!;
    else if (OPS[n.op].ts.kind === "view") b = this.bufferOf(n.inputs[0]!);
    else if (n.op === "const") b = this.model.add({ dtype: n.dtype, shape: n.shape, role: "const", fill: (n as Node<"const">).attrs.value, ...(n.loc ? { loc: n.loc } : {}) }, `k_${baseName(n, undefined)}`);
    else b = this.model.add({ dtype: n.dtype, shape: n.shape, role: "temp", ...(n.loc ? { loc: n.loc } : {}) }, this.outputName.has(id) ? baseName(n, this.outputName.get(id)) : (this.nameHint.get(id) ?? baseName(n, undefined)));
    this.buf.set(id, b);
    return b;
  }

  /** The element of node `id` read inside a loop over `shape`. */
  private expr(id: number, shape: readonly number[]): Expr {
    const n = this.g.nodes[id]!;
    const p = this.placement[id];
    if (n.op === "const" && p === "inline") return { kind: "const", value: (n as Node<"const">).attrs.value, dtype: n.dtype };
    if (p === "indexmap") {
      const src = this.g.nodes[n.inputs[0]!]!;
      if (src.op === "const") return { kind: "const", value: (src as Node<"const">).attrs.value, dtype: src.dtype };
      return { kind: "read", buffer: this.bufferOf(src.id), strides: broadcastStrides(src.shape, shape) };
    }
    if (p === "inline") return { kind: "op", node: n, args: n.inputs.map((a) => this.expr(a, shape)) };
    return { kind: "read", buffer: this.bufferOf(id), strides: contiguous(shape) };
  }

  /** Buffers a fused operand would add to its kernel. */
  private reads(id: number): Set<number> {
    const p = this.placement[id];
    const n = this.g.nodes[id]!;
    if (p === "inline" && n.op !== "const") return new Set(n.inputs.flatMap((a) => [...this.reads(a)]));
    if (p === "indexmap") return this.g.nodes[n.inputs[0]!]!.op === "const" ? new Set() : new Set([n.inputs[0]!]);
    return n.op === "const" && p === "inline" ? new Set() : new Set([id]);
  }

  /** While the fused operands of a kernel would read more buffers than a
   * kernel may bind, the widest fused operand becomes a kernel of its own
   * (lowered now, so it runs first). */
  private fit(args: readonly number[]): void {
    for (;;) {
      const reads = args.map((a) => this.reads(a));
      const all = new Set(reads.flatMap((r) => [...r]));
      if (all.size + 1 <= LOWERING_LIMITS.maxBuffersPerKernel) return;
      let widest = -1;
      args.forEach((a, k) => {
        if (this.placement[a] === "inline" && this.g.nodes[a]!.op !== "const" && (widest < 0 || reads[k]!.size > reads[widest]!.size)) widest = k;
      });
      if (widest < 0) return; // nothing left to split; the renderer reports it
      this.placement[args[widest]!] = "buffer";
      this.node(this.g.nodes[args[widest]!]!);
    }
  }

  /** The nodes computed inside `n`'s loop. */
  private fusedInto(n: Node): Node[] {
    const out: Node[] = [];
    const walk = (id: number) => {
      if (this.placement[id] !== "inline" || this.g.nodes[id]!.op === "const") return;
      out.push(this.g.nodes[id]!);
      this.g.nodes[id]!.inputs.forEach(walk);
    };
    n.inputs.forEach(walk);
    return out;
  }

  private node(n: Node): void {
    const kind = OPS[n.op].ts.kind;
    if (this.placement[n.id] !== "buffer" || kind === "leaf" || kind === "view" || n.op === "tuple_get" || n.op === "const") return;
    if (this.done.has(n.id)) return; // lowered early by fit()
    this.done.add(n.id);
    if (n.op === "scan") return this.scan(n as Node<"scan">);
    if (this.deferred.has(n.id)) return; // lowered inside its fused update
    const outName = this.outputName.get(n.id);
    const target = this.topLevel && outName ? inPlaceLeaf(this.g, this.f, outName, n) : undefined;
    if (target) this.buf.set(n.id, this.model.leaf(target));
    const update = this.updates.get(n.id);
    if (kind === "elementwise") {
      this.fit(n.inputs);
      const expr: Expr = { kind: "op", node: n, args: n.inputs.map((a) => this.expr(a, n.shape)) };
      const loop = { kind: "loop" as const, node: n, fused: this.fusedInto(n), out: this.bufferOf(n.id), shape: n.shape, expr };
      if (!update) return void this.kernels.push(loop);
      const products = update.terms.map((t) => ({ kernel: this.opKernel(t.matmul) as Kernel & { kind: "op" }, alpha: t.alpha }));
      return void this.kernels.push({ kind: "update", node: n, fused: loop.fused, out: loop.out, loop, products, rest: update.rest });
    }
    if (n.op === "reduce_sum") return this.sum(n as Node<"reduce_sum">);
    this.kernels.push(this.opKernel(n));
  }

  private opKernel(n: Node): Kernel {
    const ins = n.inputs.map((a) => this.g.nodes[a]!);
    return {
      kind: "op",
      node: n,
      fused: [],
      out: this.bufferOf(n.id),
      ins: n.inputs.map((a) => this.bufferOf(a)),
      inTypes: ins.map((t) => ({ shape: t.shape, dtype: t.dtype })),
      // Operands a product may skip the zeros of (mostlyZeros below), and
      // 0/1 tensors (compiler/lower/binary-values.ts: Bernoulli samples,
      // mostly 0 for the visible units of an RBM on digits or piano rolls,
      // thresholded inputs), whose products add the rows of B their ones
      // select without multiplying (compiler/emit/wasm/sparse.ts).
      dataInputs: ins.map((t) => this.mostlyZeros(t)),
      binaryInputs: ins.map((t) => binaryValued(this.g, t)),
    };
  }

  /** Whether `n` is likely mostly zeros, so that a product may skip them
   * (the runtime counts before it does): a data input (pixels), a counted
   * scan's stacked outputs, a 0/1 tensor, a product of one of these with
   * anything (x ⊙ mask, the dA's corrupted input: zero wherever x is), or a
   * quotient of one (dropout's (x ⊙ mask) / keep). */
  private mostlyZeros(n: Node): boolean {
    let t = n;
    while (OPS[t.op].ts.kind === "view") t = this.g.nodes[t.inputs[0]!]!;
    if (t.op === "input" || this.countedStack(t) || binaryValued(this.g, t)) return true;
    if (t.op === "div") return this.mostlyZeros(this.g.nodes[t.inputs[0]!]!);
    return t.op === "mul" && t.inputs.some((i) => this.mostlyZeros(this.g.nodes[i]!));
  }

  /** Whether `n` is (a view of) the stacked step outputs of a counted scan:
   * its slots past the batch's count are 0 (a sentence of 11 words in 46
   * slots: the product after the loop that sums the weights' gradients may
   * skip those rows, as it skips a digit's blank pixels). */
  private countedStack(n: Node): boolean {
    let t = n;
    while (OPS[t.op].ts.kind === "view") t = this.g.nodes[t.inputs[0]!]!;
    if (t.op !== "tuple_get") return false;
    const scan = this.g.nodes[t.inputs[0]!]!;
    if (scan.op !== "scan") return false;
    const a = scan.attrs as ScanAttrs;
    const k = (t as Node<"tuple_get">).attrs.index;
    return a.counted === true && k >= a.nCarry && k < a.nCarry + a.nStepOut;
  }

  /** A sum: the iteration space is the kept axes then the summed axes, the
   * operand read through correspondingly permuted strides. */
  private sum(n: Node<"reduce_sum">): void {
    const src = this.g.nodes[n.inputs[0]!]!;
    const axes = n.attrs.axes;
    const trailing = isSuffix(axes, src.shape.length);
    if (this.placement[src.id] === "inline") this.fit(src.inputs);
    const keptAxes = src.shape.map((_, k) => k).filter((k) => !axes.includes(k));
    const order = [...keptAxes, ...axes];
    const shape = order.map((k) => src.shape[k]!);
    const st = contiguous(src.shape);
    const expr: Expr = trailing ? this.expr(src.id, src.shape) : { kind: "read", buffer: this.bufferOf(src.id), strides: order.map((k) => (src.shape[k] === 1 ? 0 : st[k]!)) };
    const terms = numel(shape.slice(keptAxes.length));
    const out = this.bufferOf(n.id);
    const fused = trailing ? this.fusedInto(n) : [];
    if (terms <= LOWERING_LIMITS.maxSumTerms) {
      this.kernels.push({ kind: "sum", node: n, fused, out, shape, kept: keptAxes.length, expr, trailing, whole: true });
      return;
    }
    // Too many terms for one output: two stages. Either the summed axes split
    // in two groups that each fit (stage 1 keeps the leading group: the same
    // iteration space, one more kept axis group), or a run of summed axes
    // that merge into one splits into blocks of a divisor of its length.
    const max = LOWERING_LIMITS.maxSumTerms;
    const kept = shape.slice(0, keptAxes.length);
    const summed = shape.slice(keptAxes.length);
    const at = [...summed.keys()].slice(1).find((j) => numel(summed.slice(j)) <= max && numel(summed.slice(0, j)) <= max);
    let stage1: { shape: number[]; kept: number; expr: Expr; partial: number[] };
    if (at !== undefined) {
      const lead = summed.slice(0, at);
      stage1 = { shape, kept: kept.length + at, expr, partial: [...kept, ...lead] };
    } else {
      const blocks = smallestDivisorFrom(terms, Math.ceil(terms / max), max);
      const flat = blocks === undefined ? undefined : splitStrides(expr, shape, keptAxes.length, blocks, terms / blocks);
      if (blocks === undefined || !flat) {
        throw new IRError(`a sum of ${terms} terms per output is longer than one GPU workgroup may loop over, and its axes do not split into two sums of at most ${max} terms`, n.loc, "E033");
      }
      stage1 = { shape: [...kept, blocks, terms / blocks], kept: kept.length + 1, expr: flat, partial: [...kept, blocks] };
    }
    const partial = this.model.add({ dtype: n.dtype, shape: stage1.partial, role: "temp" }, `${baseName(n, undefined)}_partial`);
    this.kernels.push({ kind: "sum", node: n, fused, out: partial, shape: stage1.shape, kept: stage1.kept, expr: stage1.expr, trailing, whole: false });
    this.kernels.push({ kind: "sum", node: n, fused: [], out, shape: stage1.partial, kept: kept.length, expr: { kind: "read", buffer: partial, strides: contiguous(stage1.partial) }, trailing: true, whole: false });
  }

  /** A scan: its body lowered once as a block over the carry and slice buffers. */
  private scan(n: Node<"scan">): void {
    const a: ScanAttrs = n.attrs;
    const base = baseName(n, undefined);
    const types = scanOutTypes(a);
    const temp = (t: { dtype: Node["dtype"]; shape: readonly number[] }, what: string) => this.model.add({ dtype: t.dtype, shape: t.shape, role: "temp" }, `${base}_${what}`);
    // Only the elements something reads get a buffer: a gradient scan's
    // accumulator histories (a parameter-sized slab per step, cleared every
    // call) would otherwise cost more than the whole step.
    const index = (c: number) => (this.g.nodes[c] as Node<"tuple_get">).attrs.index;
    const read = new Set(this.f.consumers[n.id]!.map(index));
    const elems = types.map((t, k) => (read.has(k) ? temp(t, k < a.nCarry ? `final${k}` : k < a.nCarry + a.nStepOut ? `out${k - a.nCarry}` : `history${k - a.nCarry - a.nStepOut}`) : null));
    for (const c of this.f.consumers[n.id]!) this.buf.set(c, elems[index(c)]!);
    const argTypes = n.inputs.map((i) => this.g.nodes[i]!);
    const carry = argTypes.slice(0, a.nCarry).map((t, j) => temp(t, `carry${j}`));
    const seqs = argTypes.slice(a.nCarry, a.nCarry + a.nSeq).map((t, q) => temp({ dtype: t.dtype, shape: t.shape.slice(1) }, `x${q}`));
    const consts = n.inputs.slice(a.nCarry + a.nSeq, a.nCarry + a.nSeq + a.nConst).map((i) => this.bufferOf(i));
    const count = countOperand(a);
    const body = new BlockLowering(this.model, a.body, [...carry, ...seqs, ...consts], this.inputs, false).lower();
    this.kernels.push({
      kind: "scan",
      node: n,
      fused: [],
      out: elems[0] ?? carry[0]!,
      scan: {
        length: a.length,
        ...(count === undefined ? {} : { count: this.bufferOf(n.inputs[count]!) }),
        reverse: a.reverse,
        init: n.inputs.slice(0, a.nCarry).map((i) => this.bufferOf(i)),
        carry,
        seqSources: n.inputs.slice(a.nCarry, a.nCarry + a.nSeq).map((i) => this.bufferOf(i)),
        seqs,
        elems,
        nStepOut: a.nStepOut,
        body,
        bodyOuts: [...body.outputs.values()],
      },
    });
  }
}

/** Strides of a buffer of shape `src` read at every index of `dst` (numpy
 * broadcasting: leading axes added, size-1 axes repeated). */
function broadcastStrides(src: readonly number[], dst: readonly number[]): number[] {
  const st = contiguous(src);
  const lead = dst.length - src.length;
  return dst.map((_, k) => (k < lead || src[k - lead] === 1 ? 0 : st[k - lead]!));
}

/** The smallest divisor d of n with lo ≤ d ≤ hi whose cofactor n/d ≤ hi. */
function smallestDivisorFrom(n: number, lo: number, hi: number): number | undefined {
  for (let d = Math.max(2, lo); d <= hi; d++) if (n % d === 0 && n / d <= hi) return d;
  return undefined;
}

/** An expression over `shape` (kept axes, then summed axes) re-indexed over
 * [...kept, blocks, part]; undefined when some read's summed axes do not
 * merge into one run of a single stride. */
function splitStrides(e: Expr, shape: readonly number[], kept: number, blocks: number, part: number): Expr | undefined {
  if (e.kind === "const") return e;
  if (e.kind === "op") {
    const args = e.args.map((x) => splitStrides(x, shape, kept, blocks, part));
    return args.every((a) => a !== undefined) ? { ...e, args: args as Expr[] } : undefined;
  }
  const s = e.strides;
  const inner = s[s.length - 1]!;
  for (let k = kept; k < s.length - 1; k++) if (s[k] !== s[k + 1]! * shape[k + 1]!) return undefined;
  return { kind: "read", buffer: e.buffer, strides: [...s.slice(0, kept), inner * part, inner] };
}

