// minimum: elementwise min(a, b).
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";
import { isNan } from "./wgsl.ts";

export const minimum = defineOp({
  name: "minimum",
  infer: (ins) => inferSame("minimum", ins, 2),
  // The cotangent goes to the smaller operand; a tie goes to the first one.
  vjp: (b, n, ct) => {
    const [x, y] = n.inputs as [number, number];
    const first = b.compare("le", x, y);
    const zero = b.fill(0, ct);
    return [b.select(first, ct, zero), b.select(first, zero, ct)];
  },
  evaluate: ([x, y]) => evalBinary(x!, y!, Math.min),
  ts: { kind: "elementwise", expr: ([a, b]) => `Math.min(${a}, ${b})` },
  // WGSL's min is indeterminate on NaN (GPUs return the other operand), so
  // NaN is propagated explicitly for f32 (a + b is NaN when either is).
  wgsl: {
    kind: "elementwise",
    expr: ([a, b], n) => (n.dtype === "f32" || n.dtype === "f64" ? `select(min(${a}, ${b}), ${a} + ${b}, ${isNan(a!)} || ${isNan(b!)})` : `min(${a}, ${b})`),
  },
  // f32x4.min propagates NaN and orders -0 below +0, as Math.min does.
  wasm: { expr: ([a, b]) => `(f32x4.min ${a} ${b})` },
});
