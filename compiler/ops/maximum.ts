// maximum: elementwise max(a, b) (relu is maximum(x, 0)).
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";
import { isNan } from "./wgsl.ts";

export const maximum = defineOp({
  name: "maximum",
  infer: (ins) => inferSame("maximum", ins, 2),
  // The cotangent goes to the operand that won; a tie goes to the first one
  // only, as in Theano's Maximum.grad (so relu = maximum(x, 0) has slope 1
  // at 0, and the cotangent is never counted twice).
  vjp: (b, n, ct) => {
    const [x, y] = n.inputs as [number, number];
    const first = b.compare("ge", x, y);
    const zero = b.fill(0, ct);
    return [b.select(first, ct, zero), b.select(first, zero, ct)];
  },
  // Math.max propagates NaN, as numpy's maximum does.
  evaluate: ([x, y]) => evalBinary(x!, y!, Math.max),
  ts: { kind: "elementwise", expr: ([a, b]) => `Math.max(${a}, ${b})` },
  // WGSL's max is indeterminate on NaN (GPUs return the other operand), so
  // NaN is propagated explicitly for f32 (a + b is NaN when either is).
  wgsl: {
    kind: "elementwise",
    expr: ([a, b], n) => (n.dtype === "f32" || n.dtype === "f64" ? `select(max(${a}, ${b}), ${a} + ${b}, ${isNan(a!)} || ${isNan(b!)})` : `max(${a}, ${b})`),
  },
  // f32x4.max propagates NaN and orders -0 below +0, as Math.max does.
  wasm: { expr: ([a, b]) => `(f32x4.max ${a} ${b})` },
});
