// The WebGPU renderer: the lowered program (compiler/lower/program.ts) → a
// GpuPlan (runtime/webgpu/plan.ts): GPU buffers, one compute kernel per
// lowered kernel and, per training step and for evaluation, the command list
// the executor replays. It overrides only what differs from the CPU:
// - a loop is one invocation per element, its operands read at indices
//   rebuilt from the flat index and the read strides;
// - a sum is the reduction template (tree-reduced when long);
// - a fused update runs its products as ordinary product kernels first, then
//   its whole loop (no accumulating product on the GPU);
// - a scan is unrolled into commands: the iteration index copied into the
//   uniform block, slices and outputs copied with copyBufferToBuffer;
// - temporaries whose lifetimes do not overlap share a buffer (./reuse.ts).
// Samplers are CPU-only (they run between epochs), so they are not rendered.

import { IRError, numel, type Node, type SpecLoc, strides } from "../../ir/types.ts";
import type { WgslEntry, WgslKernelCtx, WgslScalarCtx } from "../../ops/op.ts";
import { WGSL_LOOP_BUDGET, wgslLoopTrips } from "../../ops/wgsl-loops.ts";
import { OPS } from "../../ops/registry.ts";
import { type Block, type BufferId, type Expr, isContiguous, type Kernel, type Program } from "../../lower/program.ts";
import type { GpuBufferDesc, GpuCommand, GpuDType, GpuKernelDesc, GpuPlan, GpuProgram } from "../../../runtime/webgpu/plan.ts";
import { kernelFormula } from "../../lower/print.ts";
import { commentText } from "../comments.ts";
import { shareTemps } from "./reuse.ts";
import { type Binding, elementwiseKernel, kernelModule, reductionKernel, tiledModule } from "./templates.ts";
import { lit } from "../../ops/wgsl.ts";

/** WebGPU's default limits: a plan that fits them runs on every device. */
export const DEFAULT_LIMITS = {
  maxStorageBuffersPerShaderStage: 8,
  maxStorageBufferBindingSize: 134217728,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
} as const;

function gpuDType(dtype: string): GpuDType {
  return dtype === "i32" ? "i32" : dtype === "bool" ? "u32" : "f32";
}

function where(loc: SpecLoc | undefined): string {
  return loc ? ` at ${commentText(loc.file)}:${loc.line}:${loc.col}${loc.what ? ` (${commentText(loc.what)})` : ""}` : "";
}

/** Renders the steps and the evaluation of a lowered program. */
export function renderWebGpu(p: Program): GpuPlan {
  const r = new GpuRenderer(p);
  const longest = Math.max(1, ...p.functions.filter((f) => f.kind !== "sampler").flatMap((f) => scanLengths(f.block)));
  r.itersTable(longest);
  const steps = p.functions.filter((f) => f.kind === "step").map((f) => r.program(f.name, f.block));
  const ev = r.program("evaluate", p.functions.find((f) => f.kind === "eval")!.block);
  return shareTemps({ buffers: r.buffers, kernels: r.kernels, steps, eval: ev, limits: { ...DEFAULT_LIMITS } });
}

function scanLengths(b: Block): number[] {
  return b.kernels.flatMap((k) => (k.kind === "scan" ? [k.scan.length, ...scanLengths(k.scan.body)] : []));
}

class GpuRenderer {
  readonly buffers: GpuBufferDesc[] = [];
  readonly kernels: GpuKernelDesc[] = [];
  private readonly gpu = new Map<BufferId, number>();
  readonly ctx: number;
  private iters = -1;
  private readonly kernelNames = new Set<string>();
  private commands: GpuCommand[] = [];
  private fn = "";

  constructor(private readonly p: Program) {
    this.ctx = this.add({ name: "ctx", size: 4, dtype: "u32", role: "ctx" });
  }

  private add(b: GpuBufferDesc, loc?: SpecLoc): number {
    if (b.size * 4 > DEFAULT_LIMITS.maxStorageBufferBindingSize) {
      throw new IRError(`buffer ${b.name} needs ${b.size * 4} bytes, more than WebGPU's default binding limit of ${DEFAULT_LIMITS.maxStorageBufferBindingSize}`, loc, "E034");
    }
    this.buffers.push(b);
    return this.buffers.length - 1;
  }

