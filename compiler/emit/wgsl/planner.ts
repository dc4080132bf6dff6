// Plans a WebGPU program for each graph: buffers (one per value that the
// fusion analysis gives a buffer, shared leaves for parameters, state and
// inputs), one compute kernel per materialised node (fused elementwise
// chains, fused trailing-axis sums, op kernels, tiled matrix products) and the
// command list that replays a step: dispatches, plus buffer copies for scans.
// The same fusion analysis as the TypeScript backend decides what is fused.

import type { Graph, Node, SpecLoc } from "../../ir/types.ts";
import { IRError, numel, strides } from "../../ir/types.ts";
import type { ScanAttrs } from "../../ops/attrs.ts";
import type { WgslEntry, WgslKernelCtx, WgslScalarCtx } from "../../ops/op.ts";
import { OPS } from "../../ops/registry.ts";
import { scanOutTypes } from "../../ops/scan.ts";
import { analyzeFusion, type Fusion, fusedReduction, type Placement } from "../../lower/fusion.ts";
import type { GpuBinding, GpuBufferDesc, GpuCommand, GpuDType, GpuKernelDesc, GpuPlan, GpuProgram } from "../../../runtime/webgpu/plan.ts";
import { shareTemps } from "./reuse.ts";
import { elementwiseKernel, kernelModule, MAX_LOOP, reductionKernel, tiledModule, type Binding } from "./templates.ts";

/** WebGPU's default limits: a plan that fits them runs on every device. */
export const DEFAULT_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
} as const;

export function gpuDType(dtype: string): GpuDType {
  return dtype === "i32" ? "i32" : dtype === "bool" ? "u32" : "f32";
}

function where(loc: SpecLoc | undefined): string {
  return loc ? ` at ${loc.file}:${loc.line}:${loc.col}${loc.what ? ` (${loc.what})` : ""}` : "";
}

/** Buffers and kernels shared by all programs of one model. */
export class GpuPlanner {
  readonly buffers: GpuBufferDesc[] = [];
  readonly kernels: GpuKernelDesc[] = [];
  private readonly leaves = new Map<string, number>();
  readonly ctx: number;
  private iters = -1;

  constructor() {
    this.ctx = this.add({ name: "ctx", size: 4, dtype: "u32", role: "ctx" });
  }

  add(b: GpuBufferDesc): number {
    if (b.size * 4 > DEFAULT_LIMITS.maxStorageBufferBindingSize) {
      throw new IRError(`buffer ${b.name} needs ${b.size * 4} bytes, more than WebGPU's default binding limit of ${DEFAULT_LIMITS.maxStorageBufferBindingSize}`);
    }
    this.buffers.push(b);
    return this.buffers.length - 1;
  }

  leaf(n: Node): number {
    const name = (n.attrs as { name: string }).name;
    const key = `${n.op}:${name}`;
    let b = this.leaves.get(key);
    if (b === undefined) {
      b = this.add({ name: key, size: Math.max(1, numel(n.op === "input" ? n.shape : n.shape)), dtype: gpuDType(n.dtype), role: n.op as "param" | "state" | "input", ref: name });
      this.leaves.set(key, b);
    }
    return b;
  }

  /** The table 0..n-1 that scans copy their iteration index from. */
  itersTable(n: number): number {
    if (this.iters < 0 || this.buffers[this.iters]!.size < n) {
      if (this.iters >= 0) throw new IRError("scans of different lengths share one iteration table; the longest must come first");
      this.iters = this.add({ name: "iters", size: n, dtype: "u32", role: "iters" });
    }
    return this.iters;
  }

  program(g: Graph, prefix: string): GpuProgram {
    const p = new ProgramPlanner(this, g, prefix, []);
    p.planAll();
    const outputs: Record<string, number> = {};
    for (const [k, id] of g.outputs) outputs[k] = p.bufferOf(id);
    // A parameter or state update that could not be written in place (its
    // leaf is read after the update is computed: momentum's velocity feeds
    // the parameter's update, a step counter the schedule) is copied into
    // the leaf's buffer once every kernel of the program has run.
    for (const k of g.outputs.keys()) {
      const m = /^(param|state):(.+)$/.exec(k);
      const leaf = m ? g.nodes.find((x) => x.op === m[1] && (x.attrs as { name: string }).name === m[2]) : undefined;
      if (!leaf) continue;
      const dst = this.leaf(leaf);
      if (outputs[k] !== dst) p.commands.push({ kind: "copy", src: outputs[k]!, srcOffset: 0, dst, dstOffset: 0, size: Math.max(1, numel(leaf.shape)) });
    }
    return { commands: p.commands, outputs };
  }

