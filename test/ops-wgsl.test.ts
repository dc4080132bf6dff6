// The ops' WGSL emitters, executed: each op's `wgsl` emitter is wrapped in a
// small compute module by the harness below (a stand-in for the module
// emitter in compiler/emit/wgsl, which has its own tests), run with Dawn (the
// `webgpu` package) and compared with the reference evaluator. Every module
// must compile without errors. Dawn runs here on Mesa's llvmpipe through its
// OpenGL ES backend in compatibility mode (EGL_PLATFORM=surfaceless); with no
// adapter the suite fails, naming the Debian packages it needs.
// DLT_WEBGPU_BACKEND=vulkan (or metal, d3d12) runs it on a real GPU instead.
//
// Special values (NaN, ±Infinity, overflow) are checked against JS
// semantics; WGSL calls some of them indeterminate, so those checks pin what
// the emitters rely on, as llvmpipe computes it.

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { create, globals } from "webgpu";
import { Builder } from "../compiler/ir/builder.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { type DType, type Graph, type Node, type Prim, type Shape, numel } from "../compiler/ir/types.ts";
import type { PrimAttrs } from "../compiler/ops/attrs.ts";
import type { WgslEntry, WgslKernelCtx, WgslScalarCtx } from "../compiler/ops/op.ts";
import { OPS } from "../compiler/ops/registry.ts";

// ---- device ------------------------------------------------------------------

const NO_ADAPTER =
  "no WebGPU adapter: Dawn needs Mesa's EGL/GLES stack (llvmpipe) here; install the Debian packages " +
  "libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri libegl-dev and run with EGL_PLATFORM=surfaceless";

let device: GPUDevice;
// Held for the whole suite: if the GPU object is garbage-collected, Dawn's
// instance goes with it and the process aborts in native code.
let gpu: GPU | undefined;

beforeAll(async () => {
  process.env.EGL_PLATFORM ??= "surfaceless";
  Object.assign(globalThis, globals);
  const backend = process.env.DLT_WEBGPU_BACKEND ?? "opengl";
  gpu = create([`backend=${backend}`]);
  const adapter = await gpu.requestAdapter(backend === "opengl" ? { featureLevel: "compatibility" } : {});
  if (!adapter) throw new Error(NO_ADAPTER);
  // Compatibility mode's defaults allow 128 invocations per workgroup; the
  // matmul tiles need 256, which llvmpipe grants when asked.
  const l = adapter.limits;
  device = await adapter.requestDevice({
    requiredLimits: {
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
    },
  });
});

afterAll(() => device?.destroy());

type Data = Float32Array<ArrayBuffer> | Int32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>;

function elem(d: DType): "f32" | "i32" | "u32" {
  return d === "i32" ? "i32" : d === "bool" ? "u32" : "f32";
}

function upload(t: Tensor): Data {
  const e = elem(t.dtype);
  return e === "f32" ? new Float32Array(t.data) : e === "i32" ? new Int32Array(t.data) : new Uint32Array(t.data);
}

function numbered(code: string): string {
  return code
    .split("\n")
    .map((l, k) => `${String(k + 1).padStart(3)} | ${l}`)
    .join("\n");
}

interface ModuleSpec {
  readonly code: string;
  /** Input arrays, bound 1..n after the output at binding 0. */
  readonly inputs: readonly Data[];
  readonly outElem: "f32" | "i32" | "u32";
  readonly outSize: number;
  readonly workgroups: readonly [number, number, number];
  /** Ctx { seed, step, iter, pad }, bound last, when the module uses it. */
  readonly ctx?: Uint32Array<ArrayBuffer>;
}

const modulesRun: string[] = [];