  /** The GPU buffer of a lowered buffer (created on first use). */
  buf(b: BufferId): number {
    const have = this.gpu.get(b);
    if (have !== undefined) return have;
    const info = this.p.buffers[b]!;
    const role = info.role === "temp" ? "temp" : info.role;
    const g = this.add({ name: info.name, size: info.size, dtype: gpuDType(info.dtype), role, ...(info.ref !== undefined ? { ref: info.ref } : {}), ...(info.fill !== undefined ? { fill: info.fill } : {}) }, info.loc);
    this.gpu.set(b, g);
    return g;
  }

  /** The table 0..n-1 that scans copy their iteration index from. */
  itersTable(n: number): number {
    if (this.iters < 0) this.iters = this.add({ name: "iters", size: n, dtype: "u32", role: "iters" });
    return this.iters;
  }

  program(fn: string, b: Block): GpuProgram {
    this.commands = [];
    this.fn = fn;
    this.block(b);
    const outputs: Record<string, number> = {};
    for (const [k, id] of b.outputs) outputs[k] = this.buf(id);
    return { commands: this.commands, outputs };
  }

  private block(b: Block): void {
    for (const k of b.kernels) this.kernel(k);
  }

  private kernel(k: Kernel): void {
    switch (k.kind) {
      case "loop":
        return this.dispatch(this.loop(k), k.node.loc);
      case "sum":
        return this.dispatch(this.sum(k), k.node.loc);
      case "op":
        return this.dispatch(this.op(k), k.node.loc);
      case "update":
        for (const t of k.products) this.kernel(t.kernel);
        return this.kernel(k.loop);
      case "copy":
        return this.copy(this.buf(k.src), 0, this.buf(k.out), 0, this.p.buffers[k.out]!.size);
      case "scan":
        return this.scan(k);
    }
  }

  private name(k: Kernel): string {
    let n = `${this.fn}_${this.p.buffers[k.out]!.local}`;
    for (let i = 2; this.kernelNames.has(n); i++) n = `${this.fn}_${this.p.buffers[k.out]!.local}${i}`;
    this.kernelNames.add(n);
    return n;
  }

  /** What the kernel computes in the spec's names, then its op and spec
   * location (the header comment of its WGSL, and errors). */
  private label(k: Kernel): string {
    return `${kernelFormula(k, this.p)} — ${k.node.op} %${k.node.id}${where(k.node.loc)}`;
  }

  private dispatch(d: GpuKernelDesc, loc?: SpecLoc): void {
    const used = d.bindings.filter((b) => b.access !== "uniform").length;
    if (used > DEFAULT_LIMITS.maxStorageBuffersPerShaderStage) {
      throw new IRError(`kernel ${d.label} binds ${used} storage buffers; WebGPU's default limit is ${DEFAULT_LIMITS.maxStorageBuffersPerShaderStage}`, loc, "E034");
    }
    if (d.workgroups.some((w) => w > DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension)) {
      throw new IRError(`kernel ${d.label} needs ${d.workgroups.join("×")} workgroups, more than ${DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension} per dimension`, loc, "E034");
    }
    this.kernels.push(d);
    this.commands.push({ kind: "dispatch", kernel: this.kernels.length - 1 });
  }

  /** Bindings of one kernel; the output is binding 0, and a buffer both read
   * and written (an in-place update) is that one read_write binding. */
  private bindings(out: BufferId): { list: Binding[]; read(b: BufferId): string; ctx(): string } {
    const o = this.buf(out);
    const list: Binding[] = [{ buffer: o, access: "read_write", name: "out", elem: this.buffers[o]!.dtype }];
    return {
      list,
      read: (b: BufferId) => {
        const g = this.buf(b);
        const have = list.find((x) => x.buffer === g && x.access !== "uniform");
        if (have) return have.name;
        const name = `in${list.length}`;
        list.push({ buffer: g, access: "read", name, elem: this.buffers[g]!.dtype });
        return name;
      },
      ctx: () => {
        if (!list.some((x) => x.access === "uniform")) list.push({ buffer: this.ctx, access: "uniform", name: "ctx", elem: "Ctx" });
        return "ctx";
      },
    };
  }

