// Validation of a GpuPlan before anything is created on the device: limits
// against the device's, buffer sizes, bindings per kernel, aliasing of
// writable bindings, parameter/state buffers against the model description,
// and the outputs each program must have. Errors name the kernel and what to
// change; nothing here touches the GPU.
import type { ModelDescription } from "../compiled-model.ts";
import type { GpuBufferDesc, GpuPlan, GpuProgram } from "./plan.ts";

/** A plan the device cannot run, or that is inconsistent with the model. */
export class GpuPlanError extends Error {
  override readonly name = "GpuPlanError";
}

export const byteSize = (b: GpuBufferDesc): number => Math.max(4, b.size * 4);

const LIMIT_KEYS = [
  "maxStorageBuffersPerShaderStage",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupsPerDimension",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupStorageSize",
] as const;

export function checkPlan(desc: ModelDescription, plan: GpuPlan, device: GPUDevice): void {
  const lim = device.limits;
  for (const key of LIMIT_KEYS) {
    const need = plan.limits[key];
    const have = lim[key];
    if (need > have) {
      throw new GpuPlanError(
        `the plan needs ${key} = ${need}, this device allows ${have}` +
          " (request the adapter's limits when creating the device, or use a GPU that supports more)",
      );
    }
  }
  const nb = plan.buffers.length;
  const bufName = (i: number): string => `buffer ${i} (${plan.buffers[i].name})`;
  const maxBinding = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize);
  plan.buffers.forEach((b, i) => {
    if (!Number.isSafeInteger(b.size) || b.size < 0) throw new GpuPlanError(`${bufName(i)}: size ${b.size} is not a valid element count`);
    if (byteSize(b) > maxBinding) {
      throw new GpuPlanError(`${bufName(i)}: ${byteSize(b)} bytes exceed this device's largest storage buffer (${maxBinding} bytes)`);
    }
  });
  const ctx = plan.buffers.filter((b) => b.role === "ctx");
  if (ctx.length > 1) throw new GpuPlanError(`the plan has ${ctx.length} ctx buffers; expected at most one`);
  for (const [role, list] of [["param", desc.params], ["state", desc.state]] as const) {
    for (const p of list) {
      const want = p.shape.reduce((a, b) => a * b, 1);
      const found = plan.buffers.filter((b) => b.role === role && b.ref === p.name);
      // A state tensor only samplers read (they run on the CPU) has none.
      if (found.length === 0 && role === "state") continue;
      if (found.length !== 1) throw new GpuPlanError(`${role} "${p.name}": the plan has ${found.length} buffers for it, expected one`);
      if (found[0].dtype !== "f32") throw new GpuPlanError(`${role} "${p.name}": plan buffer ${found[0].name} is ${found[0].dtype}, parameters and state are f32`);
      if (found[0].size !== want) throw new GpuPlanError(`${role} "${p.name}": plan buffer holds ${found[0].size} values, shape [${p.shape.join(", ")}] needs ${want}`);
    }
  }
  plan.kernels.forEach((k, ki) => {
    const where = `kernel ${ki} ${k.name} (${k.label})`;
    let storage = 0;
    const writes = new Set<number>();
    const uses = new Map<number, string>();
    k.bindings.forEach((bd, j) => {
      if (!Number.isInteger(bd.buffer) || bd.buffer < 0 || bd.buffer >= nb) throw new GpuPlanError(`${where}: binding ${j} names buffer ${bd.buffer}, the plan has ${nb}`);
      if (bd.access !== "uniform") storage++;
      if (bd.access === "uniform" && byteSize(plan.buffers[bd.buffer]) > lim.maxUniformBufferBindingSize) {
        throw new GpuPlanError(`${where}: uniform binding ${j} (${bufName(bd.buffer)}) exceeds maxUniformBufferBindingSize ${lim.maxUniformBufferBindingSize}`);
      }
      // A buffer written by a dispatch may not be bound twice in it (WebGPU
      // usage scopes: writable storage is exclusive).
      const prev = uses.get(bd.buffer);
      if (prev !== undefined && (bd.access === "read_write" || writes.has(bd.buffer))) {
        throw new GpuPlanError(`${where}: ${bufName(bd.buffer)} is bound twice (${prev} and ${bd.access}) with a read_write binding; WebGPU forbids aliasing a writable buffer within a dispatch`);
      }
      uses.set(bd.buffer, bd.access);
      if (bd.access === "read_write") writes.add(bd.buffer);
    });
    if (storage > lim.maxStorageBuffersPerShaderStage) {
      throw new GpuPlanError(`${where}: ${storage} storage bindings, this device allows ${lim.maxStorageBuffersPerShaderStage} per shader stage`);
    }
    k.workgroups.forEach((n, d) => {
      if (!Number.isInteger(n) || n < 0 || n > lim.maxComputeWorkgroupsPerDimension) {
        throw new GpuPlanError(`${where}: ${n} workgroups in dimension ${"xyz"[d]}, this device allows ${lim.maxComputeWorkgroupsPerDimension}`);
      }
    });
  });
  const inputs = new Set(desc.inputs.map((i) => i.name));
  const checkProgram = (p: GpuProgram, what: string, outputs: readonly string[]): void => {
    p.commands.forEach((c, ci) => {
      if (c.when && (!inputs.has(c.when.input) || !Number.isInteger(c.when.above))) {
        throw new GpuPlanError(`${what}, command ${ci}: runs when input "${c.when.input}" is above ${c.when.above}, but the model has no such input`);
      }
      if (c.kind === "dispatch") {
        if (!Number.isInteger(c.kernel) || c.kernel < 0 || c.kernel >= plan.kernels.length) throw new GpuPlanError(`${what}, command ${ci}: no kernel ${c.kernel}`);
      } else if (c.kind === "copy") {
        for (const [b, off] of [[c.src, c.srcOffset], [c.dst, c.dstOffset]] as const) {
          if (!Number.isInteger(b) || b < 0 || b >= nb) throw new GpuPlanError(`${what}, command ${ci}: copy names buffer ${b}, the plan has ${nb}`);
          if (off < 0 || c.size < 0 || off + c.size > plan.buffers[b].size) {
            throw new GpuPlanError(`${what}, command ${ci}: copy of ${c.size} elements at ${off} overruns ${bufName(b)} of ${plan.buffers[b].size}`);
          }
        }
        if (c.src === c.dst) throw new GpuPlanError(`${what}, command ${ci}: copy within ${bufName(c.src)} (WebGPU forbids same-buffer copies)`);
      } else {
        throw new GpuPlanError(`${what}, command ${ci}: unknown command kind ${(c as { kind: string }).kind}`);
      }
    });
    for (const o of outputs) {
      const b = p.outputs[o];
      if (b === undefined) throw new GpuPlanError(`${what} has no output "${o}"`);
      if (!Number.isInteger(b) || b < 0 || b >= nb) throw new GpuPlanError(`${what}: output "${o}" names buffer ${b}, the plan has ${nb}`);
      if (plan.buffers[b].role === "ctx") throw new GpuPlanError(`${what}: output "${o}" is the ctx buffer`);
      if (plan.buffers[b].size < 1) throw new GpuPlanError(`${what}: output "${o}" is an empty buffer`);
    }
  };
  const stepFns = new Set(desc.phases.map((ph) => ph.step));
  for (const s of stepFns) if (s < 0 || s >= plan.steps.length) throw new GpuPlanError(`a phase uses step function ${s}, the plan has ${plan.steps.length} step programs`);
  plan.steps.forEach((p, s) => checkProgram(p, `step program ${s}`, ["cost"]));
  checkProgram(plan.eval, "the eval program", desc.metrics.map((m) => `metric:${m}`));
}

/** Buffers a program reads or writes: its kernels' bindings and its copies. */
export function programBuffers(plan: GpuPlan, p: GpuProgram): Set<number> {
  const used = new Set<number>();
  for (const c of p.commands) {
    if (c.kind === "dispatch") for (const bd of plan.kernels[c.kernel].bindings) used.add(bd.buffer);
    else {
      used.add(c.src);
      used.add(c.dst);
    }
  }
  return used;
}
