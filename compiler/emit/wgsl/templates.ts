// WGSL module skeletons as Handlebars templates: the binding header, the
// one-invocation-per-element kernel (elementwise chains and op kernels), the
// fused trailing-axis sum, and the custom-entry kernel (tiled matmul). Ops
// and the planner provide the bodies; the templates own dispatch geometry.
//
// Traps recorded here:
// - WGSL has no bool storage: bool values live in array<u32> as 0/1.
// - More than 65,535 workgroups in x is invalid: large kernels use a 2-D grid
//   and rebuild the flat index as gid.x + gid.y * (groupsX * 64).
// - One invocation may run at most ~65,535 loop iterations in all on Dawn's
//   OpenGL backend (llvmpipe): longer loops stop early *silently* (a sum of
//   392,000 ones gives 65,535). Long sums therefore use a workgroup per
//   output: 64 invocations each add a strided 1/64th, then a tree in
//   workgroup memory combines them. Every kernel's loops are held to
//   WGSL_LOOP_BUDGET (compiler/ops/wgsl-loops.ts, which records the trap).
// - A buffer read and written by one kernel (an in-place update) must be a
//   single read_write binding: two bindings of one buffer, one writable, fail
//   validation.

import Handlebars from "handlebars";
import type { GpuKernelDesc } from "../../../runtime/webgpu/plan.ts";
import type { WgslEntry } from "../../ops/op.ts";
import { WGSL_LOOP_BUDGET } from "../../ops/wgsl-loops.ts";
import { PHILOX_WGSL } from "./philox.ts";
import { commentText } from "../comments.ts";

export interface Binding {
  readonly buffer: number;
  readonly access: "read" | "read_write" | "uniform";
  readonly name: string;
  readonly elem: string;
}

const WORKGROUP = 64;
const MAX_GROUPS = 65535;

const hb = Handlebars.create();
hb.registerHelper("eq", (a: unknown, b: unknown) => a === b);

const HEADER = hb.compile(
  `// {{label}}
{{#if ctx}}struct Ctx { seed: u32, step: u32, iter: u32, pad: u32 }
{{/if}}{{#each bindings}}{{#if (eq access "uniform")}}@group(0) @binding({{@index}}) var<uniform> {{name}}: Ctx;
{{else}}@group(0) @binding({{@index}}) var<storage, {{access}}> {{name}}: array<{{elem}}>;
{{/if}}{{/each}}`,
  { noEscape: true },
);

const PER_ELEMENT = hb.compile(
  `{{{header}}}{{{extra}}}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x + gid.y * {{strideY}}u;
  if (i >= {{size}}u) { return; }
{{{body}}}
}
`,
  { noEscape: true },
);

const REDUCTION = hb.compile(
  `{{{header}}}{{{extra}}}
@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let o = gid.x + gid.y * {{strideY}}u;
  if (o >= {{size}}u) { return; }
  var s: {{elem}} = {{zero}};
  for (var r = 0u; r < {{inner}}u; r++) {
    let j = o * {{inner}}u + r;
    s += {{{value}}};
  }
  out[o] = s;
}
`,
  { noEscape: true },
);

const TREE_REDUCTION = hb.compile(
  `{{{header}}}{{{extra}}}
var<workgroup> part: array<{{elem}}, ${WORKGROUP}>;

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let o = wid.x + wid.y * {{groupsX}}u;
  var s: {{elem}} = {{zero}};
  if (o < {{size}}u) {
    for (var r = lid.x; r < {{inner}}u; r += ${WORKGROUP}u) {
      let j = o * {{inner}}u + r;
      s += {{{value}}};
    }
  }
  part[lid.x] = s;
  workgroupBarrier();
  for (var w = ${WORKGROUP / 2}u; w > 0u; w >>= 1u) {
    if (lid.x < w) { part[lid.x] += part[lid.x + w]; }
    workgroupBarrier();
  }
  if (lid.x == 0u && o < {{size}}u) { out[o] = part[0]; }
}
`,
  { noEscape: true },
);