  private scalarCtx(bind: ReturnType<GpuRenderer["bindings"]>, index: string): WgslScalarCtx {
    // The uniform block is bound only by kernels that read it (random ops).
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

  /** WGSL value of `e` at flat index `i` of an iteration space `shape`. */
  private expr(e: Expr, i: string, shape: readonly number[], bind: ReturnType<GpuRenderer["bindings"]>): string {
    if (e.kind === "const") return lit(e.value, e.dtype, i);
    if (e.kind === "read") return `${bind.read(e.buffer)}[${isContiguous(e.strides, shape) ? i : stridedIndex(e.strides, shape, i)}]`;
    const em = OPS[e.node.op].wgsl;
    if (em.kind !== "elementwise") throw new Error(`fused ${e.node.op} has no elementwise WGSL`);
    const args = e.args.map((a) => this.expr(a, i, shape, bind));
    return (em.expr as (a: readonly string[], n: Node, c: WgslScalarCtx) => string)(args, e.node, this.scalarCtx(bind, i));
  }

  private loop(k: Kernel & { kind: "loop" }): GpuKernelDesc {
    const bind = this.bindings(k.out);
    const value = this.expr(k.expr, "i", k.shape, bind);
    return elementwiseKernel(this.name(k), this.label(k), bind.list, Math.max(1, numel(k.shape)), `out[i] = ${value};`);
  }

  /** out[o] = Σ_r value at j = o·inner + r of the iteration space. */
  private sum(k: Kernel & { kind: "sum" }): GpuKernelDesc {
    const bind = this.bindings(k.out);
    const value = this.expr(k.expr, "j", k.shape, bind);
    const size = Math.max(1, numel(k.shape.slice(0, k.kept)));
    const inner = numel(k.shape.slice(k.kept));
    return reductionKernel(this.name(k), this.label(k), bind.list, size, inner, value, gpuDType(k.node.dtype));
  }

  private op(k: Kernel & { kind: "op" }): GpuKernelDesc {
    const trips = wgslLoopTrips(k.node, k.inTypes);
    if (trips > WGSL_LOOP_BUDGET) {
      throw new IRError(`${k.node.op} loops ${trips} times per GPU invocation, more than the ${WGSL_LOOP_BUDGET} that WebGPU on OpenGL runs reliably${where(k.node.loc)}`, k.node.loc, "E033");
    }
    const bind = this.bindings(k.out);
    const em = OPS[k.node.op].wgsl;
    let fresh = 0;
    const ctx: WgslKernelCtx<never> = {
      node: k.node as never,
      out: "out",
      ins: k.ins.map((b) => bind.read(b)),
      inTypes: k.inTypes,
      fresh: (s) => `${s}${fresh++}`,
      elem: (d) => gpuDType(d),
    };
    const name = this.name(k);
    const label = this.label(k);
    const flops = productFlops(k.node, k.inTypes);
    const counted = (d: GpuKernelDesc): GpuKernelDesc => (flops === undefined ? d : { ...d, flops });
    if (em.kind === "tiled") return counted(tiledModule(name, label, bind.list, (em.entry as (c: WgslKernelCtx<never>) => WgslEntry)(ctx)));
    if (em.kind !== "kernel") throw new Error(`no WGSL kernel for ${k.node.op}`);
    const threads = em.threads ? (em.threads as (n: Node, t: WgslKernelCtx<never>["inTypes"]) => number)(k.node, k.inTypes) : Math.max(1, numel(k.node.shape));
    return counted(kernelModule(name, label, bind.list, threads, (em.body as (c: WgslKernelCtx<never>) => string)(ctx)));
  }

  /** The data input a counted scan's number of steps comes from: the host
   * reads it from the batch to skip the steps past it (WebGPU command lists
   * do not branch). */
  private countInput(k: Kernel, count: BufferId): string {
    const info = this.p.buffers[count]!;
    if (info.role !== "input" || info.ref === undefined) {
      throw new IRError(`a scan's number of steps must be a data input on WebGPU (the host skips the steps past it); '${info.name}' is computed${where(k.node.loc)}`, k.node.loc, "E035");
    }
    return info.ref;
  }

  private copy(src: number, srcOffset: number, dst: number, dstOffset: number, size: number): void {
    if (src === dst && srcOffset === dstOffset) return;
    this.commands.push({ kind: "copy", src, srcOffset, dst, dstOffset, size });
  }

  /** A scan unrolled into commands: per step, the iteration index goes into
   * ctx.iter, sequence slices are copied in, the body's kernels run (planned
   * once, dispatched every step), outputs are copied into the stacked tuple
   * elements and the carries updated. */
  private scan(k: Kernel & { kind: "scan" }): void {
    const s = k.scan;
    const outer = this.commands;
    this.commands = [];
    this.block(s.body);
    const body = this.commands;
    this.commands = outer;
    const g = (b: BufferId) => this.buf(b);
    const size = (b: BufferId) => this.p.buffers[b]!.size;
    const nCarry = s.carry.length;
    const input = s.count === undefined ? undefined : this.countInput(k, s.count);
    if (input !== undefined) {
      // Slots of the steps this batch does not run stay 0.
      for (const e of s.elems.slice(nCarry)) {
        if (e === null) continue;
        const bind = this.bindings(e);
        const info = this.p.buffers[e]!;
        this.dispatch(elementwiseKernel(this.name({ ...k, out: e }), `zeros — ${this.label(k)}`, bind.list, info.size, `out[i] = ${lit(0, info.dtype, "i")};`), k.node.loc);
      }
    }
    s.carry.forEach((c, j) => this.copy(g(s.init[j]!), 0, g(c), 0, size(c)));
    for (let n = 0; n < s.length; n++) {
      const t = s.reverse ? s.length - 1 - n : n;
      // Step t runs when the batch's count is above t; a reversed scan then
      // starts at count − 1, as on the CPU.
      const from = this.commands.length;
      this.copy(this.iters, t, this.ctx, 2, 1);
      s.carry.forEach((c, j) => {
        const h = s.elems[nCarry + s.nStepOut + j];
        if (h != null) this.copy(g(c), 0, g(h), t * size(c), size(c));
      });
      s.seqs.forEach((x, q) => this.copy(g(s.seqSources[q]!), t * size(x), g(x), 0, size(x)));
      this.commands.push(...body);
      for (let m = 0; m < s.nStepOut; m++) {
        const o = s.bodyOuts[nCarry + m]!;
        const e = s.elems[nCarry + m];
        if (e != null) this.copy(g(o), 0, g(e), t * size(o), size(o));
      }
      s.carry.forEach((c, j) => this.copy(g(s.bodyOuts[j]!), 0, g(c), 0, size(c)));
      if (input !== undefined) {
        const when = { input, above: t };
        for (let i = from; i < this.commands.length; i++) this.commands[i] = { ...this.commands[i]!, when };
      }
    }
    this.copy(this.iters, 0, this.ctx, 2, 1);
    s.carry.forEach((c, j) => {
      const f = s.elems[j];
      if (f != null) this.copy(g(c), 0, g(f), 0, size(c));
    });
  }
}

/** u32 index of an operand read with `st` at flat index `i` of `shape`. */
function stridedIndex(st: readonly number[], shape: readonly number[], i: string): string {
  const ds = strides(shape);
  const terms: string[] = [];
  shape.forEach((d, k) => {
    if (st[k] === 0 || d === 1) return;
    const coord = ds[k] === 1 ? `(${i} % ${d}u)` : `((${i} / ${ds[k]}u) % ${d}u)`;
    terms.push(st[k] === 1 ? coord : `${coord} * ${st[k]}u`);
  });
  return terms.length ? terms.join(" + ") : "0u";
}

/** 2 × the multiply-adds of a product or a convolution (each output sums
 * k, or C·kh·kw, products); undefined for other ops. */
function productFlops(node: Node, inTypes: readonly { readonly shape: readonly number[] }[]): number | undefined {
  if (node.op === "matmul") {
    const a = inTypes[0]!.shape;
    const k = (node.attrs as { transA: boolean }).transA ? a[0]! : a[1]!;
    return 2 * numel(node.shape) * k;
  }
  if (node.op === "conv2d") {
    const [, C, kh, kw] = inTypes[1]!.shape as [number, number, number, number];
    return 2 * numel(node.shape) * C * kh * kw;
  }
  if (node.op === "conv2d_filter_grad") {
    const [N, , Ho, Wo] = inTypes[1]!.shape as [number, number, number, number];
    return 2 * numel(node.shape) * N * Ho * Wo;
  }
  return undefined;
}