  plan(steps: readonly Graph[], evalGraph: Graph): GpuPlan {
    const longest = Math.max(1, ...[...steps, evalGraph].flatMap(scanLengths));
    this.itersTable(longest);
    const progs = steps.map((g, s) => this.program(g, `f${s}_`));
    const ev = this.program(evalGraph, "ev_");
    return shareTemps({ buffers: this.buffers, kernels: this.kernels, steps: progs, eval: ev, limits: { ...DEFAULT_LIMITS } });
  }
}

function scanLengths(g: Graph): number[] {
  return g.nodes.flatMap((n) => (n.op === "scan" ? [(n.attrs as ScanAttrs).length, ...scanLengths((n.attrs as ScanAttrs).body)] : []));
}

class ProgramPlanner {
  readonly commands: GpuCommand[] = [];
  private readonly buf = new Map<number, number>();
  private f: Fusion;
  private counter = 0;

  constructor(
    readonly P: GpuPlanner,
    readonly g: Graph,
    readonly prefix: string,
    /** Buffers of scan_arg k (inside a scan body). */
    readonly args: readonly number[],
  ) {
    this.f = analyzeFusion(g);
  }

  fresh(base: string): string {
    return `${base}${this.counter++}`;
  }

  bufferOf(id: number): number {
    const have = this.buf.get(id);
    if (have !== undefined) return have;
    const n = this.g.nodes[id]!;
    let b: number;
    if (n.op === "input" || n.op === "param" || n.op === "state") b = this.P.leaf(n);
    else if (n.op === "scan_arg") b = this.args[(n as Node<"scan_arg">).attrs.index]!;
    else if (n.op === "const") b = this.P.add({ name: `${this.prefix}k${id}`, size: Math.max(1, numel(n.shape)), dtype: gpuDType(n.dtype), role: "const", fill: (n as Node<"const">).attrs.value });
    else if (OPS[n.op].wgsl.kind === "view") b = this.bufferOf(n.inputs[0]!);
    else b = this.P.add({ name: `${this.prefix}t${id}`, size: Math.max(1, numel(n.shape)), dtype: gpuDType(n.dtype), role: "temp" });
    this.buf.set(id, b);
    return b;
  }

  planAll(): void {
    for (const n of this.g.nodes) this.planNode(n);
  }

  private outputLeaf(n: Node): number | undefined {
    // In-place parameter/state updates, under the same rule as the CPU code.
    const name = [...this.g.outputs].find(([, id]) => id === n.id)?.[0];
    const m = name ? /^(param|state):(.+)$/.exec(name) : null;
    if (!m || OPS[n.op].wgsl.kind !== "elementwise") return undefined;
    const leaf = this.g.nodes.find((x) => x.op === m[1] && (x.attrs as { name: string }).name === m[2]);
    if (!leaf || this.f.consumers[n.id]!.length > 0 || this.f.consumers[leaf.id]!.some((c) => c > n.id)) return undefined;
    return this.P.leaf(leaf);
  }

  private planNode(n: Node): void {
    const kind = OPS[n.op].wgsl.kind;
    if (this.f.placement[n.id] !== "buffer" || kind === "leaf" || kind === "view" || n.op === "tuple_get" || n.op === "const") return;
    if (n.op === "scan") return this.scan(n as Node<"scan">);
    const target = this.outputLeaf(n);
    if (target !== undefined) this.buf.set(n.id, target);
    const out = this.bufferOf(n.id);
    const label = `${n.op} %${n.id}${where(n.loc)}`;
    const name = `${this.prefix}k${n.id}`;
    if (kind === "elementwise") return this.dispatch(this.elementwise(n, out, name, label), n.loc);
    // Sums over trailing axes — fused or not — go through the reduction
    // template (tree-reduced when long; see the loop-limit trap there).
    if (fusedReduction(n)) return this.dispatch(this.fusedSum(n, out, name, label), n.loc);
    if (n.op === "reduce_sum") return this.dispatch(this.strideSum(n as Node<"reduce_sum">, out, name, label), n.loc);
    this.checkLoops(n, label);
    this.dispatch(this.opKernel(n, out, name, label), n.loc);
  }

