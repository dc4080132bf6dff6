// sub: elementwise a - b.
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";

export const sub = defineOp({
  name: "sub",
  infer: (ins) => inferSame("sub", ins, 2),
  vjp: (b, _n, ct) => [ct, b.neg(ct)],
  evaluate: ([x, y]) => evalBinary(x!, y!, (a, b) => a - b),
  ts: { kind: "elementwise", expr: ([a, b]) => `(${a} - ${b})` },
  wgsl: { kind: "elementwise", expr: ([a, b]) => `(${a} - ${b})` },
  wasm: { expr: ([a, b]) => `(f32x4.sub ${a} ${b})` },
});
