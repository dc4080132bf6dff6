// add: elementwise a + b.
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";

export const add = defineOp({
  name: "add",
  infer: (ins) => inferSame("add", ins, 2),
  // d(a+b) = da + db: the cotangent flows unchanged to both operands.
  vjp: (_b, _n, ct) => [ct, ct],
  evaluate: ([x, y]) => evalBinary(x!, y!, (a, b) => a + b),
  ts: { kind: "elementwise", expr: ([a, b]) => `(${a} + ${b})` },
  wgsl: { kind: "elementwise", expr: ([a, b]) => `(${a} + ${b})` },
  wasm: { expr: ([a, b]) => `(f32x4.add ${a} ${b})` },
});
