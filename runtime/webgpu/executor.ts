// Runs a GpuPlan (runtime/webgpu/plan.ts) on a WebGPU device as a
// CompiledModel the trainer can drive. Browser-safe: WebGPU types only, no
// Node imports (runtime/node/webgpu.ts finds a device under Node).
//
// Everything is created once, in createGpuModel: one GPUBuffer per plan
// buffer, one pipeline and one bind group per kernel, staging buffers for
// readbacks. A training step then costs two queue writes (the batch and the
// ctx uniform), one command encoder with the step's dispatches (consecutive
// dispatches share a compute pass; a `copy` ends the pass, since copies live
// outside passes), one 4-byte copy of the cost into a mappable staging
// buffer, one submit and one mapAsync: the cost is the only per-step
// readback. Parameters and state stay on the device; the host arrays
// `params` / `state` that CompiledModel exposes are only current after
// `download()` (the trainer calls it before checkpoints and best-model
// snapshots) and reach the device only through `upload()` (after init,
// resume and best-model restores).
import { evalOutputNames } from "../compiled-model.ts";
import type { Batch, CompiledModel, ModelDescription } from "../compiled-model.ts";
import type { GpuBufferDesc, GpuCommand, GpuPlan, GpuProgram } from "./plan.ts";
import { byteSize, checkPlan, GpuPlanError, programBuffers } from "./validate.ts";

export { GpuPlanError };

// WebGPU's flag values (fixed by the spec), spelled out so this module does
// not depend on the GPUBufferUsage / GPUMapMode globals being installed.
const USAGE_MAP_READ = 0x0001;
const USAGE_COPY_SRC = 0x0004;
const USAGE_COPY_DST = 0x0008;
const USAGE_UNIFORM = 0x0040;
const USAGE_STORAGE = 0x0080;
const STAGE_COMPUTE = 0x4;
const MAP_READ = 0x0001;


/** A CompiledModel whose steps run on a GPU: trainStep and evaluate are
 * asynchronous (they wait for the device's answer). */
export interface GpuModel extends CompiledModel {
  readonly device: GPUDevice;
  trainStep(stepFn: number, batch: Batch, step: number): Promise<number>;
  evaluate(batch: Batch, out: Record<string, Float32Array>): Promise<void>;
  /** Host `params` / `state` → device (after init, resume, restores). */
  upload(): void;
  /** Device → host `params` / `state` (before checkpoints, at the end). */
  download(): Promise<void>;
  /** GPU buffers aren't host-visible: a probe would need a readback of every
   * intermediate of the step (and temps may be reused within a step), so
   * this returns [] and divergence messages name no op on this backend. */
  probe(stepFn: number): ReadonlyArray<readonly [string, ArrayLike<number>]>;
  /** The current contents of plan buffer `index` (debugging, tests and
   * profiling: allocates a staging buffer per call; not for the hot path). */
  readBuffer(index: number): Promise<Float32Array | Int32Array | Uint32Array>;
  /** Times each kernel of step program `stepFn` alone, for the bench's
   * per-kernel-class figures (bench/measure.ts): `reps` dispatches of it in
   * one pass and one submit, waited for, less an empty submit's time (one
   * dispatch for a kernel that takes over 50 ms).
   * Kernels in command order with their dispatches a step (a scan's steps
   * all counted) and milliseconds a dispatch. Runs kernels out of order:
   * the model's buffers hold garbage afterwards. */
  profileStep(stepFn: number, reps: number): Promise<KernelTiming[]>;
  /** Releases the model's GPU buffers (not the device). */
  destroy(): void;
}

/** One kernel's time in `GpuModel.profileStep`. */
export interface KernelTiming {
  readonly name: string;
  readonly label: string;
  /** 2 × multiply-adds a dispatch, products and convolutions only. */
  readonly flops?: number;
  readonly dispatches: number;
  readonly msPerDispatch: number;
}



/** Element views of a mapped range by dtype. */
function view(dtype: GpuBufferDesc["dtype"], buf: ArrayBuffer, offset: number, n: number): Float32Array | Int32Array | Uint32Array {
  return dtype === "f32" ? new Float32Array(buf, offset, n) : dtype === "i32" ? new Int32Array(buf, offset, n) : new Uint32Array(buf, offset, n);
}

interface Readback {
  readonly name: string;
  readonly buffer: number;
  /** Byte offset in the staging buffer. */
  readonly offset: number;
  readonly count: number;
}

