// The contract between generated WebGPU code and the runtime's executor: the
// compiler plans buffers, kernels (WGSL compute entry points with their
// bindings and workgroup counts) and, per training step and for evaluation, a
// command list; the executor (runtime/webgpu/executor.ts) creates the device
// objects once and replays the commands. Plain data: no device types here.

export type GpuDType = "f32" | "i32" | "u32";

export interface GpuBufferDesc {
  /** Diagnostic name, e.g. `f0_t12` or `param:W1`. */
  readonly name: string;
  /** Element count (4 bytes each). */
  readonly size: number;
  readonly dtype: GpuDType;
  /**
   * - temp: an intermediate of some step (device-only);
   * - param/state: the model's parameters and carried state (device-resident,
   *   uploaded at start/resume, downloaded for checkpoints);
   * - input: a data input, written from the batch before each step;
   * - const: filled once with `fill` at creation;
   * - ctx: the uniform block `Ctx { seed, step, iter, pad }` (u32 ×4);
   * - iters: u32 table 0..n-1 that scans copy their iteration index from.
   */
  readonly role: "temp" | "param" | "state" | "input" | "const" | "ctx" | "iters";
  /** Parameter/state/input name for those roles. */
  readonly ref?: string;
  readonly fill?: number;
}

export interface GpuBinding {
  /** Index into GpuPlan.buffers. */
  readonly buffer: number;
  readonly access: "read" | "read_write" | "uniform";
}

export interface GpuKernelDesc {
  /** Entry-point name (also the label of its pipeline). */
  readonly name: string;
  /** What it computes: op, node id, spec location (for errors and profiles). */
  readonly label: string;
  /** A complete WGSL module with one entry point `main`, whose
   * `@group(0) @binding(k)` is `bindings[k]`. */
  readonly wgsl: string;
  readonly bindings: readonly GpuBinding[];
  readonly workgroups: readonly [number, number, number];
  /** Floating-point operations of one dispatch of a product or convolution
   * (2 × its multiply-adds), for the bench's GFLOP/s (`npm run bench --
   * --backend webgpu`); absent for other kernels. */
  readonly flops?: number;
}

/** Runs a command only when the first element of a data input of the batch
 * is above `above`: step t of a scan whose number of steps comes with the
 * batch (a sentence's length) runs when that number is above t. */
export interface GpuGuard {
  readonly input: string;
  readonly above: number;
}

export type GpuCommand =
  | { readonly kind: "dispatch"; readonly kernel: number; readonly when?: GpuGuard }
  /** copyBufferToBuffer; offsets and size in elements. */
  | { readonly kind: "copy"; readonly src: number; readonly srcOffset: number; readonly dst: number; readonly dstOffset: number; readonly size: number; readonly when?: GpuGuard };

export interface GpuProgram {
  readonly commands: readonly GpuCommand[];
  /** Named results: `cost`, `metric:error`, … → buffer index. */
  readonly outputs: Readonly<Record<string, number>>;
}

/** A model's WebGPU program (generated webgpu.ts's `plan`): buffers, WGSL
 * kernels, and the command list of each training step and of the evaluation;
 * `unsupported` says why a model has none. */
export interface GpuPlan {
  /** Set when the model has no WebGPU program (a buffer past WebGPU's
   * limits, a scan count the host cannot read): why, with the spec line.
   * The CPU model is complete; running this plan is refused with this. */
  readonly unsupported?: string;
  readonly buffers: readonly GpuBufferDesc[];
  readonly kernels: readonly GpuKernelDesc[];
  /** One program per training-step function (phase step). */
  readonly steps: readonly GpuProgram[];
  readonly eval: GpuProgram;
  /** The WebGPU limits the plan needs (checked again at device creation). */
  readonly limits: {
    readonly maxStorageBuffersPerShaderStage: number;
    readonly maxStorageBufferBindingSize: number;
    readonly maxComputeWorkgroupsPerDimension: number;
    readonly maxComputeInvocationsPerWorkgroup: number;
    readonly maxComputeWorkgroupStorageSize: number;
  };
}
