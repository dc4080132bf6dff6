// const: a tensor filled with one scalar; shape and dtype live in the node.
import { full } from "../ir/tensor.ts";
import { IRError } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { lit } from "./wgsl.ts";

/** A JS literal for v that is valid wherever an operand may appear: negative
 * values are parenthesised (`a - -1` is fine, but `--1` is a decrement and
 * `x ** -1`-style contexts need parens), -0 keeps its sign, and NaN/Infinity
 * are the global names. String(v) is the shortest round-trip form (1e-7). */
export function numLit(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "(-Infinity)";
  if (Object.is(v, -0)) return "(-0)";
  return v < 0 ? `(${String(v)})` : String(v);
}

export const constant = defineOp({
  name: "const",
  infer: () => {
    throw new IRError("const nodes carry their own type: build them with Builder.constant");
  },
  vjp: () => [],
  evaluate: (_ins, n) => full(n.shape, n.dtype, n.attrs.value),
  ts: { kind: "elementwise", expr: (_a, n) => numLit(n.attrs.value) },
  // e.index keeps the Infinity/NaN constructions out of const-expressions.
  wgsl: { kind: "elementwise", expr: (_a, n, e) => lit(n.attrs.value, n.dtype, e.index) },
});