interface InputWrite {
  readonly ref: string;
  readonly buffer: number;
  readonly dtype: GpuBufferDesc["dtype"];
  /** Reused conversion buffer for an f32 batch array feeding an i32/u32 buffer. */
  scratch: Int32Array | Uint32Array | null;
}

/** Validates `plan` against the model and the device and creates every device
 * object once. Throws GpuPlanError naming the kernel, buffer or limit at fault. */
export async function createGpuModel(desc: ModelDescription, plan: GpuPlan, device: GPUDevice): Promise<GpuModel> {
  if (plan.unsupported !== undefined) throw new GpuPlanError(`this model has no WebGPU program: ${plan.unsupported} (the CPU backend runs it)`);
  checkPlan(desc, plan, device);

  const seed = desc.seed;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new GpuPlanError(`model seed ${seed}: the WebGPU backend needs a u32 seed (0 .. 4294967295)`);
  }

  // Usage of each buffer from how the plan uses it.
  const usage = plan.buffers.map((b) => (b.role === "ctx" ? USAGE_UNIFORM | USAGE_COPY_DST : USAGE_STORAGE | USAGE_COPY_SRC | USAGE_COPY_DST));
  for (const k of plan.kernels) {
    for (const bd of k.bindings) usage[bd.buffer] |= bd.access === "uniform" ? USAGE_UNIFORM : USAGE_STORAGE;
  }
  for (const p of [...plan.steps, plan.eval]) {
    for (const c of p.commands) if (c.kind === "copy") usage[c.src] |= USAGE_COPY_SRC;
  }

  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  const buffers = plan.buffers.map((b, i) => {
    const size = b.role === "ctx" || usage[i] & USAGE_UNIFORM ? Math.ceil(byteSize(b) / 16) * 16 : byteSize(b);
    return device.createBuffer({ label: b.name, size, usage: usage[i] });
  });
  const validation = await device.popErrorScope();
  const oom = await device.popErrorScope();
  if (validation || oom) {
    buffers.forEach((b) => b.destroy());
    throw new GpuPlanError(`creating the plan's ${plan.buffers.length} buffers failed: ${(validation ?? oom)!.message}`);
  }
  const destroyAll = (): void => buffers.forEach((b) => b.destroy());

  try {
    // Initial contents: const fills and the iteration table; temps start at 0.
    plan.buffers.forEach((b, i) => {
      if (b.role === "const" && b.fill !== undefined && b.fill !== 0) {
        const arr = b.dtype === "f32" ? new Float32Array(b.size) : b.dtype === "i32" ? new Int32Array(b.size) : new Uint32Array(b.size);
        arr.fill(b.fill);
        device.queue.writeBuffer(buffers[i], 0, arr);
      } else if (b.role === "iters") {
        const arr = new Uint32Array(b.size);
        for (let k = 0; k < b.size; k++) arr[k] = k;
        device.queue.writeBuffer(buffers[i], 0, arr);
      }
    });

    // Shaders: compile, and report the compiler's errors per kernel.
    // (Inside an error scope: a WGSL error is also a validation error, which
    // would otherwise be reported a second time as uncaptured.)
    device.pushErrorScope("validation");
    const modules = plan.kernels.map((k) => device.createShaderModule({ label: k.name, code: k.wgsl }));
    const shaderError = await device.popErrorScope();
    for (let i = 0; i < plan.kernels.length; i++) {
      const info = await modules[i].getCompilationInfo();
      const errors = info.messages.filter((m) => m.type === "error");
      if (errors.length > 0) {
        const k = plan.kernels[i];
        const lines = errors.map((m) => `  ${m.lineNum}:${m.linePos}: ${m.message}`).join("\n");
        throw new GpuPlanError(`WGSL of kernel ${k.name} (${k.label}) does not compile:\n${lines}`);
      }
    }
    if (shaderError) throw new GpuPlanError(`creating the plan's shader modules failed: ${shaderError.message}`);

    // Pipelines with explicit layouts (an "auto" layout would drop bindings
    // the shader does not use and then reject the plan's bind group).
    const pipelines: GPUComputePipeline[] = [];
    const bindGroups: GPUBindGroup[] = [];
    for (let i = 0; i < plan.kernels.length; i++) {
      const k = plan.kernels[i];
      device.pushErrorScope("validation");
      const layout = device.createBindGroupLayout({
        label: k.name,
        entries: k.bindings.map((bd, j) => ({
          binding: j,
          visibility: STAGE_COMPUTE,
          buffer: { type: bd.access === "uniform" ? "uniform" : bd.access === "read" ? "read-only-storage" : "storage" },
        })),
      });
      const pipeline = device.createComputePipeline({
        label: k.name,
        layout: device.createPipelineLayout({ label: k.name, bindGroupLayouts: [layout] }),
        compute: { module: modules[i], entryPoint: "main" },
      });
      const group = device.createBindGroup({
        label: k.name,
        layout,
        entries: k.bindings.map((bd, j) => ({ binding: j, resource: { buffer: buffers[bd.buffer] } })),
      });
      const err = await device.popErrorScope();
      if (err) throw new GpuPlanError(`kernel ${k.name} (${k.label}): ${err.message}`);
      pipelines.push(pipeline);
      bindGroups.push(group);
    }

    return new GpuModelImpl(desc, plan, device, buffers, pipelines, bindGroups, destroyAll);
  } catch (e) {
    destroyAll();
    throw e;
  }
}

