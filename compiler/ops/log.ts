// log: elementwise natural logarithm (log 0 = -Infinity, log of a negative is NaN).
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

export const log = defineOp({
  name: "log",
  infer: (ins) => inferSame("log", ins, 1, { float: true }),
  vjp: (b, n, ct) => [b.div(ct, n.inputs[0]!)],
  evaluate: ([x]) => evalUnary(x!, Math.log),
  ts: { kind: "elementwise", expr: ([a]) => `Math.log(${a})` },
  wgsl: { kind: "elementwise", expr: ([a]) => `log(${a})` },
  // Cephes' logf vectorised (compiler/emit/wasm/mathf.ts), within 3 ulp.
  wasm: { expr: ([a]) => `(call $log4 ${a})` },
});
