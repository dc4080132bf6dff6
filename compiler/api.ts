// The compiler's programmatic API, as the package's main entry (`dlt`,
// compiler/index.ts) exports it: compile a spec's text to files and
// diagnostics, write a model's folder, load a compiled model into a running
// Node program, check gradients, export ONNX. No function here exits the
// process or prints; a spec's errors come back as diagnostics, anything
// else as a rejected promise or a thrown Error. The command-line tools
// (compiler/cli/) are a layer over these.
import { join, resolve } from "node:path";
import type { ModelConstructor, ModelDescription } from "../runtime/compiled-model.ts";
import { decodeSaved } from "../runtime/checkpoint/state.ts";
import type { GpuPlan } from "../runtime/webgpu/plan.ts";
import { removeObsolete, writeFiles } from "./cli/files.ts";
import { importGenerated } from "./cli/import-generated.ts";
import { diagnosticsOf } from "./cli/report.ts";
import { compileSpec } from "./compile.ts";
import { inferenceOnnx } from "./emit/onnx/inference.ts";
import { type Diagnostic, diagnosticFromLoc } from "./frontend/diagnostics.ts";
import { loadSpecText } from "./frontend/load.ts";
import type { LoadedSpec } from "./frontend/types.ts";
import { checkSpecGradients } from "./gradcheck/gradcheck.ts";
import type { GradCheckRow } from "./gradcheck/gradcheck.ts";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** How the spec is named in diagnostics and in the generated files'
   * comments (default "spec.yaml"): a path from the project root keeps
   * generated code the same on every machine. */
  readonly file?: string;
}

/** What {@link compile} made of a spec. */
export interface CompileResult {
  /** No error among the diagnostics: `files` holds the model. */
  readonly ok: boolean;
  /** The spec's `model:` name (the generated folder's usual name); null
   * when the spec did not get that far. */
  readonly model: string | null;
  /** File name → contents of the model's folder (model.ts, webgpu.ts,
   * train.ts, loops-wasm.ts, loops.wat); empty when not ok. */
  readonly files: ReadonlyMap<string, string>;
  /** Errors (`E0nn`) and warnings (`W0nn`), each located at a line and
   * column of the spec; `formatDiagnostic` prints one as the CLI does. */
  readonly diagnostics: readonly Diagnostic[];
  /** The model's description (parameters, inputs, phases, metrics) as the
   * runtime reads it; null when not ok. */
  readonly description: ModelDescription | null;
}

const DEFAULT_FILE = "spec.yaml";

/** Parses, validates and compiles a spec's YAML text. Never throws for a
 * problem of the spec: those are diagnostics of a result that is not ok.
 * Throws only for a bug of the compiler (an "internal compiler error").
 *
 * @example
 * const r = compile(readFileSync("my-net.yaml", "utf8"), { file: "my-net.yaml" });
 * for (const d of r.diagnostics) console.error(formatDiagnostic(d));
 * if (r.ok) writeModel("src/generated/my-net", r.files);
 */
export function compile(specText: string, options: CompileOptions = {}): CompileResult {
  const file = options.file ?? DEFAULT_FILE;
  let ls: LoadedSpec;
  try {
    ls = loadSpecText(specText, file);
  } catch (e) {
    return failed(e, file, null, []);
  }
  const warnings: Diagnostic[] = [...(ls.warnings ?? [])];
  try {
    const c = compileSpec(ls);
    for (const w of c.warnings) warnings.push(diagnosticFromLoc(w.code, w.loc ?? { file, line: 1, col: 1 }, w.message));
    return { ok: true, model: c.name, files: c.files, diagnostics: warnings, description: c.desc };
  } catch (e) {
    return failed(e, file, ls.spec.model, warnings);
  }
}

function failed(e: unknown, file: string, model: string | null, warnings: readonly Diagnostic[]): CompileResult {
  const ds = diagnosticsOf(e, file);
  if (!ds) throw e;
  return { ok: false, model, files: new Map(), diagnostics: [...warnings, ...ds], description: null };
}

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
