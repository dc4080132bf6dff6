// specs/hmc.yaml, hmc.py's sampler test: a shorter seeded run reaches the
// target's moments within wide tolerances and hmc.py's acceptance; the
// recorded draws and the sampler's state (positions, step size, acceptance
// average, RNG position) resume bit-exactly mid-phase; the compile-time
// precision matrix inverts the covariance; CPU and WebGPU draw the same
// chains (identical Metropolis decisions); the CLI writes the samples, the
// trace and the tutorial's printout. The full 1,000 + 1,000 run is in
// docs/results.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { planWebGpu } from "../compiler/emit/wgsl/module.ts";
import { Model } from "../generated/hmc/model.ts";
import { decodeSafetensors } from "../runtime/checkpoint/safetensors.ts";
import type { CompiledModel, PhaseDesc } from "../runtime/compiled-model.ts";
import type { Split, Splits } from "../runtime/data/dataset.ts";
import { silentLogger } from "../runtime/progress.ts";
import { moments } from "../runtime/train/records.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import { createGpuModel } from "../runtime/webgpu/executor.ts";

const empty: Split = { x: new Float32Array(0), y: new Int32Array(0), n: 0, shape: [0], yShape: [] };
const NO_DATA: Splits = { train: empty, valid: empty, test: empty, source: "none" };
const scratch = mkdtempSync(join(tmpdir(), "dlt-hmc-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The model with its phases shortened to `burn` and `keep` draws. */
function shortened(burn: number, keep: number): CompiledModel {
  const m = new Model();
  const phases: PhaseDesc[] = m.desc.phases.map((p) => ({ ...p, draws: p.record ? keep : burn }));
  const desc = { ...m.desc, phases };
  return Object.assign(Object.create(Object.getPrototypeOf(m) as object) as CompiledModel, m, { desc });
}

const TARGET_MEAN = [6.96469186, 2.86139335, 2.26851454, 5.51314769, 7.1946897];
const TARGET_COV = [
  [1.0, 0.66197111, 0.71141257, 0.55766643, 0.35753822],
  [0.66197111, 1.0, 0.31053199, 0.45455485, 0.37991646],
  [0.71141257, 0.31053199, 1.0, 0.62800335, 0.38004541],
  [0.55766643, 0.45455485, 0.62800335, 1.0, 0.50807871],
  [0.35753822, 0.37991646, 0.38004541, 0.50807871, 1.0],
];

describe("hmc.yaml: the tutorial's sampler test, shortened", () => {
  it("400 burn-in + 400 kept draws: moments within 0.3, acceptance near 0.9, step size adapted", async () => {
    const store = new MemoryRunStore();
    const m = shortened(400, 400);
    await runTraining(m, NO_DATA, store, { log: silentLogger });
    const file = decodeSafetensors(store.files.get("samples.safetensors")!, "samples.safetensors");
    const t = file.tensors.get("samples")!;
    expect(t.shape).toEqual([400, 3, 5]);
    const { mean, cov } = moments(t.data as Float32Array, 5);
    mean.forEach((v, j) => expect(Math.abs(v - TARGET_MEAN[j]!), `mean ${j}`).toBeLessThan(0.3));
    cov.forEach((row, a) => row.forEach((v, b) => expect(Math.abs(v - TARGET_COV[a]![b]!), `cov ${a},${b}`).toBeLessThan(0.3)));
    const rate = m.state.avg_acceptance_rate![0]!;
    expect(rate).toBeGreaterThan(0.8);
    expect(rate).toBeLessThan(0.97);
    // From 0.001 up to the size that holds the acceptance near 0.9.
    expect(m.state.stepsize![0]!).toBeGreaterThan(0.1);
    expect(m.state.stepsize![0]!).toBeLessThanOrEqual(0.5);
    expect(store.files.has("samples_trace.png")).toBe(false); // no encoder given: skipped, with a notice
  });

  it("the precision matrix is the covariance's inverse (compile time, f64)", () => {
    const init = new Model().desc.state.find((s) => s.name === "cov_inv")!.init;
    if (init.kind !== "values") throw new Error(`cov_inv is initialised by ${init.kind}`);
    const inv = init.values;
    for (let i = 0; i < 5; i++) {
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 5; k++) s += TARGET_COV[i]![k]! * inv[k * 5 + j]!;
        expect(s).toBeCloseTo(i === j ? 1 : 0, 5);
      }
    }
  });

  it("--resume mid-phase is bit-exact: positions, step size, acceptance, recorded draws", async () => {
    const straight = shortened(30, 40);
    const a = new MemoryRunStore();
    await runTraining(straight, NO_DATA, a, { log: silentLogger });
    // Stopped inside the burn-in, then inside the recorded phase.
    const b = new MemoryRunStore();
    await runTraining(shortened(30, 40), NO_DATA, b, { maxSteps: 17, log: silentLogger });
    await runTraining(shortened(30, 40), NO_DATA, b, { resume: true, maxSteps: 52, log: silentLogger });
    const resumed = shortened(30, 40);
    await runTraining(resumed, NO_DATA, b, { resume: true, log: silentLogger });
    for (const s of straight.desc.state) expect(resumed.state[s.name], s.name).toEqual(straight.state[s.name]);
    expect(b.files.get("samples.safetensors")).toEqual(a.files.get("samples.safetensors"));
  });
});

