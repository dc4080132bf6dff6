// The CPU renderer: one lowered function (compiler/lower/program.ts) → the
// statements of a TypeScript method. Fused loops and sums run as WebAssembly
// SIMD functions (./wasm-tree.ts, compiler/emit/wasm/loops.ts) when every op
// of the chain has a wasm form and the values are f32, else as TypeScript
// loops; op kernels are the ops' own emitters; scans are loops over t.
// Buffers are named by the lowering; the method declares a local for each
// buffer it names, and no other.

import { numel, type Node, type SpecLoc, type TensorType } from "../../ir/types.ts";
import type { KernelCtx, ScalarCtx } from "../../ops/op.ts";
import { OPS } from "../../ops/registry.ts";
import { gemmCall } from "../../ops/matmul.ts";
import { type Block, type BufferId, type Expr, isContiguous, type Kernel, type LoweredFunction, type Program } from "../../lower/program.ts";
import type { WasmLoops } from "../wasm/loops.ts";
import { type Arena } from "./arena.ts";
import { tsLiteral } from "./literals.ts";
import { specComment } from "../comments.ts";
import { kernelFormula } from "../../lower/print.ts";
import { toWasmTree } from "./wasm-tree.ts";
import { kernelCall } from "../wasm/calls.ts";
import { SPARSE_WORK_SHARE, type SplitWork } from "../wasm/split-rule.ts";
import { inPlaceInputs } from "./in-place-inputs.ts";

export interface RenderedFunction {
  readonly body: string[];
  /** Buffers the body names (each gets a local). */
  readonly used: ReadonlySet<BufferId>;
  /** Computed buffers in execution order, labelled with op and spec line. */
  readonly probes: readonly (readonly [string, BufferId])[];
  /** What a helper thread would share of one call (split-rule.ts). */
  readonly split: SplitWork;
  /** Inputs the products read where the batch lies: buffer → the local
   * holding its address this call (./in-place-inputs.ts). */
  readonly inPlace: ReadonlyMap<BufferId, string>;
}

export class FunctionRenderer {
  private readonly lines: string[] = [];
  private readonly used = new Set<BufferId>();
  private readonly probes: (readonly [string, BufferId])[] = [];
  private counter = 0;
  private readonly wasmNames = new Set<string>();
  /** Multiply-adds of products marked split, scans' steps multiplied in. */
  private splitMadds = 0;
  /** Parameters those products read or write, by buffer. */
  private readonly splitParams = new Map<BufferId, number>();
  private imageSplits = false;
  /** Steps of the scans being rendered, multiplied (their static lengths). */
  private trips = 1;
  /** Inputs read in place: buffer → its address local (`x$at`: no spec
   * name has a `$`). */
  private readonly inPlace: ReadonlyMap<BufferId, string>;

  constructor(
    private readonly p: Program,
    private readonly fn: LoweredFunction,
    private readonly arena: Arena,
    private readonly wasm: WasmLoops,
    /** Expression of the model's RNG seed. */
    private readonly seed: string,
  ) {
    this.inPlace = new Map([...inPlaceInputs(p, fn)].map((b) => [b, `${p.buffers[b]!.local}$at`]));
  }

  render(): RenderedFunction {
    this.block(this.fn.block, "0", true);
    const split = { madds: this.splitMadds, paramFloats: [...this.splitParams.values()].reduce((a, b) => a + b, 0), imageSplits: this.imageSplits };
    return { body: this.lines, used: this.used, probes: this.probes, split, inPlace: this.inPlace };
  }