  private dispatch(k: GpuKernelDesc, loc?: SpecLoc): void {
    const used = k.bindings.filter((b) => b.access !== "uniform").length;
    if (used > DEFAULT_LIMITS.maxStorageBuffersPerShaderStage) {
      throw new IRError(`kernel ${k.label} binds ${used} storage buffers; WebGPU's default limit is ${DEFAULT_LIMITS.maxStorageBuffersPerShaderStage}`, loc, "E034");
    }
    if (k.workgroups.some((w) => w > DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension)) {
      throw new IRError(`kernel ${k.label} needs ${k.workgroups.join("×")} workgroups, more than ${DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension} per dimension`, loc, "E034");
    }
    this.P.kernels.push(k);
    this.commands.push({ kind: "dispatch", kernel: this.P.kernels.length - 1 });
  }

  /** Names the buffers a kernel reads; the output is binding 0. */
  private bindings(out: number): { list: Binding[]; read(b: number): string; ctx(): string } {
    const list: Binding[] = [{ buffer: out, access: "read_write", name: "out", elem: elemOf(this.P.buffers[out]!.dtype) }];
    return {
      list,
      read: (b: number) => {
        const have = list.find((x) => x.buffer === b && x.access !== "uniform");
        if (have) return have.name;
        const name = `in${list.length}`;
        list.push({ buffer: b, access: "read", name, elem: elemOf(this.P.buffers[b]!.dtype) });
        return name;
      },
      ctx: () => {
        if (!list.some((x) => x.access === "uniform")) list.push({ buffer: this.P.ctx, access: "uniform", name: "ctx", elem: "Ctx" });
        return "ctx";
      },
    };
  }

  private scalarCtx(bind: ReturnType<ProgramPlanner["bindings"]>, index: string): WgslScalarCtx {
    // Touching ctx lazily: only kernels with random ops bind the uniform.
    return {
      index,
      get seed() {
        return `${bind.ctx()}.seed`;
      },
      get step() {
        return `${bind.ctx()}.step`;
      },
      get iter() {
        return `${bind.ctx()}.iter`;
      },
    };
  }

  /** WGSL expression of node `id` at flat index `i` of an output of `shape`. */
  private expr(id: number, i: string, shape: readonly number[], bind: ReturnType<ProgramPlanner["bindings"]>): string {
    const n = this.g.nodes[id]!;
    const p = this.f.placement[id];
    if (p === "indexmap") {
      const src = this.g.nodes[n.inputs[0]!]!;
      if (src.op === "const") return this.expr(src.id, i, [], bind);
      return `${bind.read(this.bufferOf(src.id))}[${broadcastIndex(src.shape, shape, i)}]`;
    }
    if (p === "inline") {
      const em = OPS[n.op].wgsl;
      if (em.kind !== "elementwise") throw new Error(`inline node %${id} (${n.op}) has no elementwise WGSL`);
      const args = n.inputs.map((a) => this.expr(a, i, shape, bind));
      return (em.expr as (a: readonly string[], n: Node, e: WgslScalarCtx) => string)(args, n, this.scalarCtx(bind, i));
    }
    return `${bind.read(this.bufferOf(id))}[${i}]`;
  }

  /** Buffers an inline subtree would add to a kernel's bindings. */
  private readsOf(id: number, acc: Set<number>): Set<number> {
    const n = this.g.nodes[id]!;
    const p = this.f.placement[id];
    if (p === "inline" && n.op !== "const") for (const a of n.inputs) this.readsOf(a, acc);
    else if (p === "indexmap") {
      const src = this.g.nodes[n.inputs[0]!]!;
      if (src.op !== "const") acc.add(this.bufferOf(src.id));
    } else if (n.op !== "const") acc.add(this.bufferOf(id));
    return acc;
  }

  /** Makes a kernel over `args` fit the storage-buffer limit: while its
   * fused operands would read too many buffers, the widest fused operand
   * becomes a kernel of its own (planned now, so dispatched before). */
  private fit(out: number, args: readonly number[]): void {
    const limit = DEFAULT_LIMITS.maxStorageBuffersPerShaderStage;
    for (;;) {
      const reads = args.map((a) => this.readsOf(a, new Set()));
      const all = new Set([out, ...reads.flatMap((r) => [...r])]);
      if (all.size <= limit) return;
      let widest = -1;
      args.forEach((a, k) => {
        if (this.f.placement[a] === "inline" && this.g.nodes[a]!.op !== "const" && (widest < 0 || reads[k]!.size > reads[widest]!.size)) widest = k;
      });
      if (widest < 0) return; // nothing left to split; dispatch() reports it
      (this.f.placement as Placement[])[args[widest]!] = "buffer";
      this.planNode(this.g.nodes[args[widest]!]!);
    }
  }

