// Writes generated/<model>/webgpu.ts: every WGSL kernel once, as a readable
// string constant headed by the op and spec line it computes, and the plan
// the runtime's executor replays (buffers, kernels, command lists), one
// entry a line. Deterministic like the TypeScript output; the WGSL is
// compiled by every test run.

import type { Graph } from "../../ir/types.ts";
import { lowerModel } from "../../lower/lower.ts";
import type { Program } from "../../lower/program.ts";
import type { GpuPlan } from "../../../runtime/webgpu/plan.ts";
import { commentText, jsString } from "../comments.ts";
import { RUNTIME_MODULE } from "../runtime-module.ts";
import { DEFAULT_LIMITS, renderWebGpu } from "./render.ts";

export interface WebGpuModuleInput {
  readonly program: Program;
  readonly header: string;
}

/** WGSL never contains backticks or `${`, but escape anyway: nothing reaches
 * the generated file unescaped. */
function templateLiteral(s: string): string {
  return "`" + s.replace(/\\/g, "\\\\").replace(/`/g, "\\`").replace(/\$\{/g, "\\${") + "`";
}

/** The plan of a model's steps and evaluation, lowered and rendered. */
export function planWebGpu(steps: readonly Graph[], evalGraph: Graph): GpuPlan {
  return renderWebGpu(lowerModel({ steps, evalGraph }));
}

/** Plain data on one line: `{ kind: "copy", src: 3, … }`, `[1, 2]`. */
function inline(v: unknown): string {
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v); // NaN and ±Infinity too
  if (v === null || typeof v !== "object") return typeof v === "string" ? jsString(v) : String(v);
  if (Array.isArray(v)) return `[${v.map(inline).join(", ")}]`;
  if (Object.keys(v).length === 0) return "{}";
  return `{ ${Object.entries(v as Record<string, unknown>)
    .map(([k, x]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : jsString(k)}: ${inline(x)}`)
    .join(", ")} }`;
}

/** A list of plain-data entries, one a line. */
function lines(list: readonly unknown[], indent: string): string {
  return `[\n${list.map((x) => `${indent}  ${inline(x)},`).join("\n")}\n${indent}]`;
}

function program(p: GpuPlan["eval"], indent: string): string {
  return `{\n${indent}  commands: ${lines(p.commands, `${indent}  `)},\n${indent}  outputs: ${inline(p.outputs)},\n${indent}}`;
}

/** webgpu.ts for a model with no WebGPU program: the plan says why. */
export function unsupportedWebGpuModule(m: Omit<WebGpuModuleInput, "program">, why: string): { text: string; plan: GpuPlan } {
  const plan: GpuPlan = { unsupported: why, buffers: [], kernels: [], steps: [], eval: { commands: [], outputs: {} }, limits: { ...DEFAULT_LIMITS } };
  const text = [
    `import type { GpuPlan } from ${jsString(RUNTIME_MODULE)};`,
    "",
    `// This model has no WebGPU program: ${commentText(why)}`,
    "// The CPU model (model.ts) is complete; --backend webgpu refuses this plan with that reason.",
    `export const plan: GpuPlan = { unsupported: ${jsString(why)}, buffers: [], kernels: [], steps: [], eval: { commands: [], outputs: {} }, limits: ${inline(plan.limits)} };`,
    "",
  ].join("\n");
  return { text: m.header + text, plan };
}

export function emitWebGpuModule(m: WebGpuModuleInput): { text: string; plan: GpuPlan } {
  const plan = renderWebGpu(m.program);
  const consts = plan.kernels.map((k, i) => `// Kernel ${i}: ${commentText(k.label)}\nconst WGSL_${i} = ${templateLiteral(k.wgsl)};`);
  const kernels = plan.kernels.map((k, i) => `    { name: ${jsString(k.name)}, label: ${jsString(k.label)}, wgsl: WGSL_${i}, bindings: ${inline(k.bindings)}, workgroups: ${inline(k.workgroups)}${k.flops !== undefined ? `, flops: ${k.flops}` : ""} },`);
  const body = [
    `import type { GpuPlan } from ${jsString(RUNTIME_MODULE)};`,
    "",
    ...consts,
    "",
    "/** Buffers, kernels and the command list of each step, replayed by runtime/webgpu/executor.ts. */",
    "export const plan: GpuPlan = {",
    `  buffers: ${lines(plan.buffers, "  ")},`,
    `  kernels: [\n${kernels.join("\n")}\n  ],`,
    `  steps: [\n${plan.steps.map((s) => `    ${program(s, "    ")},`).join("\n")}\n  ],`,
    `  eval: ${program(plan.eval, "  ")},`,
    `  limits: ${inline(plan.limits)},`,
    "};",
    "",
  ].join("\n");
  // Laid out as written (indentation is built into the lines above).
  return { text: m.header + body, plan };
}