/** Consistency of the plan with itself, the model and the device's limits. */
interface CompiledProgram {
  readonly commands: readonly GpuCommand[];
  readonly inputs: readonly InputWrite[];
  readonly readbacks: readonly Readback[];
  readonly staging: GPUBuffer;
}

class GpuModelImpl implements GpuModel {
  readonly params: Readonly<Record<string, Float32Array>>;
  readonly state: Readonly<Record<string, Float32Array>>;
  private readonly steps: CompiledProgram[];
  private readonly evalProgram: CompiledProgram;
  private readonly ctxBuffer: GPUBuffer | null;
  private readonly ctx = new Uint32Array(4);
  /** param/state buffers, and one staging buffer to download them all. */
  private readonly carried: { readonly host: Float32Array<ArrayBuffer>; readonly buffer: number; readonly offset: number }[] = [];
  private readonly carriedStaging: GPUBuffer | null;
  private busy = false;

  constructor(
    readonly desc: ModelDescription,
    private readonly plan: GpuPlan,
    readonly device: GPUDevice,
    private readonly buffers: readonly GPUBuffer[],
    private readonly pipelines: readonly GPUComputePipeline[],
    private readonly bindGroups: readonly GPUBindGroup[],
    private readonly destroyBuffers: () => void,
  ) {
    const ctxIndex = plan.buffers.findIndex((b) => b.role === "ctx");
    this.ctxBuffer = ctxIndex >= 0 ? buffers[ctxIndex] : null;
    this.ctx[0] = desc.seed >>> 0;

    const params: Record<string, Float32Array> = {};
    const state: Record<string, Float32Array> = {};
    let offset = 0;
    for (const [role, list, into] of [["param", desc.params, params], ["state", desc.state, state]] as const) {
      for (const p of list) {
        const buffer = plan.buffers.findIndex((b) => b.role === role && b.ref === p.name);
        // A state tensor no GPU program reads (a sampler's, samplers run on
        // the CPU) lives on the host only, still saved in checkpoints.
        const host = new Float32Array(buffer >= 0 ? plan.buffers[buffer].size : p.shape.reduce((a, d) => a * d, 1));
        into[p.name] = host;
        if (buffer < 0) continue;
        this.carried.push({ host, buffer, offset });
        offset += host.byteLength;
      }
    }
    this.params = params;
    this.state = state;
    this.carriedStaging = offset > 0 ? device.createBuffer({ label: "download", size: offset, usage: USAGE_MAP_READ | USAGE_COPY_DST }) : null;

    this.steps = plan.steps.map((p, s) => this.compile(p, `step${s}`, ["cost"], 1));
    this.evalProgram = this.compile(plan.eval, "eval", [...evalOutputNames(desc).map((m) => `metric:${m}`), ...(desc.outputs ?? []).map((o) => `output:${o.name}`)], Infinity);
  }

  private compile(p: GpuProgram, label: string, outputs: readonly string[], maxCount: number): CompiledProgram {
    const used = programBuffers(this.plan, p);
    const inputs: InputWrite[] = [];
    for (const i of used) {
      const b = this.plan.buffers[i];
      if (b.role !== "input") continue;
      if (b.ref === undefined) throw new GpuPlanError(`input buffer ${i} (${b.name}) names no data input`);
      inputs.push({ ref: b.ref, buffer: i, dtype: b.dtype, scratch: null });
    }
    const readbacks: Readback[] = [];
    let offset = 0;
    for (const o of outputs) {
      const buffer = p.outputs[o];
      const count = Math.min(this.plan.buffers[buffer].size, maxCount);
      readbacks.push({ name: o.replace(/^(metric|output):/, ""), buffer, offset, count });
      offset += count * 4;
    }
    const staging = this.device.createBuffer({ label: `${label}:readback`, size: Math.max(4, offset), usage: USAGE_MAP_READ | USAGE_COPY_DST });
    return { commands: p.commands, inputs, readbacks, staging };
  }

