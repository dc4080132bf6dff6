// Emits the body of one step function (a whole graph) as TypeScript
// statements: fused elementwise loops, kernels, scan loops. Buffers become
// class fields (allocated once; nothing is allocated inside a step) that the
// method aliases into locals. Every block is preceded by a comment naming the
// spec line it comes from.

import type { Graph, Node, SpecLoc } from "../../ir/types.ts";
import { numel, strides } from "../../ir/types.ts";
import type { ScanAttrs } from "../../ops/attrs.ts";
import type { KernelCtx, ScalarCtx } from "../../ops/op.ts";
import { OPS } from "../../ops/registry.ts";
import { scanOutTypes } from "../../ops/scan.ts";
import { analyzeFusion, type Fusion } from "../../lower/fusion.ts";
import type { WasmLoops, WasmTree } from "../wasm/loops.ts";
import { gemmCall } from "../../ops/matmul.ts";
import { findFusedUpdates, type FusedUpdate } from "./update.ts";

export interface BufferDecl {
  readonly name: string;
  readonly ctor: "Float32Array" | "Float64Array" | "Int32Array" | "Uint8Array";
  readonly size: number;
  /** Byte offset in the model's memory (runtime/cpu/kernels.ts createArena). */
  readonly offset: number;
  /** Constant fill value for buffers of constants (set once at construction). */
  readonly fill?: number;
}

/** Lays buffers out in the model's one WebAssembly memory, in order of
 * declaration, each 16-byte aligned (f32x4 loads). Offsets are fixed at
 * compile time, so kernels get them as constants. */
export class Arena {
  private next = 16; // address 0 stays unused: a zero offset is never a buffer
  /** Buffer expression (`this.f0_t6`, a parameter's local) → byte offset. */
  readonly addrs = new Map<string, number>();

  place(ctor: BufferDecl["ctor"], size: number): number {
    const bytes = size * (ctor === "Float64Array" ? 8 : ctor === "Uint8Array" ? 1 : 4);
    const at = this.next;
    this.next = Math.ceil((at + bytes) / 16) * 16;
    return at;
  }

  get size(): number {
    return this.next;
  }
}

export interface FunctionContext {
  /** Class-field buffers, shared across the whole module. */
  readonly buffers: BufferDecl[];
  readonly arena: Arena;
  /** Collects fused loops that run as WebAssembly SIMD (absent: all loops in TypeScript). */
  readonly wasm?: WasmLoops;
  /** Expression naming the buffer of a leaf (input/param/state). */
  leafBuffer(n: Node): string;
  /** Target buffer for an output, when it may be written in place. */
  outputTarget?(name: string, n: Node, g: Graph, f: Fusion): Node | undefined;
  readonly seed: string;
  readonly step: string;
}

export function ctorOf(n: { dtype: string }): BufferDecl["ctor"] {
  switch (n.dtype) {
    case "f32":
      return "Float32Array";
    case "f64":
      return "Float64Array";
    case "i32":
      return "Int32Array";
    default:
      return "Uint8Array";
  }
}

export function locComment(loc: SpecLoc | undefined, what: string): string {
  if (!loc) return `// ${what}`;
  // Spec names are identifiers (schema-checked), but keep comments inert anyway.
  const w = (loc.what ?? "").replace(/[^\w.\[\] ]/g, "");
  return `// ${what} — ${loc.file.replace(/[^\w./-]/g, "")}:${loc.line}${w ? ` (${w})` : ""}`;
}

class Emitter {
  readonly lines: string[] = [];
  readonly probes: (readonly [string, string])[] = [];
  /** Data inputs read by this function: (input name, buffer). */
  readonly inputs: (readonly [string, string])[] = [];
  private readonly buf = new Map<number, string>();
  private readonly f: Fusion;
  /** In-place updates computed as accumulating matrix products (update.ts),
   * by update node, and the products they absorb (emitted there instead). */
  private readonly updates: Map<number, FusedUpdate>;
  private readonly deferred = new Set<number>();
  private counter = 0;

  constructor(
    readonly g: Graph,
    readonly ctx: FunctionContext,
    readonly prefix: string,
    readonly iter: string,
    readonly args: readonly string[] = [],
  ) {
    this.f = analyzeFusion(g);
    const target = ctx.outputTarget;
    this.updates = target ? findFusedUpdates(g, this.f, (name, n) => target(name, n, g, this.f)) : new Map();
    for (const u of this.updates.values()) for (const t of u.terms) this.deferred.add(t.matmul.id);
  }

  fresh(base: string): string {
    return `${base}${this.counter++}`;
  }

