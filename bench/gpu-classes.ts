// The WebGPU backend's time by kernel class (`npm run bench -- --backend
// webgpu`): each kernel of a model's training step timed alone by
// GpuModel.profileStep (runtime/webgpu/executor.ts), grouped by what it
// computes, with GFLOP/s where the compiler counted the work (products and
// convolutions: GpuKernelDesc.flops). On llvmpipe (no GPU) the figures
// show where a CPU rasteriser spends its time; on a real GPU, where the
// plan's time goes and how far the products are from the device's peak.
import type { KernelTiming } from "../runtime/webgpu/executor.ts";

/** The op a kernel computes, from its label (`out = … — matmul %4 at …`). */
function opOf(label: string): string {
  if (label.startsWith("zeros —")) return "zeros";
  return / — ([a-z_0-9]+) %\d+/.exec(label)?.[1] ?? "?";
}

/** What a kernel is, for the table: products and convolutions apart, the
 * rest by the kind of loop it is. */
export function kernelClass(label: string): string {
  const op = opOf(label);
  if (op === "matmul") return "matrix product";
  if (op === "conv2d") return "convolution";
  if (op.startsWith("max_pool2d")) return "pooling";
  if (op.startsWith("reduce_") || op === "argmax" || op === "argmin") return "reduction";
  if (op.startsWith("random_")) return "random draws";
  if (op === "zeros") return "zero fill";
  if (op === "scatter_add" || op === "gather" || op === "embed") return "gather / scatter";
  return "elementwise";
}

/** The markdown table of one model's step by kernel class. */
export function classTable(model: string, rows: readonly KernelTiming[]): string[] {
  const by = new Map<string, { ms: number; flops: number; counted: boolean; kernels: number }>();
  for (const r of rows) {
    const c = kernelClass(r.label);
    const e = by.get(c) ?? { ms: 0, flops: 0, counted: true, kernels: 0 };
    e.ms += r.msPerDispatch * r.dispatches;
    e.kernels += r.dispatches;
    if (r.flops === undefined) e.counted = false;
    else e.flops += r.flops * r.dispatches;
    by.set(c, e);
  }
  const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
  const lines = [`| ${model}: kernel class | dispatches a step | ms a step | share | GFLOP/s |`, "| --- | --- | --- | --- | --- |"];
  for (const [c, e] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms)) {
    const gflops = e.counted && e.ms > 0 ? (e.flops / (e.ms / 1000) / 1e9).toFixed(1) : "—";
    lines.push(`| ${c} | ${e.kernels} | ${e.ms.toFixed(3)} | ${total > 0 ? ((100 * e.ms) / total).toFixed(1) : "0"} % | ${gflops} |`);
  }
  lines.push(`| all kernels, each alone | ${rows.reduce((a, r) => a + r.dispatches, 0)} | ${total.toFixed(3)} | 100 % | |`);
  return lines;
}
