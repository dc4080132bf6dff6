// Writes generated/<model>/webgpu.ts: every WGSL kernel as a readable string
// constant (with the op and spec line it computes), and the plan the runtime's
// executor replays (buffers, kernels, command lists). Deterministic like the
// TypeScript output; the WGSL is compiled by every test run.

import { Project } from "ts-morph";
import type { Graph } from "../../ir/types.ts";
import type { GpuPlan } from "../../../runtime/webgpu/plan.ts";
import { literal } from "../ts/module.ts";
import { GpuPlanner } from "./planner.ts";

export interface WebGpuModuleInput {
  readonly steps: readonly Graph[];
  readonly evalGraph: Graph;
  readonly header: string;
}

/** WGSL never contains backticks or `${`, but escape anyway: nothing reaches
 * the generated file unescaped. */
function templateLiteral(s: string): string {
  return "`" + s.replace(/\\/g, "\\\\").replace(/`/g, "\\`").replace(/\$\{/g, "\\${") + "`";
}

export function planWebGpu(steps: readonly Graph[], evalGraph: Graph): GpuPlan {
  return new GpuPlanner().plan(steps, evalGraph);
}

/** All kernels as one WGSL listing for reading and review (each kernel is a
 * separate module at run time: webgpu.ts embeds the same text). */
export function wgslListing(plan: GpuPlan, header: string): string {
  const wgslHeader = header.replace(/^\/\/ Do not edit.*$/m, "// Do not edit: change the spec and run `npx dlt-compile` again. Each section below is a separate module.");
  return wgslHeader + plan.kernels.map((k, i) => `// ==== kernel ${i}: ${k.name} — workgroups ${k.workgroups.join("×")}\n${k.wgsl}`).join("\n");
}

export function emitWebGpuModule(m: WebGpuModuleInput): { text: string; plan: GpuPlan } {
  const plan = planWebGpu(m.steps, m.evalGraph);
  const consts = plan.kernels.map((k, i) => `// Kernel ${i}: ${k.label.replace(/[\r\n]/g, " ")}\nconst WGSL_${i} = ${templateLiteral(k.wgsl)};`);
  const kernels = plan.kernels.map(
    (k, i) => `{ name: ${JSON.stringify(k.name)}, label: ${JSON.stringify(k.label)}, wgsl: WGSL_${i}, bindings: ${literal(k.bindings, "    ")}, workgroups: ${literal(k.workgroups, "")} }`,
  );
  const body = [
    'import type { GpuPlan } from "../../runtime/webgpu/plan.ts";',
    "",
    ...consts,
    "",
    "/** Buffers, kernels and the command list of each step, replayed by runtime/webgpu/executor.ts. */",
    "export const plan: GpuPlan = {",
    `buffers: ${literal(plan.buffers, "  ")},`,
    `kernels: [\n${kernels.join(",\n")},\n],`,
    `steps: ${literal(plan.steps, "  ")},`,
    `eval: ${literal(plan.eval, "  ")},`,
    `limits: ${literal(plan.limits, "  ")},`,
    "};",
    "",
  ].join("\n");
  const project = new Project({ useInMemoryFileSystem: true });
  const sf = project.createSourceFile("webgpu.ts", body);
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true, ensureNewLineAtEndOfFile: true });
  return { text: m.header + sf.getFullText(), plan };
}