  private declare(name: string, n: { dtype: string; shape: readonly number[] }, fill?: number): string {
    return this.field(`${this.prefix}${name}`, ctorOf(n), Math.max(1, numel(n.shape)), fill);
  }

  private field(name: string, ctor: BufferDecl["ctor"], size: number, fill?: number): string {
    const offset = this.ctx.arena.place(ctor, size);
    this.ctx.buffers.push({ name, ctor, size, offset, ...(fill === undefined ? {} : { fill }) });
    this.ctx.arena.addrs.set(`this.${name}`, offset);
    return `this.${name}`;
  }

  /** The buffer holding node `id`'s value (allocating one when needed). */
  bufferOf(id: number): string {
    const have = this.buf.get(id);
    if (have) return have;
    const n = this.g.nodes[id]!;
    let b: string;
    if (n.op === "input") {
      // Data inputs are copied into the model's memory at the start of the
      // step (kernels can only read buffers there).
      b = this.declare(`in_${(n as Node<"input">).attrs.name.replace(/\W/g, "_")}`, n);
      this.inputs.push([(n as Node<"input">).attrs.name, b]);
    } else if (n.op === "param" || n.op === "state") b = this.ctx.leafBuffer(n);
    else if (n.op === "scan_arg") b = this.args[(n as Node<"scan_arg">).attrs.index]!;
    else if (n.op === "const") b = this.declare(`k${id}`, n, (n as Node<"const">).attrs.value);
    else if (OPS[n.op].ts.kind === "view") b = this.bufferOf(n.inputs[0]!);
    else b = this.declare(`t${id}`, n);
    this.buf.set(id, b);
    return b;
  }

  private scalarCtx(index: string): ScalarCtx {
    return { index, seed: this.ctx.seed, step: this.ctx.step, iter: this.iter, rng: "rng" };
  }

  /** Scalar expression of node `id` at output coordinates `coords` (flat `i`). */
  private expr(id: number, i: string, coords: readonly string[], shape: readonly number[]): string {
    if (this.deferred.has(id)) return "0"; // added by its fused update after the loop
    const n = this.g.nodes[id]!;
    const p = this.f.placement[id];
    if (p === "indexmap") {
      const src = this.g.nodes[n.inputs[0]!]!;
      if (src.op === "const") return this.expr(src.id, "0", [], []);
      return `${this.bufferOf(src.id)}[${broadcastIndex(src.shape, shape, coords)}]`;
    }
    if (p === "inline") {
      const em = OPS[n.op].ts;
      if (em.kind !== "elementwise") throw new Error(`inline node %${id} (${n.op}) is not elementwise`);
      const args = n.inputs.map((a) => this.expr(a, i, coords, shape));
      return (em.expr as (a: readonly string[], n: Node, e: ScalarCtx) => string)(args, n, this.scalarCtx(i));
    }
    return `${this.bufferOf(id)}[${i}]`;
  }

  private usesIndexMap(id: number): boolean {
    const n = this.g.nodes[id]!;
    return n.inputs.some((a) => this.f.placement[a] === "indexmap" || (this.f.placement[a] === "inline" && this.usesIndexMap(a)));
  }

  /** One loop computing an elementwise root and everything fused into it. */
  private loop(n: Node, out: string): void {
    const em = OPS[n.op].ts;
    if (em.kind !== "elementwise") throw new Error("loop() needs an elementwise node");
    const shape = n.shape;
    const size = numel(shape);
    if (this.wasmLoop(n, out)) return;
    const i = this.fresh("i");
    if (!this.usesIndexMap(n.id) || shape.length === 0) {
      const args = n.inputs.map((a) => this.expr(a, i, [], shape));
      const e = (em.expr as (a: readonly string[], n: Node, c: ScalarCtx) => string)(args, n, this.scalarCtx(i));
      this.lines.push(`for (let ${i} = 0; ${i} < ${size}; ${i}++) ${out}[${i}] = ${e};`);
      return;
    }
    // Nested loops give the coordinates that broadcast index maps need.
    const cs = shape.map(() => this.fresh("c"));
    this.lines.push(`let ${i} = 0;`);
    shape.forEach((d, k) => this.lines.push(`${"  ".repeat(k)}for (let ${cs[k]} = 0; ${cs[k]} < ${d}; ${cs[k]}++) {`));
    const args = n.inputs.map((a) => this.expr(a, i, cs, shape));
    const e = (em.expr as (a: readonly string[], n: Node, c: ScalarCtx) => string)(args, n, this.scalarCtx(i));
    // The index is bumped in its own statement: in `a[i++] = f(b[i])` the
    // left side is evaluated first, so the right side would read element i+1.
    this.lines.push(`${"  ".repeat(shape.length)}${out}[${i}] = ${e};`, `${"  ".repeat(shape.length)}${i}++;`);
    shape.forEach((_, k) => this.lines.push(`${"  ".repeat(shape.length - 1 - k)}}`));
  }

