// A WebGPU device for tests (Dawn, the `webgpu` package) and a harness that
// runs one op's WGSL — a fused elementwise expression, a kernel body or a
// tiled entry point — in a small compute module laid out as
// compiler/emit/wgsl/templates.ts lays them out (a stand-in for the module
// emitter, which has its own tests), returning the output.
//
// Dawn runs here on Mesa's llvmpipe through its OpenGL ES backend in
// compatibility mode (EGL_PLATFORM=surfaceless); with no adapter the tests
// fail, naming the Debian packages they need (test/setup/webgpu-deps.ts
// installs them where it may). DLT_WEBGPU_BACKEND=vulkan (or metal, d3d12)
// runs them on a real GPU instead.
//
// The device is acquired on first use and kept for the worker's life, so a
// test that needs it works whether it runs alone or after others.

import { create, globals } from "webgpu";
import { PHILOX_WGSL } from "../../compiler/emit/wgsl/philox.ts";
import type { Tensor } from "../../compiler/ir/tensor.ts";
import { type DType, type Graph, type Node, numel } from "../../compiler/ir/types.ts";
import type { WgslEntry, WgslKernelCtx, WgslScalarCtx } from "../../compiler/ops/op.ts";
import { OPS } from "../../compiler/ops/registry.ts";

const NO_ADAPTER =
  "no WebGPU adapter: Dawn needs Mesa's EGL/GLES stack (llvmpipe) here; install the Debian packages " +
  "libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri libegl-dev and run with EGL_PLATFORM=surfaceless";

// Held for the worker's life: if the GPU object is garbage-collected, Dawn's
// instance goes with it and the process aborts in native code.
let gpu: GPU | undefined;
let acquiring: Promise<GPUDevice> | undefined;

