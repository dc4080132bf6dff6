// Buffer reuse: temporaries whose lifetimes do not overlap share one GPU
// buffer. Lifetimes are intervals over a program's command list (scan bodies
// appear once per iteration there, so a loop's buffers live across the whole
// loop); a program's outputs live to its end. Programs never run at the same
// time, so every program starts with all temporaries free.

import type { GpuBufferDesc, GpuCommand, GpuKernelDesc, GpuPlan, GpuProgram } from "../../../runtime/webgpu/plan.ts";

function touched(c: GpuCommand, kernels: readonly GpuKernelDesc[]): number[] {
  return c.kind === "dispatch" ? kernels[c.kernel]!.bindings.map((b) => b.buffer) : [c.src, c.dst];
}

export function shareTemps(plan: GpuPlan): GpuPlan {
  const { buffers, kernels } = plan;
  const isTemp = (b: number) => buffers[b]!.role === "temp";
  const phys = buffers.map((_, i) => i); // logical → physical
  const programs = [...plan.steps, plan.eval];
  for (const p of programs) {
    const first = new Map<number, number>();
    const last = new Map<number, number>();
    p.commands.forEach((c, t) => {
      for (const b of touched(c, kernels)) {
        if (!isTemp(b)) continue;
        if (!first.has(b)) first.set(b, t);
        last.set(b, t);
      }
    });
    for (const b of Object.values(p.outputs)) if (isTemp(b)) last.set(b, p.commands.length);
    const free = new Map<string, number[]>(); // "dtype:size" → physical buffers
    const busy: { end: number; buf: number; key: string }[] = [];
    const order = [...first.keys()].sort((a, b) => first.get(a)! - first.get(b)! || a - b);
    for (const b of order) {
      const start = first.get(b)!;
      // Release what ended strictly before this buffer's first use.
      for (let k = busy.length - 1; k >= 0; k--) {
        if (busy[k]!.end < start) {
          const { buf, key } = busy[k]!;
          (free.get(key) ?? free.set(key, []).get(key)!).push(buf);
          busy.splice(k, 1);
        }
      }
      const key = `${buffers[b]!.dtype}:${buffers[b]!.size}`;
      const pool = free.get(key);
      const buf = pool && pool.length ? pool.shift()! : b;
      phys[b] = buf;
      busy.push({ end: last.get(b)!, buf, key });
    }
  }
  // Compact: keep the buffers something maps to, renumbered in order.
  const kept = [...new Set(phys)].sort((a, b) => a - b);
  const index = new Map(kept.map((b, i) => [b, i]));
  const at = (b: number) => index.get(phys[b]!)!;
  const remapProgram = (p: GpuProgram): GpuProgram => ({
    commands: p.commands.map((c) => (c.kind === "copy" ? { ...c, src: at(c.src), dst: at(c.dst) } : c)),
    outputs: Object.fromEntries(Object.entries(p.outputs).map(([k, b]) => [k, at(b)])),
  });
  return {
    ...plan,
    buffers: kept.map((b): GpuBufferDesc => buffers[b]!),
    kernels: kernels.map((k) => ({ ...k, bindings: k.bindings.map((x) => ({ ...x, buffer: at(x.buffer) })) })),
    steps: plan.steps.map(remapProgram),
    eval: remapProgram(plan.eval),
  };
}
