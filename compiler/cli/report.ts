// Turns every error the compiler can raise into `file:line:col error[Ennn]:`
// diagnostics on stderr, never a stack trace. Anything unexpected is reported
// as an internal compiler error with a request to file an issue.

import { SpecFileError } from "./files.ts";
import { topLevelError } from "../../runtime/node/errors.ts";
import { diagnosticsOf } from "../compile-text.ts";
import { formatDiagnostic } from "../frontend/diagnostics.ts";

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