async function acquire(): Promise<GPUDevice> {
  process.env.EGL_PLATFORM ??= "surfaceless";
  for (const [k, v] of Object.entries(globals)) if (!(k in globalThis)) (globalThis as Record<string, unknown>)[k] = v;
  const backend = process.env.DLT_WEBGPU_BACKEND ?? "opengl";
  gpu = create([`backend=${backend}`]);
  const adapter = await gpu.requestAdapter(backend === "opengl" ? { featureLevel: "compatibility" } : {});
  if (!adapter) throw new Error(NO_ADAPTER);
  // Compatibility mode's defaults allow 128 invocations per workgroup; the
  // matmul tiles need 256, which llvmpipe grants when asked.
  const l = adapter.limits;
  return adapter.requestDevice({
    requiredLimits: {
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
}

/** The worker's device, acquired on first call. */
export function gpuDevice(): Promise<GPUDevice> {
  acquiring ??= acquire();
  return acquiring;
}

export type GpuData = Float32Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;
export type GpuElem = "f32" | "i32" | "u32";

/** WGSL element type of a dtype (bool as u32 0/1; f64 runs as f32). */
export function elemOf(d: DType): GpuElem {
  return d === "i32" ? "i32" : d === "bool" ? "u32" : "f32";
}

export function upload(t: Tensor): GpuData {
  const e = elemOf(t.dtype);
  return e === "f32" ? new Float32Array(t.data) : e === "i32" ? new Int32Array(t.data) : new Uint32Array(t.data);
}

function numbered(code: string): string {
  return code
    .split("\n")
    .map((l, k) => `${String(k + 1).padStart(3)} | ${l}`)
    .join("\n");
}

export interface ModuleSpec {
  readonly code: string;
  /** Input arrays, bound 1..n after the output at binding 0. */
  readonly inputs: readonly GpuData[];
  readonly outElem: GpuElem;
  readonly outSize: number;
  readonly workgroups: readonly [number, number, number];
  /** Ctx { seed, step, iter, pad }, bound last, when the module uses it. */
  readonly ctx?: Uint32Array<ArrayBuffer>;
}

/** Compiles (failing on any WGSL error), runs once and reads the output. */
export async function runModule(m: ModuleSpec): Promise<GpuData> {
  const device = await gpuDevice();
  const module = device.createShaderModule({ code: m.code });
  const info = await module.getCompilationInfo();
  const errors = info.messages.filter((x) => x.type === "error");
  if (errors.length) {
    throw new Error(`WGSL does not compile:\n${errors.map((x) => `${x.lineNum}:${x.linePos} ${x.message}`).join("\n")}\n${numbered(m.code)}`);
  }
  const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const buf = (bytes: number, usage: number) => device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 4) * 4), usage });
  const out = buf(m.outSize * 4, storage);
  const ins = m.inputs.map((d) => {
    const b = buf(d.byteLength, storage);
    if (d.byteLength) device.queue.writeBuffer(b, 0, d);
    return b;
  });
  const entries: GPUBindGroupLayoutEntry[] = [
    { binding: 0, visibility: GPUShaderStage.COMPUTE, buffer: { type: "storage" } },
    ...ins.map((_, k) => ({ binding: k + 1, visibility: GPUShaderStage.COMPUTE, buffer: { type: "read-only-storage" as const } })),
  ];
  const bufs = [out, ...ins];
  if (m.ctx) {
    const u = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    device.queue.writeBuffer(u, 0, m.ctx);
    entries.push({ binding: bufs.length, visibility: GPUShaderStage.COMPUTE, buffer: { type: "uniform" } });
    bufs.push(u);
  }
  device.pushErrorScope("validation");
  const layout = device.createBindGroupLayout({ entries });
  const pipeline = device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: "main" },
  });
  const group = device.createBindGroup({ layout, entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const read = device.createBuffer({ size: out.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, group);
  pass.dispatchWorkgroups(...m.workgroups);
  pass.end();
  enc.copyBufferToBuffer(out, 0, read, 0, out.size);
  device.queue.submit([enc.finish()]);
  const err = await device.popErrorScope();
  if (err) throw new Error(`WebGPU validation: ${err.message}\n${numbered(m.code)}`);
  await read.mapAsync(GPUMapMode.READ);
  const bytes = read.getMappedRange().slice(0, m.outSize * 4);
  read.unmap();
  for (const b of [...bufs, read]) b.destroy();
  return m.outElem === "f32" ? new Float32Array(bytes) : m.outElem === "i32" ? new Int32Array(bytes) : new Uint32Array(bytes);
}

// ---- module skeletons (as compiler/emit/wgsl/templates.ts lays them out) ----

const WG = 64;

interface Bound {
  readonly inputs: readonly { readonly name: string; readonly elem: string }[];
  readonly outElem: string;
  readonly ctx: boolean;
}

function header(b: Bound, code: string): string {
  const lines = [`@group(0) @binding(0) var<storage, read_write> out: array<${b.outElem}>;`];
  b.inputs.forEach((x, k) => lines.push(`@group(0) @binding(${k + 1}) var<storage, read> ${x.name}: array<${x.elem}>;`));
  if (b.ctx) {
    lines.unshift("struct Ctx { seed: u32, step: u32, iter: u32, pad: u32 }");
    lines.push(`@group(0) @binding(${b.inputs.length + 1}) var<uniform> ctx: Ctx;`);
  }
  if (/\bphilox_/.test(code)) lines.push(PHILOX_WGSL);
  return lines.join("\n");
}

function perElement(b: Bound, threads: number, body: string): { code: string; workgroups: [number, number, number] } {
  const groups = Math.ceil(threads / WG);
  const x = Math.min(groups, 65535);
  const code = `${header(b, body)}
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * ${x * WG}u;
  if (i >= ${threads}u) { return; }
${body.split("\n").map((l) => `  ${l}`).join("\n")}
}
`;
  return { code, workgroups: [x, Math.ceil(groups / x), 1] };
}

function tiled(b: Bound, e: WgslEntry): string {
  const [wx, wy, wz] = e.workgroupSize;
  return `${header(b, e.body)}
${e.decls}
@compute @workgroup_size(${wx}, ${wy}, ${wz})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(global_invocation_id) gid: vec3u) {
${e.body.split("\n").map((l) => `  ${l}`).join("\n")}
}
`;
}

/** Binds each distinct input leaf once (in1, in2, ...), as the planner does. */
function bindLeaves(g: Graph, ids: readonly number[], leaves: ReadonlyMap<string, Tensor>): { names: Map<number, string>; data: GpuData[]; list: { name: string; elem: string }[] } {
  const names = new Map<number, string>();
  const data: GpuData[] = [];
  const list: { name: string; elem: string }[] = [];
  for (const id of ids) {
    if (names.has(id)) continue;
    const n = g.nodes[id]!;
    if (n.op !== "input") throw new Error(`%${id} (${n.op}) is not a leaf`);
    const name = `in${list.length + 1}`;
    names.set(id, name);
    list.push({ name, elem: elemOf(n.dtype) });
    data.push(upload(leaves.get((n as Node<"input">).attrs.name)!));
  }
  return { names, data, list };
}

const SCALAR: WgslScalarCtx = { index: "i", seed: "ctx.seed", step: "ctx.step", iter: "ctx.iter" };

export interface GpuRun {
  readonly got: GpuData;
  readonly code: string;
}

/** Runs the graph's non-leaf nodes (all elementwise) as one fused expression. */
export async function runWgslFused(g: Graph, out: number, leaves: ReadonlyMap<string, Tensor>, run: { seed: number; step: number; iter: number }): Promise<GpuRun> {
  const leafIds = g.nodes.filter((n) => n.op === "input").map((n) => n.id);
  const bind = bindLeaves(g, leafIds, leaves);
  const expr = (id: number): string => {
    const n = g.nodes[id]!;
    const name = bind.names.get(id);
    if (name) return `${name}[i]`;
    const em = OPS[n.op].wgsl;
    if (em.kind !== "elementwise") throw new Error(`${n.op} is not elementwise`);
    return (em.expr as (a: readonly string[], n: Node, e: WgslScalarCtx) => string)(n.inputs.map(expr), n, SCALAR);
  };
  const node = g.nodes[out]!;
  const body = `out[i] = ${expr(out)};`;
  const ctx = /\bctx\./.test(body);
  const threads = Math.max(1, numel(node.shape));
  const { code, workgroups } = perElement({ inputs: bind.list, outElem: elemOf(node.dtype), ctx }, threads, body);
  const got = await runModule({
    code,
    inputs: bind.data,
    outElem: elemOf(node.dtype),
    outSize: threads,
    workgroups,
    ctx: ctx ? new Uint32Array([run.seed, run.step, run.iter, 0]) : undefined,
  });
  return { got, code };
}

/** Runs the out node's kernel (or tiled entry) on its input leaves. */
export async function runWgslKernel(g: Graph, out: number, leaves: ReadonlyMap<string, Tensor>): Promise<GpuRun> {
  const n = g.nodes[out]!;
  const bind = bindLeaves(g, n.inputs, leaves);
  let fresh = 0;
  const k: WgslKernelCtx<never> = {
    node: n as never,
    out: "out",
    ins: n.inputs.map((id) => bind.names.get(id)!),
    inTypes: n.inputs.map((id) => g.nodes[id]!),
    fresh: (s) => `${s}_${fresh++}`,
    elem: elemOf,
  };
  const em = OPS[n.op].wgsl;
  const bound = { inputs: bind.list, outElem: elemOf(n.dtype), ctx: false };
  const size = Math.max(1, numel(n.shape));
  if (em.kind === "tiled") {
    const e = (em.entry as (k: WgslKernelCtx<never>) => WgslEntry)(k);
    const code = tiled(bound, e);
    return { got: await runModule({ code, inputs: bind.data, outElem: elemOf(n.dtype), outSize: size, workgroups: e.workgroups }), code };
  }
  if (em.kind !== "kernel") throw new Error(`${n.op} has no WGSL kernel`);
  const threads = em.threads ? (em.threads as (n: Node, t: readonly Node[]) => number)(n, k.inTypes as Node[]) : size;
  const body = (em.body as (k: WgslKernelCtx<never>) => string)(k);
  const { code, workgroups } = perElement(bound, threads, body);
  return { got: await runModule({ code, inputs: bind.data, outElem: elemOf(n.dtype), outSize: size, workgroups }), code };
}
