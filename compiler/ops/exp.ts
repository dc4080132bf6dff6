// exp: elementwise e^a.
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

export const exp = defineOp({
  name: "exp",
  infer: (ins) => inferSame("exp", ins, 1, { float: true }),
  // d e^x = e^x dx: reuse the output instead of recomputing exp.
  vjp: (b, n, ct) => [b.mul(ct, n.id)],
  evaluate: ([x]) => evalUnary(x!, Math.exp),
  ts: { kind: "elementwise", expr: ([a]) => `Math.exp(${a})` },
  wgsl: { kind: "elementwise", expr: ([a]) => `exp(${a})` },
  // Polynomial with range reduction (compiler/emit/wasm/mathf.ts), within 2 ulp.
  wasm: { expr: ([a]) => `(call $exp4 ${a})` },
});
