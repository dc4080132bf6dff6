// The compiler's programmatic API, as the package's main entry (`dlt`,
// compiler/index.ts) exports it: compile a spec's text to files and
// diagnostics, write a model's folder, load a compiled model into a running
// Node program, check gradients, export ONNX. No function here exits the
// process or prints; a spec's errors come back as diagnostics, anything
// else as a rejected promise or a thrown Error. The command-line tools
// (compiler/cli/) are a layer over these. `compile` itself lives in
// ./compile-text.ts, which a page can bundle.

import { join, resolve } from "node:path";
import type { ModelConstructor, ModelDescription } from "../runtime/compiled-model.ts";
import { decodeSaved } from "../runtime/checkpoint/state.ts";
import type { GpuPlan } from "../runtime/webgpu/plan.ts";
import { removeObsolete, writeFiles } from "./cli/files.ts";
import { importGenerated } from "./cli/import-generated.ts";
import { compileSpec } from "./compile.ts";
import { DEFAULT_FILE, failed } from "./compile-text.ts";
import type { CompileOptions } from "./compile-text.ts";
import { inferenceOnnx } from "./emit/onnx/inference.ts";
import type { Diagnostic } from "./frontend/diagnostics.ts";
import { loadSpecText } from "./frontend/load.ts";
import { checkSpecGradients } from "./gradcheck/gradcheck.ts";
import type { GradCheckRow } from "./gradcheck/gradcheck.ts";

export { compile } from "./compile-text.ts";
export type { CompileOptions, CompileResult } from "./compile-text.ts";

/** Writes a model's files into `dir` (created if missing), each atomically,
 * and removes files an earlier compile wrote there that this one no longer
 * makes (recognised by their generated header; other files are left). */
export function writeModel(dir: string, files: ReadonlyMap<string, string>): void {
  writeFiles(dir, files);
  removeObsolete(dir, files);
}

/** A compiled model's folder, loaded into this Node process. */
export interface LoadedModel {
  readonly description: ModelDescription;
  /** `new Model()` is the model on the CPU (WebAssembly kernels). */
  readonly Model: ModelConstructor;
  /** The WebGPU program: `createGpuModel(description, plan, device)` from
   * `dlt/runtime` runs it (a plan with `unsupported` set says why there is
   * none). */
  readonly plan: GpuPlan;
}

/** Loads the model compiled into `dir` (model.ts, webgpu.ts) into this
 * process, with no TypeScript loader needed: the files are bundled in
 * memory (esbuild) against the same `dlt/runtime` modules this package
 * runs, so a model from here and the trainer share one runtime.
 *
 * @example
 * const { description, Model } = await loadModel("src/generated/my-net");
 * await train(new Model(), await loadData(description), { outDir: "runs/my-net" }); // dlt/runtime/node
 */
export async function loadModel(dir: string): Promise<LoadedModel> {
  const { description, Model } = await importGenerated<{ description: ModelDescription; Model: ModelConstructor }>(join(resolve(dir), "model.ts"));
  const { plan } = await importGenerated<{ plan: GpuPlan }>(join(resolve(dir), "webgpu.ts"));
  return { description, Model, plan };
}

/** Checks every derived gradient of the spec (each phase's loss with
 * respect to each parameter, and every `grad()` the spec writes) against
 * central finite differences in f64 on a random projection. Resolves to a
 * row per check (`ok` false where the relative error exceeds the
 * tolerance), or the spec's diagnostics when it does not compile. */
export function checkGradients(specText: string, options: CompileOptions = {}): { readonly rows: readonly GradCheckRow[]; readonly diagnostics: readonly Diagnostic[] } {
  const file = options.file ?? DEFAULT_FILE;
  try {
    return { rows: checkSpecGradients(loadSpecText(specText, file)), diagnostics: [] };
  } catch (e) {
    return { rows: [], diagnostics: failed(e, file, null, []).diagnostics };
  }
}

/** Options of {@link exportOnnx}. */
export interface ExportOnnxOptions extends CompileOptions {
  /** Graph names to output (default: the probabilities the spec's metrics read). */
  readonly outputs?: readonly string[];
  /** A static batch size (default "dynamic": a run-time `batch` dimension). */
  readonly batch?: number | "dynamic";
  /** Names the checkpoint in error messages and the model's doc string. */
  readonly checkpointName?: string;
}

/** What {@link exportOnnx} made: the model file's bytes, its input and
 * output names, and the batch size it was exported with ("dynamic", or the
 * spec's own when its shapes fix one). */
export interface OnnxModel {
  readonly bytes: Uint8Array;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly batch: number | "dynamic";
}

/** The spec's inference graph (dropout off) with the parameters of a saved
 * file of it (a run's best.safetensors or checkpoint.safetensors) as an
 * ONNX model (opset 18), as `dlt-export` writes it. Throws a SpecError for
 * a spec that does not compile, a CheckpointError for a file that is not
 * this spec's, and an IRError (E070) for a graph ONNX cannot express. */
export function exportOnnx(specText: string, checkpoint: Uint8Array, options: ExportOnnxOptions = {}): OnnxModel {
  const file = options.file ?? DEFAULT_FILE;
  const ls = loadSpecText(specText, file);
  const c = compileSpec(ls);
  const name = options.checkpointName ?? "checkpoint";
  const saved = decodeSaved(checkpoint, name, c.desc);
  const values = new Map([...saved.params, ...(saved.state ?? [])]);
  return inferenceOnnx(ls, values, {
    ...(options.outputs ? { outputs: [...options.outputs] } : {}),
    batch: options.batch ?? "dynamic",
    doc: `${file} (spec hash ${c.desc.specHash}), parameters from ${name}`,
  });
}