  private writeInputs(prog: CompiledProgram, batch: Batch): void {
    for (const inp of prog.inputs) {
      const data = batch[inp.ref];
      if (!data) throw new GpuPlanError(`the batch has no input "${inp.ref}"`);
      const want = this.plan.buffers[inp.buffer].size;
      if (data.length !== want) {
        throw new GpuPlanError(`input "${inp.ref}": the batch holds ${data.length} values, plan buffer ${this.plan.buffers[inp.buffer].name} holds ${want}`);
      }
      let src: ArrayBufferView = data;
      if (inp.dtype !== "f32" && data instanceof Float32Array) {
        // Labels handed over as floats: convert into a reused integer array.
        inp.scratch ??= inp.dtype === "i32" ? new Int32Array(want) : new Uint32Array(want);
        for (let k = 0; k < want; k++) inp.scratch[k] = data[k];
        src = inp.scratch;
      } else if (inp.dtype === "f32" && !(data instanceof Float32Array)) {
        throw new GpuPlanError(`input "${inp.ref}": the batch holds integers, the plan expects f32`);
      }
      this.device.queue.writeBuffer(this.buffers[inp.buffer], 0, src.buffer, src.byteOffset, src.byteLength);
    }
  }

  /** Encodes, submits and maps back the program's outputs; calls `read` with
   * the mapped staging range. One command encoder, one submit. */
  private async run(prog: CompiledProgram, step: number, what: string, read: (mapped: ArrayBuffer) => void, batch: Batch): Promise<void> {
    if (this.busy) throw new Error(`${what}: called while the previous GPU step is still running (await each call)`);
    this.busy = true;
    try {
      const dev = this.device;
      if (this.ctxBuffer) {
        this.ctx[1] = step >>> 0;
        this.ctx[2] = 0;
        this.ctx[3] = 0;
        dev.queue.writeBuffer(this.ctxBuffer, 0, this.ctx);
      }
      dev.pushErrorScope("validation");
      const enc = dev.createCommandEncoder({ label: what });
      let pass: GPUComputePassEncoder | null = null;
      // A counted scan's steps: the batch's count, the longest of a vector.
      const counts = new Map<string, number>();
      const countOf = (input: string): number => {
        let n = counts.get(input);
        if (n === undefined) {
          n = 0;
          for (const v of batch[input] ?? []) n = Math.max(n, Number(v));
          counts.set(input, n);
        }
        return n;
      };
      for (const c of prog.commands) {
        if (c.when && !(countOf(c.when.input) > c.when.above)) continue; // a scan step past this batch's count
        if (c.kind === "dispatch") {
          pass ??= enc.beginComputePass();
          const k = this.plan.kernels[c.kernel];
          pass.setPipeline(this.pipelines[c.kernel]);
          pass.setBindGroup(0, this.bindGroups[c.kernel]);
          pass.dispatchWorkgroups(k.workgroups[0], k.workgroups[1], k.workgroups[2]);
        } else {
          if (pass) {
            pass.end();
            pass = null;
          }
          enc.copyBufferToBuffer(this.buffers[c.src], c.srcOffset * 4, this.buffers[c.dst], c.dstOffset * 4, c.size * 4);
        }
      }
      pass?.end();
      for (const r of prog.readbacks) enc.copyBufferToBuffer(this.buffers[r.buffer], 0, prog.staging, r.offset, r.count * 4);
      dev.queue.submit([enc.finish()]);
      const err = await dev.popErrorScope();
      if (err) throw new GpuPlanError(`${what}: ${err.message}`);
      await prog.staging.mapAsync(MAP_READ);
      try {
        read(prog.staging.getMappedRange());
      } finally {
        prog.staging.unmap();
      }
    } finally {
      this.busy = false;
    }
  }

