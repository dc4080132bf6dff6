import { loadSpec } from "./compiler/spec/load.ts";
import { SpecError, formatDiagnostic } from "./compiler/spec/diagnostics.ts";
for (const f of process.argv.slice(2)) {
  try { const l = loadSpec(f); console.log(f, "OK", (l.warnings ?? []).map(w => formatDiagnostic(w)).join("\n")); }
  catch (e) { if (e instanceof SpecError) console.log(e.diagnostics.map(d => formatDiagnostic(d)).join("\n\n")); else throw e; }
}