/** Above this many terms per output, a workgroup sums each output. */
const TREE_ABOVE = 256;
/** Steps of TREE_REDUCTION's combining loop: log2(WORKGROUP). */
const TREE_STEPS = Math.log2(WORKGROUP);

const TILED = hb.compile(
  `{{{header}}}{{{extra}}}{{{decls}}}
@compute @workgroup_size({{wx}}, {{wy}}, {{wz}})
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u, @builtin(global_invocation_id) gid: vec3u) {
{{{body}}}
}
`,
  { noEscape: true },
);

/** Functions a kernel may call without defining them: the counter-based
 * generator, included in exactly the modules that use it. */
const LIBRARIES: ReadonlyArray<readonly [RegExp, string]> = [[/\bphilox_/, PHILOX_WGSL]];

function header(label: string, bindings: readonly Binding[]): string {
  return HEADER({ label: commentText(label), ctx: bindings.some((b) => b.access === "uniform"), bindings });
}

function extraFor(code: string): string {
  return LIBRARIES.filter(([re]) => re.test(code)).map(([, src]) => `\n${src}\n`).join("");
}

function grid(threads: number): { groups: [number, number, number]; strideY: number } {
  const g = Math.ceil(threads / WORKGROUP);
  const x = Math.min(g, MAX_GROUPS);
  return { groups: [x, Math.ceil(g / x), 1], strideY: x * WORKGROUP };
}

function desc(name: string, label: string, bindings: readonly Binding[], wgsl: string, workgroups: readonly [number, number, number]): GpuKernelDesc {
  return { name, label, wgsl, bindings: bindings.map(({ buffer, access }) => ({ buffer, access })), workgroups: [...workgroups] as [number, number, number] };
}

export function elementwiseKernel(name: string, label: string, bindings: readonly Binding[], size: number, body: string): GpuKernelDesc {
  return kernelModule(name, label, bindings, size, `  ${body}`);
}

export function kernelModule(name: string, label: string, bindings: readonly Binding[], threads: number, body: string): GpuKernelDesc {
  const { groups, strideY } = grid(threads);
  const code = PER_ELEMENT({ header: header(label, bindings), extra: extraFor(body), strideY, size: threads, body: indent(body) });
  return desc(name, label, bindings, code, groups);
}

/** out[o] = Σ_r value(o, r, j = o·inner + r): a thread per output for short sums,
 * a workgroup per output (strided partial sums + tree) for long ones. */
export function reductionKernel(name: string, label: string, bindings: readonly Binding[], size: number, inner: number, value: string, elem: string): GpuKernelDesc {
  const zero = elem === "f32" ? "0.0" : elem === "i32" ? "0i" : "0u";
  if (inner > TREE_ABOVE) {
    const trips = Math.ceil(inner / WORKGROUP) + TREE_STEPS;
    if (trips > WGSL_LOOP_BUDGET) throw new Error(`${label}: a sum of ${inner} terms per output loops ${trips} times per GPU invocation, more than the ${WGSL_LOOP_BUDGET} that WebGPU on OpenGL runs reliably`);
    const x = Math.min(size, MAX_GROUPS);
    const code = TREE_REDUCTION({ header: header(label, bindings), extra: extraFor(value), groupsX: x, size, inner, value, elem, zero });
    return desc(name, label, bindings, code, [x, Math.ceil(size / x), 1]);
  }
  const { groups, strideY } = grid(size);
  const code = REDUCTION({ header: header(label, bindings), extra: extraFor(value), strideY, size, inner, value, elem, zero });
  return desc(name, label, bindings, code, groups);
}

export function tiledModule(name: string, label: string, bindings: readonly Binding[], e: WgslEntry): GpuKernelDesc {
  const [wx, wy, wz] = e.workgroupSize;
  const code = TILED({ header: header(label, bindings), extra: extraFor(e.body), decls: e.decls, wx, wy, wz, body: indent(e.body) });
  return desc(name, label, bindings, code, e.workgroups);
}

function indent(body: string): string {
  return body
    .split("\n")
    .map((l) => (l.startsWith("  ") ? l : `  ${l}`))
    .join("\n");
}
