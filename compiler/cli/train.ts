// dlt-train SPEC [--data DIR] [--resume] [--epochs N | [N,]PHASE=N,...] [--steps N] [--out DIR] [--quiet] [--check-grad] [--backend cpu|webgpu]
// Compiles the spec when generated/<model>/ is missing or stale, then runs the
// generated model on the runtime's trainer.
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { checkSpecGradients } from "../gradcheck/gradcheck.ts";
import { compileSpec } from "../compile.ts";

import type { CompiledModel } from "../../runtime/compiled-model.ts";
import { optionsHelp, parseBackend, runMain, TRAIN_OPTIONS } from "../../runtime/node/main.ts";
import { acquireDevice, NoGpuError } from "../../runtime/node/webgpu.ts";
import { debugRequested, topLevelError } from "../../runtime/node/errors.ts";
import { createGpuModel, GpuPlanError } from "../../runtime/webgpu/executor.ts";
import type { GpuPlan } from "../../runtime/webgpu/plan.ts";
import { displayPath, generatedDir, loadSpecFile, staleFiles, writeFiles } from "./files.ts";
import { printGradCheck } from "./check-grad-print.ts";
import { report } from "./report.ts";

const HELP = `usage: dlt-train SPEC.yaml [options]
Compiles the spec when generated/<model>/ is missing or stale, then trains it.
options:
${optionsHelp([...TRAIN_OPTIONS.slice(0, -1), ["--check-grad", "check the spec's derived gradients by finite differences (f64) instead of training"], ["--debug", "print the stack of an internal error"], TRAIN_OPTIONS.at(-1)!])}`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const file = argv.find((a) => a.endsWith(".yaml") || a.endsWith(".yml"));
  if (!file) {
    process.stderr.write(`dlt-train: no spec given\n${HELP}\n`);
    return 2;
  }
  const shown = displayPath(file);
  let model: CompiledModel;
  try {
    const ls = loadSpecFile(file);
    if (argv.includes("--check-grad")) {
      process.stdout.write(`# gradient check of ${shown} (f64, central differences on a random projection)\n`);
      return printGradCheck(checkSpecGradients(ls)) ? 0 : 1;
    }
    const c = compileSpec(ls);
    for (const w of c.warnings) if (parseBackend(argv) === "webgpu") process.stderr.write(`${w.loc ? `${w.loc.file}:${w.loc.line}:${w.loc.col}` : shown} warning[${w.code}]: ${w.message}\n`);
    const dir = generatedDir(c.name);
    if (staleFiles(dir, c.files).length > 0) {
      writeFiles(dir, c.files);
      process.stderr.write(`compiled ${shown} → generated/${c.name}/\n`);
    }
    if (parseBackend(argv) === "webgpu") {
      const gpu = (await import(pathToFileURL(join(dir, "webgpu.ts")).href)) as { plan: GpuPlan };
      const acquired = await acquireDevice();
      process.stderr.write(`webgpu: ${acquired.description}\n`);
      model = await createGpuModel(c.desc, gpu.plan, acquired.device);
    } else {
      const mod = (await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel };
      model = new mod.Model();
    }
  } catch (e) {
    if (e instanceof NoGpuError || e instanceof GpuPlanError) {
      process.stderr.write(`dlt-train: ${e.message}\n`);
      return 1;
    }
    return report(e, shown);
  }
  return runMain(model, argv.filter((a) => a !== file));
}

const argv = process.argv.slice(2);
try {
  process.exitCode = await main(argv.filter((a) => a !== "--debug"));
} catch (e) {
  const { line, status } = topLevelError("dlt-train", e, debugRequested(argv));
  process.stderr.write(`${line}\n`);
  process.exitCode = status;
}