  async profileStep(stepFn: number, reps: number): Promise<KernelTiming[]> {
    const prog = this.steps[stepFn];
    if (!prog) throw new GpuPlanError(`no step program ${stepFn} (the plan has ${this.steps.length})`);
    const dev = this.device;
    const counts = new Map<number, number>();
    for (const c of prog.commands) if (c.kind === "dispatch") counts.set(c.kernel, (counts.get(c.kernel) ?? 0) + 1);
    const submit = async (kernel: number | undefined, reps: number): Promise<number> => {
      const enc = dev.createCommandEncoder({ label: "profile" });
      const pass = enc.beginComputePass();
      if (kernel !== undefined) {
        const k = this.plan.kernels[kernel];
        pass.setPipeline(this.pipelines[kernel]);
        pass.setBindGroup(0, this.bindGroups[kernel]);
        for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(k.workgroups[0], k.workgroups[1], k.workgroups[2]);
      }
      pass.end();
      const t0 = performance.now();
      dev.queue.submit([enc.finish()]);
      await dev.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    };
    // The fastest of three submits each, an empty pass's time taken off;
    // a kernel slower than 50 ms a dispatch (llvmpipe's convolutions) is
    // timed once, in a pass of one.
    const best = async (kernel: number | undefined, n: number): Promise<number> => Math.min(await submit(kernel, n), await submit(kernel, n), await submit(kernel, n));
    const empty = await best(undefined, 1);
    const out: KernelTiming[] = [];
    for (const [kernel, dispatches] of counts) {
      const k = this.plan.kernels[kernel];
      const once = await submit(kernel, 1);
      const n = once > 50 ? 1 : reps;
      const ms = n === 1 && once > 50 ? once : Math.max(0, (await best(kernel, n)) - empty) / n;
      out.push({ name: k.name, label: k.label, ...(k.flops !== undefined ? { flops: k.flops } : {}), dispatches, msPerDispatch: ms });
    }
    return out;
  }

  async trainStep(stepFn: number, batch: Batch, step: number): Promise<number> {
    const prog = this.steps[stepFn];
    if (!prog) throw new GpuPlanError(`no step program ${stepFn} (the plan has ${this.steps.length})`);
    this.writeInputs(prog, batch);
    let cost = NaN;
    const r = prog.readbacks[0];
    await this.run(
      prog,
      step,
      `step program ${stepFn}`,
      (m) => {
        cost = view(this.plan.buffers[r.buffer].dtype, m, r.offset, 1)[0];
      },
      batch,
    );
    return cost;
  }

  async evaluate(batch: Batch, out: Record<string, Float32Array>): Promise<void> {
    const prog = this.evalProgram;
    this.writeInputs(prog, batch);
    await this.run(prog, 0, "the eval program", (m) => {
      for (const r of prog.readbacks) {
        const dst = out[r.name];
        if (!dst) continue;
        const src = view(this.plan.buffers[r.buffer].dtype, m, r.offset, Math.min(r.count, dst.length));
        if (src instanceof Float32Array) dst.set(src);
        else for (let k = 0; k < src.length; k++) dst[k] = src[k];
      }
    }, batch);
  }

  upload(): void {
    for (const c of this.carried) this.device.queue.writeBuffer(this.buffers[c.buffer], 0, c.host);
  }

  async download(): Promise<void> {
    const staging = this.carriedStaging;
    if (!staging) return;
    if (this.busy) throw new Error("download: called while a GPU step is still running (await each call)");
    this.busy = true;
    try {
      const enc = this.device.createCommandEncoder({ label: "download" });
      for (const c of this.carried) enc.copyBufferToBuffer(this.buffers[c.buffer], 0, staging, c.offset, c.host.byteLength);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(MAP_READ);
      try {
        const m = staging.getMappedRange();
        for (const c of this.carried) c.host.set(new Float32Array(m, c.offset, c.host.length));
      } finally {
        staging.unmap();
      }
    } finally {
      this.busy = false;
    }
  }

  async readBuffer(index: number): Promise<Float32Array | Int32Array | Uint32Array> {
    const b = this.plan.buffers[index];
    if (!b) throw new GpuPlanError(`no buffer ${index} (the plan has ${this.plan.buffers.length})`);
    if (b.role === "ctx") throw new GpuPlanError(`buffer ${index} (${b.name}) is the ctx uniform, which cannot be read back`);
    const staging = this.device.createBuffer({ label: `read:${b.name}`, size: byteSize(b), usage: USAGE_MAP_READ | USAGE_COPY_DST });
    try {
      const enc = this.device.createCommandEncoder({ label: `read:${b.name}` });
      enc.copyBufferToBuffer(this.buffers[index], 0, staging, 0, b.size * 4);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(MAP_READ);
      return view(b.dtype, staging.getMappedRange().slice(0), 0, b.size);
    } finally {
      staging.destroy();
    }
  }

  probe(_stepFn: number): ReadonlyArray<readonly [string, ArrayLike<number>]> {
    return [];
  }

  destroy(): void {
    this.destroyBuffers();
    for (const p of [...this.steps, this.evalProgram]) p.staging.destroy();
    this.carriedStaging?.destroy();
  }
}
