// Turns every error the compiler can raise into `file:line:col error[Ennn]:`
// diagnostics on stderr, never a stack trace. Anything unexpected is reported
// as an internal compiler error with a request to file an issue.

import { IRError } from "../ir/types.ts";
import { SpecFileError } from "./files.ts";
import { topLevelError } from "../../runtime/node/errors.ts";
import { type Diagnostic, SpecError, diagnosticFromLoc, formatDiagnostic } from "../frontend/diagnostics.ts";

export function diagnosticsOf(e: unknown, file: string): readonly Diagnostic[] | null {
  if (e instanceof SpecError) return e.diagnostics;
  if (e instanceof IRError) {
    const d = diagnosticFromLoc(e.code, e.loc ?? { file, line: 1, col: 1 }, e.message);
    const related = e.related.map((r) => ({ line: r.loc.line, col: r.loc.col, message: r.message }));
    return [related.length ? { ...d, related } : d];
  }
  return null;
}

/** Prints the error and returns the exit code. */
export function report(e: unknown, file: string): number {
  const ds = diagnosticsOf(e, file);
  if (ds) {
    for (const d of ds) process.stderr.write(`${formatDiagnostic(d)}\n`);
    return 1;
  }
  if (e instanceof SpecFileError) {
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  const top = topLevelError("dlt-compile", e, false);
  if (top.status === 1) {
    // A filesystem error: the path and what to do, no stack.
    process.stderr.write(`${top.line}\n`);
    return 1;
  }
  const msg = e instanceof Error ? e.message : String(e);
  process.stderr.write(`${file}: internal compiler error: ${msg}\n  = note: this is a bug in dlt; please report it with the spec (run with --debug for the stack).\n`);
  if (process.env.DLT_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return 2;
}