  /** A sum over trailing axes with its operand's elementwise chain computed
   * in the loop (e.g. Σ W² of the L2 penalty without a W² buffer). */
  private reduction(n: Node, out: string): void {
    const src = this.g.nodes[n.inputs[0]!]!;
    const shape = src.shape;
    const kept = n.shape.length;
    if (this.wasmSum(n, src, out)) return;
    const i = this.fresh("i"), o = this.fresh("o"), s = this.fresh("s");
    const cs = shape.map(() => this.fresh("c"));
    this.lines.push(`let ${i} = 0;`, `let ${o} = 0;`);
    shape.forEach((d, k) => {
      if (k === kept) this.lines.push(`let ${s} = 0;`);
      this.lines.push(`for (let ${cs[k]} = 0; ${cs[k]} < ${d}; ${cs[k]}++) {`);
    });
    if (kept === shape.length) this.lines.push(`let ${s} = 0;`);
    this.lines.push(`${s} += ${this.expr(src.id, i, cs, shape)};`, `${i}++;`);
    shape.forEach((_, k) => {
      this.lines.push(`}`);
      if (shape.length - 1 - k === kept) this.lines.push(`${out}[${o}] = ${s};`, `${o}++;`);
    });
  }

  /** The fused expression of node `id` (read at output shape `shape`) as a
   * tree for the wasm loop emitter; undefined when some part has no wasm
   * form (an op without one, a non-f32 value, a buffer outside the memory). */
  private wasmTree(id: number, shape: readonly number[]): WasmTree | undefined {
    const n = this.g.nodes[id]!;
    if (n.dtype !== "f32") return undefined;
    if (this.deferred.has(id)) return { kind: "const", value: 0 }; // see expr()
    const p = this.f.placement[id];
    if (n.op === "const" && p === "inline") return { kind: "const", value: (n as Node<"const">).attrs.value };
    if (p === "indexmap") {
      const src = this.g.nodes[n.inputs[0]!]!;
      if (src.op === "const") return { kind: "const", value: (src as Node<"const">).attrs.value };
      const addr = this.ctx.arena.addrs.get(this.bufferOf(src.id));
      if (addr === undefined || src.dtype !== "f32") return undefined;
      const st = strides(src.shape);
      const lead = shape.length - src.shape.length;
      return { kind: "load", addr, strides: shape.map((_, k) => (k < lead || src.shape[k - lead] === 1 ? 0 : st[k - lead]!)) };
    }
    if (p === "inline") {
      const em = OPS[n.op].wasm;
      if (!em || OPS[n.op].ts.kind !== "elementwise") return undefined;
      const args: WasmTree[] = [];
      for (const a of n.inputs) {
        const t = this.wasmTree(a, shape);
        if (!t) return undefined;
        args.push(t);
      }
      return { kind: "op", emit: em, args };
    }
    const addr = this.ctx.arena.addrs.get(this.bufferOf(id));
    if (addr === undefined) return undefined;
    return { kind: "load", addr, strides: strides(shape) };
  }

  /** An elementwise loop as a wasm function, when its whole chain has a wasm form. */
  private wasmLoop(n: Node, out: string): boolean {
    const w = this.ctx.wasm;
    const outAddr = this.ctx.arena.addrs.get(out);
    const em = OPS[n.op].wasm;
    if (!w || outAddr === undefined || !em || n.dtype !== "f32") return false;
    const args: WasmTree[] = [];
    for (const a of n.inputs) {
      const t = this.wasmTree(a, n.shape);
      if (!t) return false;
      args.push(t);
    }
    const name = `${this.prefix}loop${n.id}`;
    if (!w.elementwise(name, `${n.op} %${n.id} → [${n.shape.join(", ")}]`, { kind: "op", emit: em, args }, outAddr, n.shape)) return false;
    this.lines.push(`this.w.${name}(); // WebAssembly SIMD (loops.wat)`);
    return true;
  }