describe("hmc.yaml on WebGPU", () => {
  it("draws the same chains as the CPU: 60 draws, identical Metropolis decisions", async () => {
    const c = compileSpec(loadSpec("specs/hmc.yaml"));
    const { device } = await acquireDevice();
    const gpu = await createGpuModel(c.desc, planWebGpu(c.steps, c.evalGraph), device);
    const cpu = new Model();
    // Same start: the trainer's initialisation, copied over.
    const store = new MemoryRunStore();
    await runTraining(cpu, NO_DATA, store, { maxSteps: 0, log: silentLogger });
    for (const s of c.desc.state) gpu.state[s.name]!.set(cpu.state[s.name]!);
    gpu.upload?.();
    const rates: [number[], number[]] = [[], []];
    for (let step = 0; step < 60; step++) {
      rates[0].push(cpu.trainStep(0, {}, step) as number);
      rates[1].push(await gpu.trainStep(0, {}, step));
    }
    await gpu.download?.();
    // The acceptance average moves by 0.1·(accepted/3) a draw: one decision
    // taken differently would shift it by 0.033; f32 rounding does not.
    rates[1].forEach((r, k) => expect(Math.abs(r - rates[0][k]!), `draw ${k}`).toBeLessThan(1e-5));
    const pos = [cpu.state.position!, gpu.state.position!];
    for (let i = 0; i < 15; i++) expect(Math.abs(pos[1]![i]! - pos[0]![i]!)).toBeLessThan(1e-3);
    expect(gpu.state.stepsize![0]).toBeCloseTo(cpu.state.stepsize![0]!, 6);
  }, 120_000);
});

describe("dlt-train specs/hmc.yaml", () => {
  it("prints the tutorial's figures and writes the samples and their trace", () => {
    const out = join(scratch, "run");
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "dlt-train.mjs"), "specs/hmc.yaml", "--out", out], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const text = r.stdout + r.stderr;
    expect(text).toMatch(/target mean: +\[ +6\.9647 +2\.8614 +2\.2685 +5\.5131 +7\.1947\]/);
    expect(text).toMatch(/empirical mean: +\[/);
    expect(text).toMatch(/empirical cov: +\[/);
    expect(text).toMatch(/final stepsize: 0\.\d+/);
    expect(text).toMatch(/final avg_acceptance_rate: 0\.9\d+/);
    expect(existsSync(join(out, "samples.safetensors"))).toBe(true);
    const png = readFileSync(join(out, "samples_trace.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
  }, 120_000);
});
