// `compile`: a spec's text to a model's files and diagnostics, the part of
// the compiler's API (compiler/api.ts) that runs anywhere: nothing
// reachable from here imports a Node built-in, so the playground's worker
// compiles with the very code the CLI runs.
import type { ModelDescription } from "../runtime/compiled-model.ts";
import { compileSpec } from "./compile.ts";
import { type Diagnostic, diagnosticFromLoc, SpecError } from "./frontend/diagnostics.ts";
import { loadSpecText } from "./frontend/load.ts";
import type { LoadedSpec } from "./frontend/types.ts";
import { IRError } from "./ir/types.ts";
import { printProgram } from "./lower/print.ts";

/** Options of {@link compile}. */
export interface CompileOptions {
  /** How the spec is named in diagnostics and in the generated files'
   * comments (default "spec.yaml"): a path from the project root keeps
   * generated code the same on every machine. */
  readonly file?: string;
  /** Also print the lowered program every back end renders (what
   * `dlt-compile --dump-lowered` shows) into the result's `lowered`. */
  readonly lowered?: boolean;
  /** Graph names (e.g. a classifier's probabilities, `p_y_given_x`) that the
   * model's `evaluate` also writes per example into `out[name]`, listed in
   * the description's `outputs`: predictions from the compiled model. */
  readonly outputs?: readonly string[];
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
  /** The lowered program as text, when `options.lowered` asked for it. */
  readonly lowered?: string;
}

/** How a spec is named when the caller does not say. */
export const DEFAULT_FILE = "spec.yaml";

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
    const c = compileSpec(ls, options.outputs ? { outputs: options.outputs } : {});
    for (const w of c.warnings) warnings.push(diagnosticFromLoc(w.code, w.loc ?? { file, line: 1, col: 1 }, w.message));
    return { ok: true, model: c.name, files: c.files, diagnostics: warnings, description: c.desc, ...(options.lowered ? { lowered: printProgram(c.program) } : {}) };
  } catch (e) {
    return failed(e, file, ls.spec.model, warnings);
  }
}

/** The diagnostics an error of the compiler carries: a spec's errors
 * (SpecError) or an IR error located in the spec; null for anything else
 * (a bug, or a file system error). */
export function diagnosticsOf(e: unknown, file: string): readonly Diagnostic[] | null {
  if (e instanceof SpecError) return e.diagnostics;
  if (e instanceof IRError) {
    const d = diagnosticFromLoc(e.code, e.loc ?? { file, line: 1, col: 1 }, e.message);
    const related = e.related.map((r) => ({ line: r.loc.line, col: r.loc.col, message: r.message }));
    return [related.length ? { ...d, related } : d];
  }
  return null;
}

/** A result that is not ok, from the error that ended compiling (rethrown
 * when it is not a spec's problem). */
export function failed(e: unknown, file: string, model: string | null, warnings: readonly Diagnostic[]): CompileResult {
  const ds = diagnosticsOf(e, file);
  if (!ds) throw e;
  return { ok: false, model, files: new Map(), diagnostics: [...warnings, ...ds], description: null };
}