  /** A fused sum over trailing axes as a wasm function. */
  private wasmSum(n: Node, src: Node, out: string): boolean {
    const w = this.ctx.wasm;
    const outAddr = this.ctx.arena.addrs.get(out);
    if (!w || outAddr === undefined || n.dtype !== "f32") return false;
    const t = this.wasmTree(src.id, src.shape);
    if (!t) return false;
    const name = `${this.prefix}sum${n.id}`;
    if (!w.sum(name, `${n.op} %${n.id} → [${n.shape.join(", ")}]`, t, outAddr, src.shape, n.shape.length)) return false;
    this.lines.push(`this.w.${name}(); // WebAssembly SIMD (loops.wat)`);
    return true;
  }

  /** The nodes computed inside `n`'s loop (its fused operand chain). */
  private fusedInto(n: Node): Node[] {
    const out: Node[] = [];
    const walk = (id: number) => {
      if (this.f.placement[id] !== "inline" || this.g.nodes[id]!.op === "const") return;
      out.push(this.g.nodes[id]!);
      this.g.nodes[id]!.inputs.forEach(walk);
    };
    n.inputs.forEach(walk);
    return out;
  }

  emitAll(): void {
    for (const n of this.g.nodes) this.emitNode(n);
  }

  private emitNode(n: Node): void {
    const p = this.f.placement[n.id];
    const kind = OPS[n.op].ts.kind;
    if (p !== "buffer" || kind === "leaf" || kind === "view" || n.op === "tuple_get" || n.op === "const") return;
    if (this.deferred.has(n.id)) return; // computed by its fused update
    const outName = [...this.g.outputs].find(([, id]) => id === n.id)?.[0];
    const target = outName && this.ctx.outputTarget?.(outName, n, this.g, this.f);
    if (target) this.buf.set(n.id, this.ctx.leafBuffer(target));
    const out = this.bufferOf(n.id);
    // Parameters updated in place are not probed (they hold the old values'
    // replacements); every other computed buffer is, in execution order.
    if (n.op !== "scan" && out.startsWith("this.")) this.probes.push([[n, ...this.fusedInto(n)].map(probeLabel).join(", computing "), out]);
    if (n.op === "scan") return this.scan(n as Node<"scan">);
    const update = this.updates.get(n.id);
    if (update) return this.fusedUpdate(n, update, out);
    this.lines.push(locComment(n.loc, `${n.op} %${n.id} → [${n.shape.join(", ")}]`));
    if (kind === "elementwise") return this.loop(n, out);
    if (n.op === "reduce_sum" && this.f.placement[n.inputs[0]!] === "inline") return this.reduction(n, out);
    const em = OPS[n.op].ts;
    if (em.kind !== "kernel") throw new Error(`no TypeScript emitter for ${n.op}`);
    const k: KernelCtx<never> = {
      node: n as never,
      out,
      ins: n.inputs.map((a) => this.bufferOf(a)),
      inTypes: n.inputs.map((a) => this.g.nodes[a]!),
      dataInputs: n.inputs.map((a) => this.g.nodes[a]!.op === "input"),
      fresh: (s) => this.fresh(s),
      scratch: (ctor, size) => this.field(`${this.prefix}w${n.id}_${this.counter++}`, ctor, size),
      addr: (b) => this.ctx.arena.addrs.get(b),
      kernels: "this.k",
    };
    this.lines.push(`{`, (em.emit as (k: KernelCtx<never>) => string)(k), `}`);
  }

  /** `W ← W − c·Σ ±Mᵢ` as accumulating products into W's buffer (update.ts). */
  private fusedUpdate(n: Node, u: FusedUpdate, out: string): void {
    const products = u.terms.map((t) => `%${t.matmul.id}`).join(", ");
    this.lines.push(locComment(n.loc, `${n.op} %${n.id} → [${n.shape.join(", ")}], fused with the products ${products} (compiler/emit/ts/update.ts)`));
    // Other terms first, elementwise in W's own loop (the products read as 0
    // there), so the loop reads each old element of W once.
    if (u.rest) this.loop(n, out);
    for (const { matmul, alpha } of u.terms) {
      const [a, b] = matmul.inputs as [number, number];
      const call = gemmCall(matmul, [this.g.nodes[a]!, this.g.nodes[b]!], {
        A: this.bufferOf(a),
        B: this.bufferOf(b),
        out,
        addr: (x) => this.ctx.arena.addrs.get(x),
        kernels: "this.k",
      }, { accumulate: true, alpha, sparseA: this.g.nodes[a]!.op === "input" });
      if (call === undefined) throw new Error(`fused update %${n.id}: product %${matmul.id} has no WebAssembly kernel form`);
      this.lines.push(call);
    }
  }

