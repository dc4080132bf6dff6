// sigmoid: elementwise logistic 1 / (1 + e^-a).
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

/** Stable logistic: only e^-|x| <= 1 is ever computed. For x < 0 the form
 * e^x / (1 + e^x) also keeps tiny results: 1/(1+e^-x) overflows e^-x below
 * x = -709 and returns 0 where a subnormal is still representable. */
export function sigmoidStable(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export const sigmoid = defineOp({
  name: "sigmoid",
  infer: (ins) => inferSame("sigmoid", ins, 1, { float: true }),
  // s' = s (1 - s), from the output.
  vjp: (b, n, ct) => [b.mul(ct, b.mul(n.id, b.sub(b.scalarLike(1, n.id), n.id)))],
  evaluate: ([x]) => evalUnary(x!, sigmoidStable),
  // In JS doubles exp(-a) overflowing to Infinity still gives 1/Infinity = 0,
  // the right limit, so the short form is safe in generated code.
  ts: { kind: "elementwise", expr: ([a]) => `(1 / (1 + Math.exp(-(${a}))))` },
  // In f32 exp(-a) overflows to inf below a = -88, and 1/inf = 0 is the limit.
  wgsl: { kind: "elementwise", expr: ([a]) => `(1.0 / (1.0 + exp(-(${a}))))` },
  // 1/(1 + e^-x) with the wasm exp: e^-x overflowing to inf gives the limit 0.
  wasm: { expr: ([a]) => `(call $sigmoid4 ${a})` },
});
