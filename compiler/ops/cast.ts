// cast: elementwise dtype conversion (float -> i32 truncates toward zero,
// anything -> bool is "nonzero", bool -> number is 0/1).
import type { DType } from "../ir/types.ts";
import { isFloat } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";
import { isNan } from "./wgsl.ts";

function convert(to: DType): (a: number) => number {
  if (to === "bool") return (a) => (a !== 0 ? 1 : 0);
  // Math.trunc, not |0: NaN and out-of-range values are left to the Int32Array
  // store, the same in the evaluator and the generated code.
  if (to === "i32") return Math.trunc;
  return (a) => a;
}

export const cast = defineOp({
  name: "cast",
  infer: (ins, { to }) => inferSame("cast", ins, 1, { dtype: to }),
  // Float to float passes the cotangent back in the input's precision; any
  // cast from or to an integer/bool is piecewise constant (no gradient).
  vjp: (b, n, ct) => {
    const from = b.dtype(n.inputs[0]!);
    return isFloat(from) && isFloat(n.attrs.to) ? [b.cast(ct, from)] : [null];
  },
  evaluate: ([x], n) => evalUnary(x!, convert(n.attrs.to), n.attrs.to),
  ts: {
    kind: "elementwise",
    expr: ([a], n) => {
      const to = n.attrs.to;
      if (to === "bool") return `(${a} !== 0 ? 1 : 0)`;
      if (to === "i32") return `Math.trunc(${a})`;
      return a!;
    },
  },
  wgsl: {
    kind: "elementwise",
    expr: ([a], n) => {
      const to = n.attrs.to;
      // `0` is an abstract int, converted to the source's type (f32/i32/u32).
      if (to === "bool") return `select(0u, 1u, ${a} != 0)`;
      // i32(f32) truncates toward zero like Math.trunc. NaN is made 0 as the
      // Int32Array store makes it (llvmpipe gives -2^31). The source is f32
      // or bool (0/1, never NaN-like bits): Builder.cast drops i32 -> i32.
      // Not mirrored: out of range, WGSL saturates where the store wraps.
      if (to === "i32") return `select(i32(${a}), 0i, ${isNan(a!)})`;
      return `f32(${a})`;
    },
  },
});
