// Cross-field checks of a schema-valid spec, as a table. Each check has one
// code and returns located diagnostics; `runChecks` runs them all over a shared
// context (parsed expressions, the names in scope, the reference list and the
// dependency graph). Shape and dtype rules that need the IR (E030–E049) are
// checked when the IR is built, not here.

import { type Diagnostic, sortDiagnostics } from "../diagnostics.ts";
import { type CheckedSpec, createContext, type SpecCheck } from "./context.ts";
import { classesOnFloat, definedTwice, uniformRange } from "./declarations.ts";
import { dropoutRate } from "./dropout.ts";
import { cycles, unusedEntry, unusedParam } from "./cycles-unused.ts";
import { imageFileClash, imageShape, imageTensor } from "./images.ts";
import { exprCheck, unknownTensor } from "./references.ts";
import { carryNotUpdated, scanBinding, scanLength } from "./scans.ts";
import { intAsProbs, labelsNotInt, monitorNotMetric, notAParam, notAState, unknownLoss } from "./training.ts";

export { createContext } from "./context.ts";
export type { At, CheckContext, CheckedSpec, ExprSite, Extra, NameDef, NameKind, Ref, RefRole, SpecCheck } from "./context.ts";

/** Every cross-field check, in the order they run. */
export const CHECKS: readonly SpecCheck[] = [
  exprCheck("E021", "expression syntax error"),
  exprCheck("E022", "unknown function"),
  exprCheck("E023", "wrong number of arguments"),
  exprCheck("E024", "integer literal required"),
  unknownTensor,
  definedTwice,
  cycles,
  unknownLoss,
  notAParam,
  notAState,
  labelsNotInt,
  intAsProbs,
  monitorNotMetric,
  scanLength,
  scanBinding,
  uniformRange,
  classesOnFloat,
  dropoutRate,
  imageTensor,
  imageShape,
  imageFileClash,
  unusedEntry,
  carryNotUpdated,
  unusedParam,
];

/** Runs every check; errors and warnings sorted by position. */
export function runChecks(ls: CheckedSpec, checks: readonly SpecCheck[] = CHECKS): Diagnostic[] {
  const ctx = createContext(ls);
  return sortDiagnostics(checks.flatMap((c) => c.run(ls, ctx)));
}
