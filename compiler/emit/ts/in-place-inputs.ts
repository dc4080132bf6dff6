// Which data inputs of a lowered function the CPU target reads where the
// batch lies (runtime/cpu/arena.ts: inputAddress) instead of copying them
// into their own buffer first: those only matrix products read. The
// product kernels take byte addresses as arguments, so the address can be
// the batch's, decided per call; the fused loops have theirs built into
// the wasm (compiler/emit/wasm/loops.ts) and TypeScript loops name typed
// arrays, so an input any of those read is copied in as before. A scan's
// body is left out too: its products run once per step, and the gain is
// the copy's, once per call.

import type { Block, BufferId, Expr, Kernel, LoweredFunction, Program } from "../../lower/program.ts";

/** The inputs of `fn` every reader of which is a product the `gemm` kernels
 * compute in one call (f32, not both operands transposed), outside scans. */
export function inPlaceInputs(p: Program, fn: LoweredFunction): ReadonlySet<BufferId> {
  const candidates = new Set(fn.inputs.filter((b) => p.buffers[b]!.dtype === "f32"));
  const productReads = new Set<BufferId>();
  const otherReads = new Set<BufferId>();
  const visit = (b: Block, inScan: boolean) => {
    for (const k of b.kernels) {
      for (const r of readers(k)) (isProduct(k) && !inScan ? productReads : otherReads).add(r);
      if (k.kind === "update") for (const { kernel } of k.products) for (const r of kernel.ins) (isProduct(kernel) && !inScan ? productReads : otherReads).add(r);
      if (k.kind === "scan") visit(k.scan.body, true);
    }
  };
  visit(fn.block, false);
  return new Set([...candidates].filter((b) => productReads.has(b) && !otherReads.has(b)));
}

function isProduct(k: Kernel): boolean {
  if (k.kind !== "op" || k.node.op !== "matmul" || k.node.dtype !== "f32") return false;
  const { transA, transB } = k.node.attrs as { transA: boolean; transB: boolean };
  return !(transA && transB);
}

/** Buffers kernel `k` itself reads (an update's products and a scan's body
 * are visited on their own). */
function readers(k: Kernel): BufferId[] {
  switch (k.kind) {
    case "loop":
    case "sum":
      return reads(k.expr);
    case "op":
      return [...k.ins];
    case "update":
      return reads(k.loop.expr);
    case "copy":
      return [k.src];
    case "scan":
      return [...k.scan.init, ...k.scan.seqSources];
  }
}

function reads(e: Expr, acc: BufferId[] = []): BufferId[] {
  if (e.kind === "read") acc.push(e.buffer);
  if (e.kind === "op") for (const a of e.args) reads(a, acc);
  return acc;
}
