// abs: elementwise |a|.
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

export const abs = defineOp({
  name: "abs",
  infer: (ins) => inferSame("abs", ins, 1),
  // ct * sign(x), with sign(0) = 0 (Theano's sgn): the subgradient 0 at the
  // kink keeps L1 penalties from pushing exact zeros back and forth.
  vjp: (b, n, ct) => {
    const x = n.inputs[0]!;
    const zero = b.scalarLike(0, x);
    const neg = b.select(b.compare("lt", x, zero), b.neg(ct), b.fill(0, ct));
    return [b.select(b.compare("gt", x, zero), ct, neg)];
  },
  evaluate: ([x]) => evalUnary(x!, Math.abs),
  ts: { kind: "elementwise", expr: ([a]) => `Math.abs(${a})` },
  wgsl: { kind: "elementwise", expr: ([a]) => `abs(${a})` },
  wasm: { expr: ([a]) => `(f32x4.abs ${a})` },
});