  /** Tallies an emitted kernel call's share for the helper thread: a
   * product marked `split` (its multiply-adds, the share a zero-skipping
   * kernel is expected to do of them, and the parameters among `bufs`), or a
   * convolution split by images. */
  private tallySplit(text: string, node: Node, inTypes: readonly TensorType[], bufs: readonly BufferId[]): void {
    if (/\bthis\.k\.(convBlock|fullConv)\(/.test(text)) this.imageSplits = true;
    if (node.op !== "matmul" || !/\bsplit: true\b/.test(text)) return;
    const a = inTypes[0]!.shape;
    const k = (node.attrs as { transA: boolean }).transA ? a[0]! : a[1]!;
    const share = /\bthis\.k\.gemmSparse\(/.test(text) ? SPARSE_WORK_SHARE[/\bbinary: true\b/.test(text) ? "binary" : "values"] : 1;
    this.splitMadds += numel(node.shape) * k * share * this.trips;
    for (const b of bufs) if (this.p.buffers[b]!.role === "param") this.splitParams.set(b, this.p.buffers[b]!.size);
  }

  /** The local naming buffer `b` in this method. */
  ref(b: BufferId): string {
    this.used.add(b);
    this.arena.offset(b);
    return this.p.buffers[b]!.local;
  }

  private fresh(base: string): string {
    return `${base}$${this.counter++}`;
  }

  private block(b: Block, iter: string, top: boolean): void {
    for (const k of b.kernels) this.kernel(k, iter, top);
  }

  private kernel(k: Kernel, iter: string, top: boolean): void {
    if (top && k.kind !== "scan" && k.kind !== "copy" && this.p.buffers[k.out]!.role === "temp") {
      this.probes.push([[k.node, ...k.fused].map(probeLabel).join(", computing "), k.out]);
    }
    switch (k.kind) {
      case "loop":
        this.lines.push(this.comment(k));
        return this.loop(k, iter);
      case "sum":
        this.lines.push(this.comment(k));
        return this.sum(k, iter);
      case "op":
        this.lines.push(this.comment(k));
        return this.op(k);
      case "update":
        return this.update(k, iter);
      case "copy":
        this.lines.push(`${this.ref(k.out)}.set(${this.ref(k.src)}); // commit: the update could not be written in place`);
        return;
      case "scan":
        return this.scan(k, iter);
    }
  }

  private comment(k: Kernel): string {
    return specComment(k.node.loc, kernelFormula(k, this.p));
  }

  private scalarCtx(index: string, iter: string): ScalarCtx {
    return { index, seed: this.seed, step: "step", iter, rng: "rng" };
  }

  /** The TypeScript expression of `e` at flat index `i` (operands read
   * contiguously) or, when `cs` is given, at coordinates `cs` ("0" on folded
   * size-1 axes). Reads of buffers in `zero` are 0. */
  private expr(e: Expr, i: string, cs: readonly string[], iter: string, zero: ReadonlySet<BufferId>): string {
    if (e.kind === "const") return tsLiteral(e.value, e.dtype);
    if (e.kind === "read") {
      if (zero.has(e.buffer)) return "0";
      if (cs.length === 0) return `${this.ref(e.buffer)}[${i}]`;
      const terms = e.strides.flatMap((s, k) => (s === 0 || cs[k] === "0" ? [] : [s === 1 ? cs[k]! : `${cs[k]} * ${s}`]));
      return `${this.ref(e.buffer)}[${terms.length ? terms.join(" + ") : "0"}]`;
    }
    const em = OPS[e.node.op].ts;
    if (em.kind !== "elementwise") throw new Error(`fused ${e.node.op} has no elementwise form`);
    const args = e.args.map((a) => this.expr(a, i, cs, iter, zero));
    return (em.expr as (a: readonly string[], n: Node, c: ScalarCtx) => string)(args, e.node, this.scalarCtx(i, iter));
  }

  private wasmName(k: Kernel): string {
    let name = `${this.fn.name}_${this.p.buffers[k.out]!.local}`;
    for (let n = 2; this.wasmNames.has(name); n++) name = `${this.fn.name}_${this.p.buffers[k.out]!.local}${n}`;
    this.wasmNames.add(name);
    return name;
  }

  /** A loop that draws uniforms (a dropout mask, a Bernoulli sample): the
   * runtime's Philox kernel writes the draws into the loop's output first
   * (bitwise runtime/rng/philox.ts's, ~10× faster than a draw per element
   * in TypeScript), and the loop reads them back from there at the same
   * index. Only for one draw per element (its index is the loop's flat
   * index, whatever the operands' strides), into an f32 output the
   * expression does not otherwise read. Returns the loop's
   * expression with the draw replaced by that read. */
  private drawnFirst(k: Kernel & { kind: "loop" }, iter: string): Expr | undefined {
    if (this.p.buffers[k.out]!.dtype !== "f32") return undefined;
    const draws: (Expr & { kind: "op" })[] = [];
    const walk = (e: Expr): void => {
      if (e.kind !== "op") return;
      if (e.node.op === "random_uniform") draws.push(e);
      e.args.forEach(walk);
    };
    walk(k.expr);
    const d = draws[0];
    const size = numel(k.shape);
    if (draws.length !== 1 || numel(d!.node.shape) !== size) return undefined;
    const reads = readsOf(k.expr);
    if (reads.some((r) => r.buffer === k.out)) return undefined;
    const salt = (d!.node.attrs as { salt: number }).salt >>> 0;
    this.lines.push(kernelCall("this.k", "uniformFill", { dst: this.arena.offset(k.out), n: size, seed: this.seed, salt, step: "step", iter }, `${this.ref(k.out)} ← the draws (Philox)`));
    const strides = k.shape.map((_, a) => k.shape.slice(a + 1).reduce((x, y) => x * y, 1));
    const replaced = (e: Expr): Expr => (e === d ? { kind: "read", buffer: k.out, strides } : e.kind === "op" ? { ...e, args: e.args.map(replaced) } : e);
    return replaced(k.expr);
  }

  private loop(k: Kernel & { kind: "loop" }, iter: string, zero: ReadonlySet<BufferId> = new Set()): void {
    const expr = this.drawnFirst(k, iter) ?? k.expr;
    const tree = k.node.dtype === "f32" ? toWasmTree(expr, (b) => (zero.has(b) ? undefined : this.wasmAddr(b)), this.p, zero) : undefined;
    if (tree) {
      const name = this.wasmName(k);
      this.arena.offset(k.out);
      if (this.wasm.elementwise(name, this.comment(k).replace(/^\/\/ /, ""), tree, this.arena.offset(k.out), k.shape)) {
        this.lines.push(`this.w.${name}(); // WebAssembly SIMD (loops.wat)`);
        return;
      }
    }
    const out = this.ref(k.out);
    const size = numel(k.shape);
    const reads = readsOf(expr);
    if (size === 1) return void this.lines.push(`${out}[0] = ${this.expr(expr, "0", [], iter, zero)};`);
    if (reads.every((r) => isContiguous(r.strides, k.shape))) {
      const i = this.fresh("i");
      this.lines.push(`for (let ${i} = 0; ${i} < ${size}; ${i}++) ${out}[${i}] = ${this.expr(expr, i, [], iter, zero)};`);
      return;
    }
    this.nested(k.shape, (i, cs) => [`${out}[${i}] = ${this.expr(expr, i, cs, iter, zero)};`]);
  }

  /** Loops over `shape` (size-1 axes folded) with a running flat index `i`.
   * `inner` gives the statements at each element; `open(k)` statements go
   * before the loop of axis k (k = rank: just before `inner`), `close(k)`
   * after it closes (k = rank: just after `inner`). */
  private nested(shape: readonly number[], inner: (i: string, cs: readonly string[]) => string[], open: (k: number) => string[] = () => [], close: (k: number) => string[] = () => []): void {
    const i = this.fresh("i");
    const cs = shape.map((d) => (d === 1 ? "0" : this.fresh("c")));
    const pad = (d: number) => "  ".repeat(d);
    const body = inner(i, cs);
    // The running index only where something reads it (a random op's counter).
    const counted = body.some((l) => new RegExp(`${i.replace("$", "\\$")}(?!\\d)`).test(l));
    if (counted) this.lines.push(`let ${i} = 0;`);
    let depth = 0;
    shape.forEach((d, k) => {
      this.lines.push(...open(k).map((l) => pad(depth) + l));
      if (d !== 1) this.lines.push(`${pad(depth++)}for (let ${cs[k]} = 0; ${cs[k]} < ${d}; ${cs[k]}++) {`);
    });
    this.lines.push(...open(shape.length).map((l) => pad(depth) + l));
    // The index is bumped in its own statement: in `a[i++] = f(b[i])` the
    // left side is evaluated first, so the right side would read element i+1.
    this.lines.push(...body.map((l) => pad(depth) + l), ...(counted ? [`${pad(depth)}${i}++;`] : []));
    this.lines.push(...close(shape.length).map((l) => pad(depth) + l));
    for (let k = shape.length - 1; k >= 0; k--) {
      if (shape[k] !== 1) this.lines.push(`${pad(--depth)}}`);
      this.lines.push(...close(k).map((l) => pad(depth) + l));
    }
  }

  private sum(k: Kernel & { kind: "sum" }, iter: string): void {
    const fusedChain = k.trailing && k.expr.kind === "op";
    if (!fusedChain && k.whole) {
      // A sum of a buffer: the op's own kernel (rows accumulated in place:
      // cache-friendly for sums over leading axes, where a loop over the
      // permuted iteration space would stride through memory).
      const src = readsOf(k.expr)[0]!.buffer;
      return this.opCall(k.node, k.out, [src], [{ shape: this.p.buffers[src]!.shape, dtype: this.p.buffers[src]!.dtype }], [false], [false]);
    }
    // A fused chain, or a stage of a split sum.
    const tree = k.node.dtype === "f32" ? toWasmTree(k.expr, (b) => this.wasmAddr(b), this.p, new Set()) : undefined;
    if (tree) {
      const name = this.wasmName(k);
      if (this.wasm.sum(name, this.comment(k).replace(/^\/\/ /, ""), tree, this.arena.offset(k.out), k.shape, k.kept)) {
        this.lines.push(`this.w.${name}(); // WebAssembly SIMD (loops.wat)`);
        return;
      }
    }
    const out = this.ref(k.out);
    const o = this.fresh("o");
    const s = this.fresh("s");
    this.lines.push(`let ${o} = 0;`);
    const contiguous = readsOf(k.expr).every((r) => isContiguous(r.strides, k.shape));
    this.nested(
      k.shape,
      (i, cs) => [`${s} += ${this.expr(k.expr, i, contiguous ? [] : cs, iter, new Set())};`],
      (axis) => (axis === k.kept ? [`let ${s} = 0;`] : []),
      (axis) => (axis === k.kept ? [`${out}[${o}] = ${s};`, `${o}++;`] : []),
    );
  }

  private wasmAddr(b: BufferId): number | undefined {
    return this.p.buffers[b]!.dtype === "f32" ? this.arena.offset(b) : undefined;
  }

  private op(k: Kernel & { kind: "op" }): void {
    this.opCall(k.node, k.out, k.ins, k.inTypes, k.dataInputs, k.binaryInputs);
  }

  private opCall(node: Node, outB: BufferId, ins: readonly BufferId[], inTypes: KernelCtx<never>["inTypes"], dataInputs: readonly boolean[], binaryInputs: readonly boolean[]): void {
    const em = OPS[node.op].ts;
    if (em.kind !== "kernel") throw new Error(`no TypeScript kernel for ${node.op}`);
    const byExpr = new Map<string, number>();
    const name = (b: BufferId) => {
      const r = this.ref(b);
      byExpr.set(r, this.arena.offset(b));
      return r;
    };
    const k: KernelCtx<never> = {
      node: node as never,
      out: name(outB),
      ins: ins.map(name),
      inTypes,
      dataInputs,
      binaryInputs,
      fresh: (s) => this.fresh(s),
      scratch: (ctor, size) => {
        const f = this.arena.scratch(`${this.fn.name}_scratch${this.counter++}`, ctor, size);
        byExpr.set(`this.${f.name}`, f.offset);
        return `this.${f.name}`;
      },
      addr: (b) => byExpr.get(b)!,
      kernels: "this.k",
    };
    // A product reading an input where the batch lies takes the input's
    // address as an expression (the op's own emitter gives constants).
    const inPlace = new Map(ins.filter((b) => this.inPlace.has(b)).map((b) => [this.ref(b), this.inPlace.get(b)!]));
    const text = inPlace.size
      ? gemmCall(node as Node<"matmul">, inTypes, { A: k.ins[0]!, B: k.ins[1]!, out: k.out, addr: (r) => inPlace.get(r) ?? byExpr.get(r), kernels: "this.k", scratch: k.scratch }, { accumulate: false, alpha: 1, sparseA: dataInputs[0] === true, binaryA: binaryInputs[0] === true })!
      : (em.emit as (k: KernelCtx<never>) => string)(k);
    this.tallySplit(text, node, inTypes, [outB, ...ins]);
    this.lines.push(`{`, foldOneTrip(text), `}`);
  }

  /** `W ← W − c·Σ ±Pᵢ`: the rest of the update in W's loop (products read
   * as 0), then each product accumulated into W by the gemm kernel. */
  private update(k: Kernel & { kind: "update" }, iter: string): void {
    const products = new Set(k.products.map((t) => t.kernel.out));
    this.lines.push(specComment(k.node.loc, `${kernelFormula(k, this.p)} (products accumulated in place: compiler/lower/fused-update.ts)`));
    if (k.rest) this.loop(k.loop, iter, products);
    for (const { kernel, alpha } of k.products) {
      this.lines.push(this.comment(kernel));
      const offsets = new Map<string, number>();
      const name = (b: BufferId) => {
        const r = this.ref(b);
        offsets.set(r, this.arena.offset(b));
        return r;
      };
      const scratch = (ctor: "Int32Array", size: number) => {
        const f = this.arena.scratch(`${this.fn.name}_scratch${this.counter++}`, ctor, size);
        offsets.set(`this.${f.name}`, f.offset);
        return `this.${f.name}`;
      };
      const inPlace = new Map(kernel.ins.filter((b) => this.inPlace.has(b)).map((b) => [this.ref(b), this.inPlace.get(b)!]));
      const bufs = { A: name(kernel.ins[0]!), B: name(kernel.ins[1]!), out: name(k.out), addr: (x: string) => inPlace.get(x) ?? offsets.get(x), kernels: "this.k", scratch };
      const call = gemmCall(kernel.node as Node<"matmul">, kernel.inTypes, bufs, { accumulate: true, alpha, sparseA: kernel.dataInputs[0] === true, binaryA: kernel.binaryInputs[0] === true });
      if (call === undefined) throw new Error(`fused update of ${this.p.buffers[k.out]!.name}: product has no WebAssembly kernel`);
      this.tallySplit(call, kernel.node, kernel.inTypes, [k.out, ...kernel.ins]);
      this.lines.push(call);
    }
  }

  private scan(k: Kernel & { kind: "scan" }, _iter: string): void {
    const s = k.scan;
    const t = this.fresh("t");
    const n = this.fresh("n");
    const size = (b: BufferId) => this.p.buffers[b]!.size;
    this.lines.push(specComment(k.node.loc, `scan over ${s.count === undefined ? s.length : `up to ${s.length}`} steps${s.reverse ? ", reversed (gradient through time)" : ""}`));
    let L = String(s.length);
    if (s.count !== undefined) {
      // This batch's number of steps; slots of the steps not run stay 0.
      L = this.fresh("steps");
      const n = this.p.buffers[s.count]!.size;
      if (n === 1) this.lines.push(`const ${L} = Math.max(0, Math.min(${s.length}, ${this.ref(s.count)}[0]));`);
      else this.lines.push(`const ${L} = Math.max(0, Math.min(${s.length}, Math.max(...${this.ref(s.count)}))); // the longest of the batch`);
      for (const e of s.elems.slice(s.carry.length)) if (e !== null) this.lines.push(`${this.ref(e)}.fill(0);`);
    }
    s.carry.forEach((c, j) => this.lines.push(`${this.ref(c)}.set(${this.ref(s.init[j]!)});`));
    this.lines.push(`for (let ${n} = 0; ${n} < ${L}; ${n}++) {`);
    const tLine = this.lines.length;
    this.lines.push(`const ${t} = ${s.reverse ? (s.count === undefined ? `${s.length - 1} - ${n}` : `${L} - 1 - ${n}`) : n};`);
    const nCarry = s.carry.length;
    // The carry each step saw: the history the gradient re-runs the body on.
    s.carry.forEach((c, j) => {
      const h = s.elems[nCarry + s.nStepOut + j];
      if (h != null) this.lines.push(`${this.ref(h)}.set(${this.ref(c)}, ${t} * ${size(c)});`);
    });
    s.seqs.forEach((x, q) => this.lines.push(`${this.ref(x)}.set(${this.ref(s.seqSources[q]!)}.subarray(${t} * ${size(x)}, (${t} + 1) * ${size(x)}));`));
    this.trips *= s.length;
    this.block(s.body, t, false);
    this.trips /= s.length;
    for (let m = 0; m < s.nStepOut; m++) {
      const o = s.bodyOuts[nCarry + m]!;
      const e = s.elems[nCarry + m];
      if (e != null) this.lines.push(`${this.ref(e)}.set(${this.ref(o)}, ${t} * ${size(o)});`);
    }
    s.carry.forEach((c, j) => {
      if (s.bodyOuts[j] !== c) this.lines.push(`${this.ref(c)}.set(${this.ref(s.bodyOuts[j]!)});`);
    });
    this.lines.push(`}`);
    // A scan with no sequence, no stacked output and no random draw never
    // reads the step index (HMC's leapfrog): no unused local for it.
    const uses = new RegExp(`(?<![\\w$])${t.replace("$", "\\$")}(?![\\w$])`);
    if (!this.lines.slice(tLine + 1).some((l) => uses.test(l))) this.lines.splice(tLine, 1);
    s.carry.forEach((c, j) => {
      const f = s.elems[j];
      if (f != null) this.lines.push(`${this.ref(f)}.set(${this.ref(c)});`);
    });
  }
}

function readsOf(e: Expr, acc: (Expr & { kind: "read" })[] = []): (Expr & { kind: "read" })[] {
  if (e.kind === "read") acc.push(e);
  if (e.kind === "op") e.args.forEach((a) => readsOf(a, acc));
  return acc;
}

function probeLabel(n: Node): string {
  const l: SpecLoc | undefined = n.loc;
  const at = l ? ` at ${l.file}:${l.line}:${l.col}${l.what ? ` (${l.what})` : ""}` : "";
  return `${n.op} %${n.id}${at}`;
}

/** Static one-trip loops in an op's kernel become a plain block with their
 * index replaced by 0; then factors of 1 and terms of 0 go. Only the
 * renderer's own loop variables (named `x$n`, unique in a method) are
 * touched. */
function foldOneTrip(code: string): string {
  const header = /for \(let (\w+\$\d+) = 0; \1 < 1; \1 (?:\+= 1|\+\+)\) \{|for \(let (\w+\$\d+) = 0; \2 < 1; \2\+\+\) \{/g;
  const vars: string[] = [];
  let out = code.replace(header, (_m, a: string | undefined, b: string | undefined) => {
    vars.push((a ?? b)!);
    return "{";
  });
  for (const v of vars) out = out.replace(new RegExp(`(?<![\\w$])${v.replace("$", "\\$")}(?![\\w$])`, "g"), "0");
  return out
    .replace(/ \* 1(?![\w.$])/g, "")
    .replace(/ \+ 0(?=[\]);,])/g, "")
    .replace(/ \+ 0 \* \d+(?![\w.$])/g, "")
    .replace(/(?<![\w.$])0 \* \d+ \+ /g, "");
}
