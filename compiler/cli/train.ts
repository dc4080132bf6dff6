// dlt-train SPEC [--data DIR] [--resume] [--epochs N | [N,]PHASE=N,...] [--steps N] [--out DIR] [--quiet] [--check-grad] [--backend cpu|webgpu]
// Compiles the spec when generated/<model>/ is missing or stale, then runs the
// generated model on the runtime's trainer.
import { readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { describeRun } from "../../runtime/compiled-model.ts";
import type { CompiledModel, ModelConstructor, ModelDescription } from "../../runtime/compiled-model.ts";
import { runEval } from "../../runtime/node/eval.ts";
import { optionsHelp, parseBackend, runMain, seedOption, TRAIN_OPTIONS } from "../../runtime/node/main.ts";
import { acquireDevice, NoGpuError } from "../../runtime/node/webgpu.ts";
import { debugRequested, topLevelError } from "../../runtime/node/errors.ts";
import { createGpuModel, GpuPlanError } from "../../runtime/webgpu/executor.ts";
import type { GpuPlan } from "../../runtime/webgpu/plan.ts";
import { freshStamp, writeStamp } from "./compiled-stamp.ts";
import { importGenerated } from "./import-generated.ts";

// The compiler (front end, ajv, emitters, wabt) is imported only when the
// spec must be compiled or gradient-checked: a start with current generated
// code (see ./compiled-stamp.ts) loads the runtime alone.

const HELP = `usage: dlt-train SPEC.yaml [options]
Compiles the spec when generated/<model>/ is missing or stale, then trains it.
options:
${optionsHelp([...TRAIN_OPTIONS.slice(0, -1), ["--generated DIR", "the model's compiled folder (default: the project's generated/<model>/), compiled there when missing or stale"], ["--check-grad", "check the spec's derived gradients by finite differences (f64) instead of training"], ["--debug", "print the stack of an internal error"], TRAIN_OPTIONS.at(-1)!])}`;

async function main(argv: string[]): Promise<number> {
  // dlt-eval (bin/dlt-eval.mjs) is this entry with --eval first: the same
  // compile-if-stale and model loading, then runtime/node/eval.ts.
  const evaluating = argv[0] === "--eval";
  if (evaluating) {
    argv = argv.slice(1);
    if (argv.includes("--help") || argv.includes("-h")) return runEval(undefined, argv);
  }
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const g = argv.indexOf("--generated");
  let generated: string | undefined;
  if (g >= 0) {
    generated = argv[g + 1];
    if (generated === undefined || generated.startsWith("-")) {
      process.stderr.write(`${evaluating ? "dlt-eval" : "dlt-train"}: --generated needs a folder\n`);
      return 2;
    }
    argv = [...argv.slice(0, g), ...argv.slice(g + 2)];
  }
  const file = argv.find((a) => a.endsWith(".yaml") || a.endsWith(".yml"));
  if (!file) {
    process.stderr.write(`${evaluating ? "dlt-eval" : "dlt-train"}: no spec given\n${evaluating ? "" : `${HELP}\n`}`);
    return 2;
  }
  const shown = file;
  let model: CompiledModel;
  const webgpu = parseBackend(argv) === "webgpu";
  try {
    if (argv.includes("--check-grad") && !evaluating) {
      const [{ loadSpecFile }, { checkSpecGradients }, { printGradCheck }] = await Promise.all([import("./files.ts"), import("../gradcheck/gradcheck.ts"), import("./check-grad-print.ts")]);
      const ls = loadSpecFile(file);
      process.stdout.write(`# gradient check of ${ls.file} (f64, central differences on a random projection)\n`);
      return printGradCheck(checkSpecGradients(ls)) ? 0 : 1;
    }
    let specText: string | undefined;
    try {
      specText = readFileSync(file, "utf8");
    } catch {
      // The compile path below reports it.
    }
    const fresh = specText === undefined ? undefined : freshStamp(file, specText);
    const stamp = fresh && (generated === undefined || fresh.dir === resolve(generated)) ? fresh : undefined;
    const dir = stamp?.dir ?? (await compileForTraining(file, specText, generated));
    if (webgpu) for (const line of stamp?.gpuWarnings ?? lastGpuWarnings) process.stderr.write(`${line}\n`);
    const { description, Model } = await importGenerated<{ description: ModelDescription; Model: ModelConstructor }>(join(dir, "model.ts"));
    // --seed builds the model with the run's seed (runMain checks it did).
    const seed = evaluating ? undefined : seedOption(argv);
    if (webgpu) {
      const gpu = await importGenerated<{ plan: GpuPlan }>(join(dir, "webgpu.ts"));
      const acquired = await acquireDevice();
      process.stderr.write(`webgpu: ${acquired.description}\n`);
      model = await createGpuModel(describeRun(description, { seed }), gpu.plan, acquired.device);
    } else {
      model = new Model({ seed });
    }
  } catch (e) {
    if (e instanceof NoGpuError || e instanceof GpuPlanError) {
      process.stderr.write(`dlt-train: ${e.message}\n`);
      return 1;
    }
    const { report } = await import("./report.ts");
    const { displayPath } = await import("./files.ts");
    return report(e, displayPath(shown));
  }
  const rest = argv.filter((a) => a !== file);
  return evaluating ? runEval(model, rest) : runMain(model, rest);
}

let lastGpuWarnings: string[] = [];

/** Compiles the spec, writes its folder (`generated`, else the project's
 * generated/<model>/) when it differs, stamps it; returns the folder. */
async function compileForTraining(file: string, specText: string | undefined, generated: string | undefined): Promise<string> {
  const [{ compile }, { SpecError }, { displayPath, generatedDir, readSpecFile, staleFiles, writeFiles }] = await Promise.all([
    import("../api.ts"),
    import("../frontend/diagnostics.ts"),
    import("./files.ts"),
  ]);
  const shown = displayPath(file);
  const text = specText ?? readSpecFile(file);
  const r = compile(text, { file: shown });
  if (!r.ok) throw new SpecError(r.diagnostics.filter((d) => d.severity === "error"));
  // The spec's own warnings are dlt-compile's to print; a missing WebGPU
  // program (W004) matters to --backend webgpu, which prints it (one line).
  lastGpuWarnings = r.diagnostics.filter((d) => d.code === "W004").map((d) => `${d.file}:${d.line}:${d.col} warning[${d.code}]: ${d.message}`);
  const dir = generated === undefined ? generatedDir(r.model!) : resolve(generated);
  if (staleFiles(dir, r.files).length > 0) {
    writeFiles(dir, r.files);
    process.stderr.write(`compiled ${shown} → ${relative(process.cwd(), dir) || "."}/\n`);
  }
  writeStamp(file, text, dir, r.files, lastGpuWarnings);
  return dir;
}

const argv = process.argv.slice(2);
try {
  process.exitCode = await main(argv.filter((a) => a !== "--debug"));
} catch (e) {
  const { line, status } = topLevelError("dlt-train", e, debugRequested(argv));
  process.stderr.write(`${line}\n`);
  process.exitCode = status;
}
