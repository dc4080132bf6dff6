// Numbers in generated TypeScript: every number from a spec or the IR that
// reaches generated code goes through `tsLiteral` (or, for plain data in the
// model description, through module.ts's `literal`, which uses it too).
//
// An f32 value prints as the shortest decimal that rounds to the same f32
// (`0.01`, not `0.009999999776482582`), so code reads as the spec wrote it.
// Trap: that decimal is a different double. Fused loops in JavaScript
// compute in doubles and round on the store, so the literal's double is what
// they multiply by; it is the spec's number, which is the intended one.

import { shortestF32 } from "../../ir/f32.ts";
import type { DType } from "../../ir/types.ts";

/** A literal valid wherever an operand may appear: negatives and -0 are
 * parenthesised (`a - -1` would be fine, `--1` is a decrement), NaN and the
 * infinities are the global names. */
export function tsLiteral(v: number, dtype: DType): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "(-Infinity)";
  if (Object.is(v, -0)) return "(-0)";
  const s = dtype === "f32" ? shortestF32(v) : String(v);
  return v < 0 ? `(${s})` : s;
}
