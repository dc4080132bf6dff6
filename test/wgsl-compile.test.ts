// Every generated WGSL module compiles without a single message (a shader
// that fails to compile is a compiler bug), every kernel fits WebGPU's
// default limits, and plans too wide for one kernel are split.

import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compileSpec } from "../compiler/compile.ts";
import { DEFAULT_LIMITS } from "../compiler/emit/wgsl/render.ts";
import { planWebGpu } from "../compiler/emit/wgsl/module.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import type { GpuPlan } from "../runtime/webgpu/plan.ts";

const files = [...readdirSync("specs").map((f) => `specs/${f}`), ...readdirSync("test/specs").filter((f) => f.endsWith(".yaml")).map((f) => `test/specs/${f}`)];

/** A graph entry summing nine parameters: more storage buffers than one kernel may bind. */
const WIDE = readFileSync("specs/logreg.yaml", "utf8")
  .replace("model: logreg", "model: wide")
  .replace("  b: { shape: [10], init: zeros }", ["  b: { shape: [10], init: zeros }", ...Array.from({ length: 9 }, (_, k) => `  c${k}: { shape: [600, 10], init: zeros }`)].join("\n"))
  .replace("softmax(x @ W + b)", `softmax(x @ W + b + ${Array.from({ length: 9 }, (_, k) => `c${k}`).join(" + ")})`);

async function compileAll(plan: GpuPlan): Promise<string[]> {
  const { device } = await acquireDevice();
  const problems: string[] = [];
  for (const k of plan.kernels) {
    const info = await device.createShaderModule({ code: k.wgsl, label: k.label }).getCompilationInfo();
    for (const m of info.messages) problems.push(`${k.label}: ${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  }
  return problems;
}

function checkLimits(plan: GpuPlan): void {
  for (const k of plan.kernels) {
    expect(k.bindings.filter((b) => b.access !== "uniform").length, k.label).toBeLessThanOrEqual(DEFAULT_LIMITS.maxStorageBuffersPerShaderStage);
    for (const w of k.workgroups) expect(w, k.label).toBeLessThanOrEqual(DEFAULT_LIMITS.maxComputeWorkgroupsPerDimension);
  }
}

describe("generated WGSL", () => {
  it.each(files)("%s: every kernel compiles with no message and fits the default limits", async (file) => {
    const c = compileSpec(loadSpecText(readFileSync(file, "utf8"), file));
    const plan = planWebGpu(c.steps, c.evalGraph);
    expect(plan.kernels.length).toBeGreaterThan(0);
    checkLimits(plan);
    expect(await compileAll(plan)).toEqual([]);
  });

  it("splits a fused chain that would bind more storage buffers than allowed", async () => {
    const c = compileSpec(loadSpecText(WIDE, "specs/wide.yaml"));
    const plan = planWebGpu(c.steps, c.evalGraph);
    checkLimits(plan);
    expect(await compileAll(plan)).toEqual([]);
  });

  it("shares buffers between temporaries whose lifetimes do not overlap", () => {
    const c = compileSpec(loadSpecText(readFileSync("specs/mlp.yaml", "utf8"), "specs/mlp.yaml"));
    const plan = planWebGpu(c.steps, c.evalGraph);
    const temps = plan.buffers.filter((b) => b.role === "temp").length;
    const kernelsWritingTemps = plan.kernels.filter((k) => plan.buffers[k.bindings[0]!.buffer]!.role === "temp").length;
    expect(temps).toBeLessThan(kernelsWritingTemps);
  });
});
