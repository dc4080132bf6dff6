// Prints a gradient-check table; shared by dlt-compile and dlt-train.
import type { GradCheckRow } from "../gradcheck/gradcheck.ts";

export function printGradCheck(rows: readonly GradCheckRow[]): boolean {
  for (const r of rows) {
    process.stdout.write(
      `${r.ok ? "ok  " : "FAIL"} ${r.phase}/${r.param}: finite difference ${r.numeric.toExponential(6)}, derived ${r.analytic.toExponential(6)}, relative error ${r.relErr.toExponential(2)}\n`,
    );
  }
  return rows.every((r) => r.ok);
}