/** Compiles (failing on any WGSL error), runs once and reads the output. */
async function runModule(m: ModuleSpec): Promise<Data> {
  modulesRun.push(m.code);
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

// ---- module skeletons (as compiler/emit/wgsl lays them out) --------------------

const WG = 64;

/** A deterministic stand-in for compiler/emit/wgsl/philox.ts (whose bits are
 * tested elsewhere): a hash of all five arguments, mirrored by `standIn`. */
const PHILOX_STAND_IN = `
fn standin_hash(seed: u32, salt: u32, step: u32, iter: u32, i: u32) -> u32 {
  var h = (seed * 0x9e3779b9u) ^ (salt * 0x85ebca6bu) ^ (step * 0xc2b2ae35u) ^ (iter * 0x27d4eb2fu) ^ (i * 0x165667b1u);
  h = h ^ (h >> 16u);
  h = h * 0x7feb352du;
  h = h ^ (h >> 15u);
  h = h * 0x846ca68bu;
  h = h ^ (h >> 16u);
  return h;
}
fn philox_uniform(seed: u32, salt: u32, step: u32, iter: u32, i: u32) -> f32 {
  return f32(standin_hash(seed, salt, step, iter, i) >> 8u) * (1.0 / 16777216.0);
}
fn philox_normal(seed: u32, salt: u32, step: u32, iter: u32, i: u32) -> f32 {
  let u1 = philox_uniform(seed, salt ^ 0x5bd1e995u, step, iter, i);
  let u2 = philox_uniform(seed, salt ^ 0x1b873593u, step, iter, i);
  return sqrt(-2.0 * log(1.0 - u1)) * cos(6.2831853 * u2);
}
`;

function standIn(seed: number, salt: number, step: number, iter: number, i: number): number {
  let h = (Math.imul(seed, 0x9e3779b9) ^ Math.imul(salt, 0x85ebca6b) ^ Math.imul(step, 0xc2b2ae35) ^ Math.imul(iter, 0x27d4eb2f) ^ Math.imul(i, 0x165667b1)) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h = (h ^ (h >>> 15)) >>> 0;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h = (h ^ (h >>> 16)) >>> 0;
  return (h >>> 8) / 16777216;
}

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
  if (/\bphilox_/.test(code)) lines.push(PHILOX_STAND_IN);
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

// ---- cases -------------------------------------------------------------------

/** A graph whose `out` node is computed on the GPU from its `input` leaves. */
interface Case {
  readonly g: Graph;
  readonly out: number;
  readonly leaves: Map<string, Tensor>;
}

const RUN = { seed: 7, step: 3, iter: 2 };
const covered = new Set<Prim>();

class CaseBuilder {
  readonly b = new Builder();
  readonly leaves = new Map<string, Tensor>();
  x(t: Tensor): number {
    const name = `x${this.leaves.size}`;
    this.leaves.set(name, t);
    return this.b.leaf("input", name, t.shape, t.dtype);
  }
  done(out: number): Case {
    return { g: this.b.graph, out, leaves: this.leaves };
  }
}

/** One op applied to input leaves. */
function single<P extends Prim>(op: P, attrs: PrimAttrs[P], inputs: readonly Tensor[]): Case {
  const c = new CaseBuilder();
  const ids = inputs.map((t) => c.x(t));
  return c.done(c.b.op(op, ids, attrs));
}

function reference(c: Case): Tensor {
  return interpret(c.g, { input: c.leaves }, RUN)[c.out] as Tensor;
}

/** Binds each distinct input leaf once (in1, in2, ...), as the planner does. */
function bindLeaves(c: Case, ids: readonly number[]): { names: Map<number, string>; data: Data[]; list: { name: string; elem: string }[] } {
  const names = new Map<number, string>();
  const data: Data[] = [];
  const list: { name: string; elem: string }[] = [];
  for (const id of ids) {
    if (names.has(id)) continue;
    const n = c.g.nodes[id]!;
    if (n.op !== "input") throw new Error(`%${id} (${n.op}) is not a leaf`);
    const name = `in${list.length + 1}`;
    names.set(id, name);
    list.push({ name, elem: elem(n.dtype) });
    data.push(upload(c.leaves.get((n as Node<"input">).attrs.name)!));
  }
  return { names, data, list };
}

const SCALAR: WgslScalarCtx = { index: "i", seed: "ctx.seed", step: "ctx.step", iter: "ctx.iter" };

/** Runs the graph's non-leaf nodes as one fused elementwise expression. */
async function runFused(c: Case): Promise<Data> {
  const leafIds = c.g.nodes.filter((n) => n.op === "input").map((n) => n.id);
  const bind = bindLeaves(c, leafIds);
  const expr = (id: number): string => {
    const n = c.g.nodes[id]!;
    const name = bind.names.get(id);
    if (name) return `${name}[i]`;
    const em = OPS[n.op].wgsl;
    if (em.kind !== "elementwise") throw new Error(`${n.op} is not elementwise`);
    covered.add(n.op);
    return (em.expr as (a: readonly string[], n: Node, e: WgslScalarCtx) => string)(n.inputs.map(expr), n, SCALAR);
  };
  const out = c.g.nodes[c.out]!;
  const body = `out[i] = ${expr(c.out)};`;
  const ctx = /\bctx\./.test(body);
  const threads = Math.max(1, numel(out.shape));
  const { code, workgroups } = perElement({ inputs: bind.list, outElem: elem(out.dtype), ctx }, threads, body);
  return runModule({
    code,
    inputs: bind.data,
    outElem: elem(out.dtype),
    outSize: threads,
    workgroups,
    ctx: ctx ? new Uint32Array([RUN.seed, RUN.step, RUN.iter, 0]) : undefined,
  });
}

/** Runs the out node's kernel (or tiled entry) on its input leaves. */
async function runKernel(c: Case): Promise<Data> {
  const n = c.g.nodes[c.out]!;
  const bind = bindLeaves(c, n.inputs);
  let fresh = 0;
  const k: WgslKernelCtx<never> = {
    node: n as never,
    out: "out",
    ins: n.inputs.map((id) => bind.names.get(id)!),
    inTypes: n.inputs.map((id) => c.g.nodes[id]!),
    fresh: (s) => `${s}_${fresh++}`,
    elem,
  };
  const em = OPS[n.op].wgsl;
  covered.add(n.op);
  const bound = { inputs: bind.list, outElem: elem(n.dtype), ctx: false };
  const size = Math.max(1, numel(n.shape));
  if (em.kind === "tiled") {
    const e = (em.entry as (k: WgslKernelCtx<never>) => WgslEntry)(k);
    return runModule({ code: tiled(bound, e), inputs: bind.data, outElem: bound.outElem as "f32", outSize: size, workgroups: e.workgroups });
  }
  if (em.kind !== "kernel") throw new Error(`${n.op} has no WGSL kernel`);
  const threads = em.threads ? (em.threads as (n: Node, t: readonly Node[]) => number)(n, k.inTypes as Node[]) : size;
  const body = (em.body as (k: WgslKernelCtx<never>) => string)(k);
  const { code, workgroups } = perElement(bound, threads, body);
  return runModule({ code, inputs: bind.data, outElem: elem(n.dtype), outSize: size, workgroups });
}

// ---- comparison ----------------------------------------------------------------

interface Tol {
  readonly rel: number;
  readonly abs: number;
}
const TOL: Tol = { rel: 1e-5, abs: 1e-6 };

/** Float outputs within tol of the reference rounded to f32 (equal when not
 * finite: same infinity, or both NaN); integer and bool outputs exact. */
function expectMatch(got: Data, ref: Tensor, what: string, tol: Tol | ((k: number) => number) = TOL): void {
  const bad: string[] = [];
  for (let k = 0; k < ref.data.length; k++) {
    const g = got[k]!;
    let ok: boolean;
    let r = ref.data[k]!;
    if (ref.dtype === "f32" || ref.dtype === "f64") {
      r = Math.fround(r);
      if (!Number.isFinite(r) || !Number.isFinite(g)) ok = Object.is(r, g) || (Number.isNaN(r) && Number.isNaN(g));
      else ok = Math.abs(g - r) <= (typeof tol === "function" ? tol(k) : tol.rel * Math.abs(r) + tol.abs);
    } else ok = g === r;
    if (!ok && bad.length < 8) bad.push(`[${k}] got ${g}, want ${r}`);
  }
  expect(bad, what).toEqual([]);
}

async function checkFused(c: Case, what: string, tol?: Tol): Promise<void> {
  expectMatch(await runFused(c), reference(c), what, tol);
}

async function checkKernel(c: Case, what: string, tol?: Tol | ((k: number) => number)): Promise<void> {
  expectMatch(await runKernel(c), reference(c), what, tol);
}

// ---- data ----------------------------------------------------------------------

let seed = 12345;
/** mulberry32: uniform [0, 1). */
function rand(): number {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function gauss(): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

const f32 = (shape: Shape, v: readonly number[]) => fromArray(shape, "f32", v.map(Math.fround));
const i32 = (shape: Shape, v: readonly number[]) => fromArray(shape, "i32", v);
const bool = (shape: Shape, v: readonly number[]) => fromArray(shape, "bool", v);
const fill = (shape: Shape, f: (k: number) => number) => Array.from({ length: numel(shape) }, (_, k) => f(k));
const normalT = (shape: Shape, scale = 1) => f32(shape, fill(shape, () => scale * gauss()));
const uniformT = (shape: Shape, lo: number, hi: number) => f32(shape, fill(shape, () => lo + (hi - lo) * rand()));
const intT = (shape: Shape, lo: number, hi: number) => i32(shape, fill(shape, () => lo + Math.floor((hi - lo) * rand())));
const boolT = (shape: Shape) => bool(shape, fill(shape, () => (rand() < 0.5 ? 1 : 0)));

/** Values where functions overflow, underflow or leave their domain. */
const SPECIAL = [0, -0, 1e-30, -1e-30, 0.5, -0.5, 20, -20, 50, -50, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
const N = 131; // three workgroups, the last one partial

// ---- elementwise ---------------------------------------------------------------

describe("WGSL elementwise ops", () => {
  const NONE = {} as Record<string, never>;

  it("binary arithmetic on f32 (and inf/NaN operands)", async () => {
    for (const op of ["add", "sub", "mul", "div", "maximum", "minimum"] as const) {
      await checkFused(single(op, NONE, [normalT([N], 3), normalT([N], 3)]), `${op} f32`);
      const a = SPECIAL.flatMap((x) => SPECIAL.map(() => x));
      const b = SPECIAL.flatMap(() => SPECIAL);
      await checkFused(single(op, NONE, [f32([a.length], a), f32([b.length], b)]), `${op} special`);
    }
  });

  it("binary arithmetic on i32 (wrapping like an Int32Array store)", async () => {
    for (const op of ["add", "sub", "mul", "maximum", "minimum"] as const) {
      await checkFused(single(op, NONE, [intT([N], -100000, 100000), intT([N], -30000, 30000)]), `${op} i32`);
    }
    await checkFused(single("add", NONE, [i32([2], [2147483647, -2147483648]), i32([2], [1, -1])]), "add i32 overflow");
  });

  it("unary functions on f32, ordinary and special values", async () => {
    for (const op of ["neg", "exp", "log", "tanh", "sigmoid", "softplus", "abs", "sqrt"] as const) {
      const x = op === "log" || op === "sqrt" ? uniformT([N], 1e-3, 30) : normalT([N], op === "exp" ? 5 : 4);
      await checkFused(single(op, NONE, [x]), `${op}`);
      await checkFused(single(op, NONE, [f32([SPECIAL.length], SPECIAL)]), `${op} special`);
    }
    for (const op of ["neg", "abs"] as const) {
      await checkFused(single(op, NONE, [i32([5], [0, 1, -7, 2147483647, -2147483647])]), `${op} i32`);
    }
  });

  it("pow mirrors Math.pow on negative bases, zero exponents and zero bases", async () => {
    await checkFused(single("pow", NONE, [uniformT([N], 0.1, 4), normalT([N], 2)]), "pow positive base");
    const base = [-2, -2, -2, -2, -0.5, -0.5, -3, -3, -1.5, -1, -1, -2, 0, 0, 0, 2, NaN, NaN, 1, 4, -8, -Infinity, -Infinity, 0, 0, 0, 2, 0.5, 2, 0.5, Infinity, Infinity, 3, -3];
    const expo = [3, 2, -3, -2, 3, 0.5, 0, 1, 2.5, Infinity, -Infinity, 31, 2, -1, 0, 0, 0, 2, 5, 0.5, 1 / 3, 3, 2, -2, Infinity, -Infinity, Infinity, Infinity, -Infinity, -Infinity, 2, -1, NaN, NaN];
    await checkFused(single("pow", NONE, [f32([base.length], base), f32([expo.length], expo)]), "pow special");
  });

  it("compare: every kind, f32 (with NaN), i32 and bool operands", async () => {
    const a = f32([12], [1, 2, 3, -1, 0, -0, NaN, NaN, Infinity, -Infinity, 5, 2]);
    const b = f32([12], [2, 2, 1, -1, -0, 0, 1, NaN, Infinity, 3, NaN, 2.5]);
    for (const cmp of ["lt", "le", "gt", "ge", "eq", "ne"] as const) {
      await checkFused(single("compare", { cmp }, [a, b]), `compare ${cmp} f32`);
      await checkFused(single("compare", { cmp }, [intT([N], -3, 3), intT([N], -3, 3)]), `compare ${cmp} i32`);
      await checkFused(single("compare", { cmp }, [boolT([16]), boolT([16])]), `compare ${cmp} bool`);
    }
  });

  it("select on bool conditions, f32, i32 and bool branches", async () => {
    await checkFused(single("select", NONE, [boolT([N]), normalT([N]), normalT([N])]), "select f32");
    await checkFused(single("select", NONE, [boolT([N]), intT([N], -9, 9), intT([N], -9, 9)]), "select i32");
    await checkFused(single("select", NONE, [boolT([N]), boolT([N]), boolT([N])]), "select bool");
    // NaN/Inf in the unchosen branch never leaks.
    await checkFused(single("select", NONE, [bool([3], [1, 0, 1]), f32([3], [1, NaN, 2]), f32([3], [Infinity, 3, NaN])]), "select special");
  });

  it("cast between f32, i32 and bool", async () => {
    const x = f32([15], [2.7, -2.7, 0.5, -0.5, 0, -0, 1, -1, 1e9, -1e9, 123456.8, 3, 16777217, -2147483520, NaN]);
    await checkFused(single("cast", { to: "i32" }, [x]), "cast f32 -> i32 (toward zero)");
    await checkFused(single("cast", { to: "bool" }, [f32([7], [0, -0, 0.5, -3, Infinity, NaN, 1e-30])]), "cast f32 -> bool");
    await checkFused(single("cast", { to: "f32" }, [i32([5], [0, -7, 2147483647, -2147483648, 16777217])]), "cast i32 -> f32");
    await checkFused(single("cast", { to: "bool" }, [i32([4], [0, -7, 1, -2147483648])]), "cast i32 -> bool");
    await checkFused(single("cast", { to: "f32" }, [boolT([N])]), "cast bool -> f32");
    await checkFused(single("cast", { to: "i32" }, [boolT([N])]), "cast bool -> i32");
  });

  it("const literals of every dtype, including values with no WGSL literal", async () => {
    const floats = [0.01, 2, -0.05, 1e-4, 0, -0, 1 / 3, 0.1, 123456789, 3.4028234663852886e38, -3.4028234663852886e38, 3.4028235e38, 1e300, 1e-45, 1e-50, Infinity, -Infinity, NaN, 6.02e23, -1e-7];
    for (const v of floats) {
      for (const shape of [[], [N]] as Shape[]) {
        const c = new CaseBuilder();
        await checkFused(c.done(c.b.constant(v, shape, "f32")), `const f32 ${v} ${JSON.stringify(shape)}`);
      }
    }
    for (const v of [3, -7, 0, 2147483647, -2147483648, 2.9, -2.9]) {
      const c = new CaseBuilder();
      await checkFused(c.done(c.b.constant(v, [5], "i32")), `const i32 ${v}`);
    }
    for (const v of [0, 1]) {
      const c = new CaseBuilder();
      await checkFused(c.done(c.b.constant(v, [5], "bool")), `const bool ${v}`);
    }
  });

  it("fused chains compose (precedence, mixed dtypes, constants inline)", async () => {
    {
      const c = new CaseBuilder();
      const b = c.b;
      const x = c.x(normalT([N], 2)), z = c.x(normalT([N], 2));
      const t = b.add(b.unary("softplus", b.sub(b.mul(x, b.constant(-0.5, [N])), b.neg(z))), b.select(b.compare("gt", x, z), b.unary("exp", x), b.unary("tanh", z)));
      const u = b.mul(b.cast(b.compare("le", b.unary("abs", x), b.constant(1, [N])), "f32"), b.div(t, b.add(b.unary("sqrt", b.unary("abs", z)), b.constant(1, [N]))));
      const v = b.sub(b.pow(b.unary("sigmoid", u), b.constant(2, [N])), b.neg(b.neg(x)));
      await checkFused(c.done(v), "f32 chain");
    }
    {
      const c = new CaseBuilder();
      const b = c.b;
      const x = c.x(intT([N], -50, 50)), y = c.x(intT([N], -50, 50));
      const m = b.maximum(b.minimum(b.sub(x, b.neg(y)), b.constant(30, [N], "i32")), b.unary("abs", b.mul(x, b.constant(-2, [N], "i32"))));
      await checkFused(c.done(b.cast(b.add(m, b.cast(b.compare("ne", x, y), "i32")), "f32")), "i32 chain");
    }
    {
      // maximum/minimum against ±Infinity constants (relu-like clamps).
      const c = new CaseBuilder();
      const b = c.b;
      const x = c.x(f32([SPECIAL.length], SPECIAL));
      const y = b.minimum(b.maximum(x, b.constant(-Infinity, [SPECIAL.length])), b.constant(Infinity, [SPECIAL.length]));
      await checkFused(c.done(b.add(y, b.constant(0, [SPECIAL.length]))), "clamp by infinities");
    }
  });

  it("step_one_hot is 1 at the step counter modulo its depth", async () => {
    for (const depth of [5, 3, 1]) {
      const c = new CaseBuilder();
      const got = Array.from(await runFused(c.done(c.b.stepOneHot(depth, "f32"))));
      expect(got).toEqual(Array.from({ length: depth }, (_, k) => (k === RUN.step % depth ? 1 : 0)));
    }
  });

  it("random_uniform / random_normal call the generator with (seed, salt, step, iter, index)", async () => {
    const shape = [64, 33];
    for (const salt of [5, 0xfffffffe]) {
      const c = new CaseBuilder();
      const got = Array.from(await runFused(c.done(c.b.randomUniform(shape, "f32", salt))));
      const want = fill(shape, (k) => standIn(RUN.seed, salt, RUN.step, RUN.iter, k));
      expect(got.every((v, k) => v === want[k]), `uniform salt ${salt}`).toBe(true);
      const mean = got.reduce((a, v) => a + v, 0) / got.length;
      expect(Math.min(...got)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...got)).toBeLessThan(1);
      expect(Math.abs(mean - 0.5)).toBeLessThan(0.02);
    }
    const c = new CaseBuilder();
    const got = Array.from(await runFused(c.done(c.b.randomNormal(shape, "f32", 9))));
    const mean = got.reduce((a, v) => a + v, 0) / got.length;
    const sd = Math.sqrt(got.reduce((a, v) => a + (v - mean) ** 2, 0) / got.length);
    expect(got.every(Number.isFinite)).toBe(true);
    expect(Math.abs(mean)).toBeLessThan(0.06);
    expect(Math.abs(sd - 1)).toBeLessThan(0.05);
  });
});

// ---- kernels -----------------------------------------------------------------

describe("WGSL kernels", () => {
  it("reduce_sum over every axis set, f32 and i32", async () => {
    const axesList = [[0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]];
    for (const axes of axesList) {
      await checkKernel(single("reduce_sum", { axes }, [normalT([3, 5, 7])]), `reduce_sum ${axes}`);
      await checkKernel(single("reduce_sum", { axes }, [intT([3, 5, 7], -1000, 1000)]), `reduce_sum i32 ${axes}`);
    }
    await checkKernel(single("reduce_sum", { axes: [1] }, [normalT([4, 1, 6])]), "reduce_sum over a size-1 axis");
    await checkKernel(single("reduce_sum", { axes: [0, 2] }, [normalT([4, 1, 6])]), "reduce_sum around a size-1 axis");
    await checkKernel(single("reduce_sum", { axes: [1] }, [uniformT([3, 2000], 0, 1)]), "reduce_sum long rows");
    await checkKernel(single("reduce_sum", { axes: [0] }, [boolT([9, 4])]), "reduce_sum bool counts");
  });

  it("reduce_max: negatives, NaN propagation, i32", async () => {
    for (const axes of [[0], [1], [2], [0, 2], [0, 1, 2]]) {
      await checkKernel(single("reduce_max", { axes }, [uniformT([3, 5, 7], -9, -1)]), `reduce_max negatives ${axes}`);
      await checkKernel(single("reduce_max", { axes }, [intT([3, 5, 7], -2000000000, -1000000000)]), `reduce_max i32 ${axes}`);
    }
    const x = f32([3, 4], [1, NaN, 3, 2, NaN, 0, 0, 0, -Infinity, -Infinity, -5, -Infinity]);
    await checkKernel(single("reduce_max", { axes: [1] }, [x]), "reduce_max NaN rows");
    await checkKernel(single("reduce_max", { axes: [0] }, [x]), "reduce_max NaN columns");
  });

  it("argmax: first index wins ties, NaN never wins", async () => {
    for (const axis of [0, 1, 2, -1]) {
      await checkKernel(single("argmax", { axis }, [f32([3, 5, 7], fill([3, 5, 7], () => Math.floor(rand() * 3)))]), `argmax ties axis ${axis}`);
      await checkKernel(single("argmax", { axis }, [normalT([3, 5, 7])]), `argmax axis ${axis}`);
    }
    await checkKernel(single("argmax", { axis: 1 }, [f32([3, 3], [NaN, 1, 2, 1, NaN, 0, 1, NaN, 2])]), "argmax NaN");
    await checkKernel(single("argmax", { axis: 0 }, [intT([9], -5, 5)]), "argmax i32 to scalar");
  });

  it("one_hot: out-of-range labels give zero rows", async () => {
    await checkKernel(single("one_hot", { depth: 5 }, [i32([9], [0, 4, 2, -1, 5, 7, 3, 3, -2147483648])]), "one_hot");
    await checkKernel(single("one_hot", { depth: 10 }, [intT([3, 7], -1, 11)]), "one_hot 2-D");
    await checkKernel(single("one_hot", { depth: 1 }, [i32([4], [0, 1, -1, 0])]), "one_hot depth 1");
  });

  it("gather rows by index", async () => {
    await checkKernel(single("gather", {}, [normalT([6, 3, 2]), i32([2, 4], [0, 5, 2, 5, 1, 0, 5, 3])]), "gather 3-D table");
    await checkKernel(single("gather", {}, [normalT([5]), i32([7], [4, 4, 0, 1, 3, 2, 0])]), "gather 1-D table");
    await checkKernel(single("gather", {}, [intT([7, 5], -9, 9), intT([11], 0, 7)]), "gather i32 table");
  });

  it("scatter_add sums repeated rows, leaves unused rows zero", async () => {
    await checkKernel(single("scatter_add", { rows: 6 }, [normalT([2, 4, 3]), i32([2, 4], [0, 5, 2, 5, 1, 0, 5, 2])]), "scatter_add");
    await checkKernel(single("scatter_add", { rows: 4 }, [normalT([9]), i32([9], [3, 3, 0, 1, 3, 0, 1, 1, 3])]), "scatter_add 1-D");
    await checkKernel(single("scatter_add", { rows: 40 }, [normalT([100, 5]), intT([100], 0, 40)]), "scatter_add many");
    await checkKernel(single("scatter_add", { rows: 3 }, [intT([5, 2], -9, 9), i32([5], [2, 2, 0, 2, 0])]), "scatter_add i32");
  });

  it("broadcast", async () => {
    const cases: [Shape, Shape][] = [[[3, 1], [2, 3, 5]], [[], [4]], [[1, 5], [3, 5]], [[4, 1, 6], [2, 4, 7, 6]], [[5], [3, 5]], [[2, 1, 1], [2, 3, 4]], [[1], [1]]];
    for (const [from, to] of cases) {
      await checkKernel(single("broadcast", { shape: to }, [normalT(from)]), `broadcast ${from} -> ${to}`);
    }
    await checkKernel(single("broadcast", { shape: [3, 4] }, [boolT([4])]), "broadcast bool");
    await checkKernel(single("broadcast", { shape: [4, 3] }, [intT([4, 1], -9, 9)]), "broadcast i32");
  });

  it("transpose", async () => {
    const cases: [Shape, number[]][] = [[[3, 5, 7], [2, 0, 1]], [[3, 5, 7], [1, 0, 2]], [[3, 5, 7], [0, 2, 1]], [[3, 5, 7], [0, 1, 2]], [[2, 3], [1, 0]], [[1, 4, 1, 3], [3, 2, 1, 0]], [[2, 3, 4, 5], [1, 3, 0, 2]]];
    for (const [shape, perm] of cases) {
      await checkKernel(single("transpose", { perm }, [normalT(shape)]), `transpose ${shape} by ${perm}`);
    }
    await checkKernel(single("transpose", { perm: [1, 0] }, [intT([5, 3], -9, 9)]), "transpose i32");
  });

  it("slice", async () => {
    await checkKernel(single("slice", { starts: [1, 2, 0], ends: [4, 7, 3] }, [normalT([5, 7, 3])]), "slice 3-D");
    await checkKernel(single("slice", { starts: [2], ends: [7] }, [normalT([9])]), "slice 1-D");
    await checkKernel(single("slice", { starts: [0, 1], ends: [4, 2] }, [intT([4, 5], -9, 9)]), "slice a column");
    await checkKernel(single("slice", { starts: [0, 0], ends: [4, 5] }, [normalT([4, 5])]), "slice everything");
  });

  it("pad", async () => {
    await checkKernel(single("pad", { before: [1, 0], after: [2, 3] }, [normalT([3, 4])]), "pad 2-D");
    await checkKernel(single("pad", { before: [0, 1, 0], after: [0, 0, 2] }, [normalT([2, 3, 4])]), "pad 3-D");
    await checkKernel(single("pad", { before: [2], after: [0] }, [intT([5], -9, 9)]), "pad i32");
    await checkKernel(single("pad", { before: [1, 0], after: [1, 0] }, [normalT([0, 3])]), "pad an empty tensor");
    await checkKernel(single("pad", { before: [0, 0], after: [0, 0] }, [boolT([2, 3])]), "pad nothing");
  });

  it("concat along every axis, repeated and empty operands", async () => {
    await checkKernel(single("concat", { axis: 0 }, [normalT([2, 3]), normalT([4, 3]), normalT([1, 3])]), "concat axis 0");
    await checkKernel(single("concat", { axis: 1 }, [normalT([2, 3]), normalT([2, 1]), normalT([2, 4])]), "concat axis 1");
    await checkKernel(single("concat", { axis: 1 }, [normalT([2, 3, 4]), normalT([2, 2, 4])]), "concat axis 1 of 3");
    await checkKernel(single("concat", { axis: -1 }, [intT([2, 3, 2], -9, 9), intT([2, 3, 5], -9, 9)]), "concat i32 last axis");
    await checkKernel(single("concat", { axis: 0 }, [normalT([3, 2])]), "concat of one");
    await checkKernel(single("concat", { axis: 1 }, [normalT([2, 3]), normalT([2, 0]), normalT([2, 2])]), "concat with an empty operand");
    const c = new CaseBuilder();
    const x = c.x(normalT([2, 3]));
    await checkKernel(c.done(c.b.op("concat", [x, x, x], { axis: 0 })), "concat of one operand thrice");
  });

  it("matmul: tiled, every transpose combination, sizes off the tile grid", async () => {
    const sizes: [number, number, number][] = [[5, 7, 3], [33, 17, 19], [16, 16, 16], [1, 1, 1], [40, 3, 1], [1, 50, 35], [64, 100, 48]];
    for (const [m, k, n] of sizes) {
      for (const transA of [false, true]) {
        for (const transB of [false, true]) {
          const A = normalT(transA ? [k, m] : [m, k]);
          const B = normalT(transB ? [n, k] : [k, n]);
          const c = single("matmul", { transA, transB }, [A, B]);
          // f32 accumulation error is bounded by k ulps of Σ|a||b|.
          const abs = (t: Tensor) => f32(t.shape, [...t.data].map(Math.abs));
          const mag = reference(single("matmul", { transA, transB }, [abs(A), abs(B)]));
          await checkKernel(c, `matmul ${m}x${k}x${n} transA=${transA} transB=${transB}`, (q) => 1e-6 + 2e-7 * (k + 1) * mag.data[q]!);
        }
      }
    }
  });

  // conv2d / flip / max_pool2d / max_pool2d_grad (test/conv.test.ts has their
  // gradient checks and TypeScript kernels), at LeNet's layer shapes too.
  it("conv2d valid and full, including LeNet's forward and gradient shapes", async () => {
    const cases: [Shape, Shape, "valid" | "full"][] = [
      [[2, 3, 7, 8], [4, 3, 3, 2], "valid"],
      [[3, 2, 5, 5], [2, 2, 5, 5], "valid"],
      [[2, 3, 4, 5], [2, 3, 3, 2], "full"],
      [[1, 2, 2, 3], [3, 2, 4, 5], "full"],
      [[4, 1, 28, 28], [20, 1, 5, 5], "valid"], // LeNet conv1 (batch 4)
      [[2, 20, 12, 12], [50, 20, 5, 5], "valid"], // conv2
      [[2, 50, 8, 8], [20, 50, 5, 5], "full"], // conv2's input gradient
      [[20, 6, 12, 12], [50, 6, 8, 8], "valid"], // conv2's filter gradient (batch 6 as channels)
      [[1, 6, 28, 28], [20, 6, 24, 24], "valid"], // conv1's filter gradient
    ];
    for (const [xs, ws, border] of cases) {
      const x = normalT(xs);
      const w = normalT(ws);
      const c = single("conv2d", { border }, [x, w]);
      // f32 accumulation: error bounded by terms·ulp of Σ|x||w|.
      const abs = (t: Tensor) => f32(t.shape, [...t.data].map(Math.abs));
      const mag = reference(single("conv2d", { border }, [abs(x), abs(w)]));
      const terms = xs[1]! * ws[2]! * ws[3]!;
      await checkKernel(c, `conv2d ${border} ${xs} * ${ws}`, (q) => 1e-6 + 2e-7 * (terms + 1) * mag.data[q]!);
    }
  });

  it("flip", async () => {
    await checkKernel(single("flip", { axes: [2, 3] }, [normalT([2, 3, 4, 5])]), "flip spatial");
    await checkKernel(single("flip", { axes: [0, 2] }, [normalT([3, 1, 4])]), "flip [0, 2]");
    await checkKernel(single("flip", { axes: [1] }, [intT([3, 4], -9, 9)]), "flip i32");
  });

  it("max_pool2d: window maxima, border ignored, NaN propagates", async () => {
    await checkKernel(single("max_pool2d", { size: [2, 2] }, [normalT([3, 4, 8, 6])]), "max_pool2d 2×2");
    await checkKernel(single("max_pool2d", { size: [2, 3] }, [normalT([2, 3, 5, 7])]), "max_pool2d 2×3 border");
    await checkKernel(single("max_pool2d", { size: [2, 2] }, [f32([1, 1, 2, 6], [NaN, 1, 2, 3, 0, 0, 4, NaN, -Infinity, -Infinity, 1, 2])]), "max_pool2d NaN");
  });

  it("max_pool2d_grad: first maximum on ties, zero on the border", async () => {
    await checkKernel(single("max_pool2d_grad", { size: [2, 2] }, [normalT([3, 4, 8, 6]), normalT([3, 4, 4, 3])]), "max_pool2d_grad 2×2");
    await checkKernel(single("max_pool2d_grad", { size: [2, 3] }, [normalT([2, 3, 5, 7]), normalT([2, 3, 2, 2])]), "max_pool2d_grad border");
    const ties = f32([2, 3, 4, 4], fill([2, 3, 4, 4], () => Math.floor(rand() * 2)));
    await checkKernel(single("max_pool2d_grad", { size: [2, 2] }, [ties, normalT([2, 3, 2, 2])]), "max_pool2d_grad ties");
  });

  it("covers every op with WGSL code", () => {
    const needed = (Object.keys(OPS) as Prim[]).filter((p) => !["leaf", "view", "structural"].includes(OPS[p].wgsl.kind));
    expect(needed.filter((p) => !covered.has(p))).toEqual([]);
    expect(modulesRun.length).toBeGreaterThan(100);
  });
});
