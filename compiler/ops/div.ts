// div: elementwise a / b (IEEE: x/0 is ±Infinity or NaN, no trap).
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";

export const div = defineOp({
  name: "div",
  infer: (ins) => inferSame("div", ins, 2, { float: true }),
  // d(a/b) = da/b - (a/b^2) db. The second term reuses y = a/b as -ct*y/b,
  // which saves a multiply and never squares b (no early overflow).
  vjp: (b, n, ct) => {
    const den = n.inputs[1]!;
    return [b.div(ct, den), b.neg(b.div(b.mul(ct, n.id), den))];
  },
  evaluate: ([x, y]) => evalBinary(x!, y!, (a, b) => a / b),
  ts: { kind: "elementwise", expr: ([a, b]) => `(${a} / ${b})` },
  wgsl: { kind: "elementwise", expr: ([a, b]) => `(${a} / ${b})` },
  wasm: { expr: ([a, b]) => `(f32x4.div ${a} ${b})` },
});