  /** A scan: the body is emitted inline inside a loop over t. */
  private scan(n: Node<"scan">): void {
    const a: ScanAttrs = n.attrs;
    const types = scanOutTypes(a);
    const p = `${this.prefix}s${n.id}_`;
    // Tuple elements: the tuple_get nodes alias these buffers.
    const elems = types.map((t, k) => this.declare(`s${n.id}_e${k}`, t));
    for (const c of this.f.consumers[n.id]!) {
      const tg = this.g.nodes[c]! as Node<"tuple_get">;
      this.buf.set(c, elems[tg.attrs.index]!);
    }
    const argTypes = n.inputs.map((i) => this.g.nodes[i]!);
    const carry = Array.from({ length: a.nCarry }, (_, j) => this.declare(`s${n.id}_c${j}`, argTypes[j]!));
    const seqs = Array.from({ length: a.nSeq }, (_, q) => {
      const t = argTypes[a.nCarry + q]!;
      return this.declare(`s${n.id}_x${q}`, { dtype: t.dtype, shape: t.shape.slice(1) });
    });
    const consts = n.inputs.slice(a.nCarry + a.nSeq).map((i) => this.bufferOf(i));
    const t = this.fresh("t");
    const s = this.fresh("s");
    const body = new Emitter(a.body, this.ctx, p, t, [...carry, ...seqs, ...consts]);
    body.counter = this.counter + 1000;
    body.emitAll();
    this.inputs.push(...body.inputs);
    const outs = [...a.body.outputs.values()].map((id) => body.bufferOf(id));
    const L = a.length;
    const lines = this.lines;
    lines.push(locComment(n.loc, `scan %${n.id}: ${L} steps${a.reverse ? ", reversed (gradient through time)" : ""}`));
    carry.forEach((c, j) => lines.push(`${c}.set(${this.bufferOf(n.inputs[j]!)});`));
    lines.push(`for (let ${s} = 0; ${s} < ${L}; ${s}++) {`);
    lines.push(`const ${t} = ${a.reverse ? `${L - 1} - ${s}` : s};`);
    carry.forEach((c, j) => lines.push(`${elems[a.nCarry + a.nStepOut + j]}.set(${c}, ${t} * ${numel(argTypes[j]!.shape)});`));
    seqs.forEach((x, q) => {
      const m = numel(argTypes[a.nCarry + q]!.shape.slice(1));
      const k = this.fresh("k");
      lines.push(`for (let ${k} = 0; ${k} < ${m}; ${k}++) ${x}[${k}] = ${this.bufferOf(n.inputs[a.nCarry + q]!)}[${t} * ${m} + ${k}];`);
    });
    lines.push(...body.lines);
    for (let m = 0; m < a.nStepOut; m++) {
      lines.push(`${elems[a.nCarry + m]}.set(${outs[a.nCarry + m]}, ${t} * ${numel(types[a.nCarry + m]!.shape.slice(1))});`);
    }
    carry.forEach((c, j) => {
      if (outs[j] !== c) lines.push(`${c}.set(${outs[j]});`);
    });
    lines.push(`}`);
    carry.forEach((c, j) => lines.push(`${elems[j]}.set(${c});`));
    this.counter = body.counter;
  }
}

function probeLabel(n: Node): string {
  const at = n.loc ? ` at ${n.loc.file}:${n.loc.line}:${n.loc.col}${n.loc.what ? ` (${n.loc.what})` : ""}` : "";
  return `${n.op} %${n.id}${at}`;
}

/** Flat index into a buffer of shape `src` broadcast to `dst` at coordinates. */
function broadcastIndex(src: readonly number[], dst: readonly number[], coords: readonly string[]): string {
  const st = strides(src);
  const lead = dst.length - src.length;
  const terms: string[] = [];
  src.forEach((d, k) => {
    if (d === 1) return;
    const c = coords[lead + k]!;
    terms.push(st[k] === 1 ? c : `${c} * ${st[k]}`);
  });
  return terms.length ? terms.join(" + ") : "0";
}

export interface EmittedFunction {
  readonly body: string[];
  readonly outputs: Map<string, string>;
  /** Buffers in execution order with a label naming op and spec location. */
  readonly probes: (readonly [string, string])[];
  /** Data inputs to copy into the model's memory first: (name, buffer). */
  readonly inputs: readonly (readonly [string, string])[];
}

/** Emits a graph's statements; returns them and the buffer of each output. */
export function emitGraph(g: Graph, ctx: FunctionContext, prefix: string): EmittedFunction {
  const e = new Emitter(g, ctx, prefix, "0");
  e.emitAll();
  const outputs = new Map<string, string>();
  for (const [k, id] of g.outputs) outputs.set(k, e.bufferOf(id));
  return { body: e.lines, outputs, probes: e.probes, inputs: e.inputs };
}
