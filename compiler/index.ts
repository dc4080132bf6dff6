// `dlt`: the compiler's API (compiler/api.ts). The runtime that generated
// code and trainers use is `dlt/runtime` (browser-safe) and
// `dlt/runtime/node`; the spec's JSON Schema is `dlt/schema.json`.
// Every name here is documented where it is declared (a test checks);
// docs/api.md describes them.

export { compile, writeModel, loadModel, checkGradients, exportOnnx } from "./api.ts";
export type { CompileOptions, CompileResult, LoadedModel, ExportOnnxOptions, OnnxModel } from "./api.ts";
export { formatDiagnostic } from "./frontend/diagnostics.ts";
export type { Diagnostic, Severity, RelatedLocation } from "./frontend/diagnostics.ts";
export type { GradCheckRow } from "./gradcheck/gradcheck.ts";
export { COMPILER_VERSION } from "./compile.ts";
