// Training throughput of the generated trainers, per backend: examples/s
// over several timed repeats after a warm-up, with median and spread.
//   npm run bench                      # cpu
//   npm run bench -- --backend webgpu  # WebGPU (llvmpipe without a GPU: a smoke test only)
//   npm run bench -- --backend cpu,webgpu --models mlp --steps 200 --repeats 5
// Not a test: nothing is asserted; the figures go in docs/performance.md.

import { loadDataset } from "../runtime/node/datasets.ts";
import type { Batch, CompiledModel } from "../runtime/model.ts";
import { acquireDevice } from "../runtime/node/webgpu.ts";
import { BatchIterator } from "../runtime/data/batcher.ts";
import { initModel } from "../runtime/train/model-ops.ts";
import { createGpuModel } from "../runtime/webgpu/executor.ts";
import type { GpuPlan } from "../runtime/webgpu/plan.ts";

const MODELS = ["logreg", "mlp"] as const;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function makeModel(name: string, backend: string): Promise<CompiledModel> {
  const { Model } = (await import(`../generated/${name}/model.ts`)) as { Model: new () => CompiledModel };
  const cpu = new Model();
  if (backend === "cpu") return cpu;
  const { plan } = (await import(`../generated/${name}/webgpu.ts`)) as { plan: GpuPlan };
  const { device } = await acquireDevice();
  return createGpuModel(cpu.desc, plan, device);
}

async function main(): Promise<void> {
  const backends = arg("backend", "cpu").split(",");
  const models = arg("models", MODELS.join(",")).split(",");
  const repeats = Number(arg("repeats", "5"));
  const rows: string[] = [];
  for (const name of models) {
    for (const backend of backends) {
      const model = await makeModel(name, backend);
      initModel(model);
      model.upload?.();
      const splits = await loadDataset(model.desc.data, { inputs: model.desc.inputs, seed: model.desc.seed });
      const it = new BatchIterator(splits.train, model.desc.inputs, model.desc.data.batchSize, { shuffle: false, seed: 1 });
      const steps = Number(arg("steps", String(Math.max(20, Math.round(20000 / model.desc.data.batchSize / (backend === "cpu" ? 1 : 10))))));
      it.setEpoch(0);
      let k = 0;
      const next = (): Batch => it.fill(k++ % it.numBatches);
      for (let s = 0; s < Math.max(5, steps / 5); s++) await model.trainStep(0, next(), s); // warm-up
      const rates: number[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        for (let s = 0; s < steps; s++) await model.trainStep(0, next(), s);
        rates.push((steps * model.desc.data.batchSize) / ((performance.now() - t0) / 1000));
      }
      rates.sort((a, b) => a - b);
      const med = rates[Math.floor(rates.length / 2)]!;
      rows.push(`| ${name} | ${backend} | ${model.desc.data.batchSize} | ${med.toFixed(0)} | ${rates[0]!.toFixed(0)}–${rates[rates.length - 1]!.toFixed(0)} | ${steps}×${repeats} |`);
      process.stderr.write(`${name}/${backend}: ${med.toFixed(0)} examples/s\n`);
    }
  }
  process.stdout.write(["| model | backend | batch | examples/s (median) | min–max | steps×repeats |", "| --- | --- | --- | --- | --- | --- |", ...rows].join("\n") + "\n");
  process.exit(0);
}

await main();