  private elementwise(n: Node, out: number, name: string, label: string): GpuKernelDesc {
    this.fit(out, n.inputs);
    const bind = this.bindings(out);
    const em = OPS[n.op].wgsl;
    if (em.kind !== "elementwise") throw new Error("not elementwise");
    const args = n.inputs.map((a) => this.expr(a, "i", n.shape, bind));
    const value = (em.expr as (a: readonly string[], n: Node, e: WgslScalarCtx) => string)(args, n, this.scalarCtx(bind, "i"));
    const size = Math.max(1, numel(n.shape));
    return elementwiseKernel(name, label, bind.list, size, `out[i] = ${value};`);
  }

  /** Op kernels loop over their reduced axis or index list per invocation;
   * refuse plans whose loops would be cut short (see templates.ts). */
  private checkLoops(n: Node, label: string): void {
    const ins = n.inputs.map((i) => this.g.nodes[i]!);
    let iters = 0;
    if (n.op === "reduce_max") iters = numel(ins[0]!.shape) / Math.max(1, numel(n.shape));
    if (n.op === "argmax") iters = ins[0]!.shape[(n as Node<"argmax">).attrs.axis] ?? 0;
    if (n.op === "scatter_add") iters = numel(ins[1]!.shape);
    if (n.op === "matmul") iters = Math.ceil((ins[0]!.shape[(n as Node<"matmul">).attrs.transA ? 0 : 1] ?? 0) / 16) * 16;
    if (iters > MAX_LOOP) throw new IRError(`${n.op} loops ${iters} times per GPU invocation, more than the ${MAX_LOOP} that WebGPU on OpenGL runs reliably${where(n.loc)}`, n.loc, "E033");
  }

  /** A sum over axes that are not trailing (a bias gradient sums over the
   * batch): the same reduction template, reading element (o, r) through the
   * input's strides, so long sums are tree-reduced here too. */
  private strideSum(n: Node<"reduce_sum">, out: number, name: string, label: string): GpuKernelDesc {
    const bind = this.bindings(out);
    const src = this.g.nodes[n.inputs[0]!]!;
    const axes = n.attrs.axes;
    const st = strides(src.shape);
    const kept = src.shape.map((_, k) => k).filter((k) => !axes.includes(k));
    const coordTerms = (dims: readonly number[], v: string) => {
      const shape = dims.map((k) => src.shape[k]!);
      const inner = strides(shape);
      return dims
        .map((k, q) => {
          if (src.shape[k] === 1) return null;
          const c = inner[q] === 1 ? `(${v} % ${shape[q]}u)` : `((${v} / ${inner[q]}u) % ${shape[q]}u)`;
          return st[k] === 1 ? c : `${c} * ${st[k]}u`;
        })
        .filter((t) => t !== null);
    };
    const terms = [...coordTerms(kept, "o"), ...coordTerms(axes, "r")];
    const value = `${bind.read(this.bufferOf(src.id))}[${terms.length ? terms.join(" + ") : "0u"}]`;
    const inner = numel(src.shape) / Math.max(1, numel(n.shape));
    return reductionKernel(name, label, bind.list, Math.max(1, numel(n.shape)), inner, value, elemOf(gpuDType(n.dtype)));
  }

  private fusedSum(n: Node, out: number, name: string, label: string): GpuKernelDesc {
    const src = this.g.nodes[n.inputs[0]!]!;
    if (this.f.placement[src.id] === "inline") this.fit(out, src.inputs);
    const bind = this.bindings(out);
    const inner = numel(src.shape) / Math.max(1, numel(n.shape));
    const value = this.f.placement[src.id] === "inline" ? this.expr(src.id, "j", src.shape, bind) : `${bind.read(this.bufferOf(src.id))}[j]`;
    return reductionKernel(name, label, bind.list, Math.max(1, numel(n.shape)), inner, value, elemOf(gpuDType(n.dtype)));
  }

  private opKernel(n: Node, out: number, name: string, label: string): GpuKernelDesc {
    const bind = this.bindings(out);
    const em = OPS[n.op].wgsl;
    const ctx: WgslKernelCtx<never> = {
      node: n as never,
      out: "out",
      ins: n.inputs.map((a) => bind.read(this.bufferOf(a))),
      inTypes: n.inputs.map((a) => this.g.nodes[a]!),
      fresh: (s) => this.fresh(s),
      elem: (d) => elemOf(gpuDType(d)),
    };
    if (em.kind === "tiled") return tiledModule(name, label, bind.list, (em.entry as (k: WgslKernelCtx<never>) => WgslEntry)(ctx));
    if (em.kind !== "kernel") throw new Error(`no WGSL kernel for ${n.op}`);
    const threads = em.threads ? (em.threads as (n: Node, t: readonly Node[]) => number)(n, ctx.inTypes as Node[]) : Math.max(1, numel(n.shape));
    return kernelModule(name, label, bind.list, threads, (em.body as (k: WgslKernelCtx<never>) => string)(ctx));
  }

