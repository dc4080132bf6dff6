// neg: elementwise -a.
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

export const neg = defineOp({
  name: "neg",
  infer: (ins) => inferSame("neg", ins, 1),
  vjp: (b, _n, ct) => [b.neg(ct)],
  evaluate: ([x]) => evalUnary(x!, (a) => -a),
  // Parenthesised operand: `-` before a literal like `-1` would read `--1`.
  ts: { kind: "elementwise", expr: ([a]) => `(-(${a}))` },
  wgsl: { kind: "elementwise", expr: ([a]) => `(-(${a}))` },
  wasm: { expr: ([a]) => `(f32x4.neg ${a})` },
});
