// sqrt: elementwise square root (NaN below 0).
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

export const sqrt = defineOp({
  name: "sqrt",
  infer: (ins) => inferSame("sqrt", ins, 1, { float: true }),
  // d sqrt(x) = dx / (2 sqrt(x)), from the output (infinite at 0, as it is).
  vjp: (b, n, ct) => [b.div(ct, b.mul(b.scalarLike(2, n.id), n.id))],
  evaluate: ([x]) => evalUnary(x!, Math.sqrt),
  ts: { kind: "elementwise", expr: ([a]) => `Math.sqrt(${a})` },
  wgsl: { kind: "elementwise", expr: ([a]) => `sqrt(${a})` },
  wasm: { expr: ([a]) => `(f32x4.sqrt ${a})` },
});