  private copy(src: number, srcOffset: number, dst: number, dstOffset: number, size: number): void {
    if (src === dst && srcOffset === dstOffset) return;
    this.commands.push({ kind: "copy", src, srcOffset, dst, dstOffset, size });
  }

  /** A scan unrolled into commands: per step, the iteration index goes into
   * ctx.iter, sequence slices are copied in, the body's kernels run, outputs
   * are copied into the stacked tuple elements and the carries updated. */
  private scan(n: Node<"scan">): void {
    const a = n.attrs;
    const types = scanOutTypes(a);
    const elems = types.map((t, k) => this.P.add({ name: `${this.prefix}s${n.id}_e${k}`, size: Math.max(1, numel(t.shape)), dtype: gpuDType(t.dtype), role: "temp" }));
    for (const c of this.f.consumers[n.id]!) this.buf.set(c, elems[(this.g.nodes[c] as Node<"tuple_get">).attrs.index]!);
    const argTypes = n.inputs.map((i) => this.g.nodes[i]!);
    const carry = argTypes.slice(0, a.nCarry).map((t, j) => this.P.add({ name: `${this.prefix}s${n.id}_c${j}`, size: Math.max(1, numel(t.shape)), dtype: gpuDType(t.dtype), role: "temp" }));
    const seqs = argTypes.slice(a.nCarry, a.nCarry + a.nSeq).map((t, q) => this.P.add({ name: `${this.prefix}s${n.id}_x${q}`, size: Math.max(1, numel(t.shape.slice(1))), dtype: gpuDType(t.dtype), role: "temp" }));
    const consts = n.inputs.slice(a.nCarry + a.nSeq).map((i) => this.bufferOf(i));
    const body = new ProgramPlanner(this.P, a.body, `${this.prefix}s${n.id}_`, [...carry, ...seqs, ...consts]);
    body.planAll();
    const outs = [...a.body.outputs.values()].map((id) => body.bufferOf(id));
    const iters = this.P.itersTable(a.length);
    carry.forEach((c, j) => this.copy(this.bufferOf(n.inputs[j]!), 0, c, 0, numel(argTypes[j]!.shape) || 1));
    for (let s = 0; s < a.length; s++) {
      const t = a.reverse ? a.length - 1 - s : s;
      this.copy(iters, t, this.P.ctx, 2, 1);
      carry.forEach((c, j) => {
        const m = numel(argTypes[j]!.shape) || 1;
        this.copy(c, 0, elems[a.nCarry + a.nStepOut + j]!, t * m, m);
      });
      seqs.forEach((x, q) => {
        const m = numel(argTypes[a.nCarry + q]!.shape.slice(1)) || 1;
        this.copy(this.bufferOf(n.inputs[a.nCarry + q]!), t * m, x, 0, m);
      });
      this.commands.push(...body.commands);
      for (let k = 0; k < a.nStepOut; k++) {
        const m = numel(types[a.nCarry + k]!.shape.slice(1)) || 1;
        this.copy(outs[a.nCarry + k]!, 0, elems[a.nCarry + k]!, t * m, m);
      }
      carry.forEach((c, j) => this.copy(outs[j]!, 0, c, 0, numel(argTypes[j]!.shape) || 1));
    }
    this.copy(iters, 0, this.P.ctx, 2, 1);
    carry.forEach((c, j) => this.copy(c, 0, elems[j]!, 0, numel(argTypes[j]!.shape) || 1));
  }
}

export function elemOf(d: GpuDType): string {
  return d;
}

/** u32 index into a buffer of shape `src` broadcast to `dst`, from flat `i`. */
function broadcastIndex(src: readonly number[], dst: readonly number[], i: string): string {
  const ds = strides(dst);
  const ss = strides(src);
  const lead = dst.length - src.length;
  const terms: string[] = [];
  src.forEach((d, k) => {
    if (d === 1) return;
    const axis = lead + k;
    const coord = ds[axis] === 1 ? `(${i} % ${dst[axis]}u)` : `((${i} / ${ds[axis]}u) % ${dst[axis]}u)`;
    terms.push(ss[k] === 1 ? coord : `${coord} * ${ss[k]}u`);
  });
  return terms.length ? terms.join(" + ") : "0u";
}

export type { GpuBinding };
