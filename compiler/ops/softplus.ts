// softplus: elementwise log(1 + e^a), the smooth relu.
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

/** max(x, 0) + log1p(e^-|x|): e^-|x| <= 1 never overflows, and log1p keeps
 * precision for large |x| where the naive log(1 + e^x) gives inf or 0. */
export function softplusStable(x: number): number {
  return Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

export const softplus = defineOp({
  name: "softplus",
  infer: (ins) => inferSame("softplus", ins, 1, { float: true }),
  // softplus' = sigmoid(x).
  vjp: (b, n, ct) => [b.mul(ct, b.unary("sigmoid", n.inputs[0]!))],
  evaluate: ([x]) => evalUnary(x!, softplusStable),
  ts: { kind: "elementwise", expr: ([a]) => `(Math.max(${a}, 0) + Math.log1p(Math.exp(-Math.abs(${a}))))` },
  // No log1p in WGSL: for |a| > 17, 1 + e^-|a| rounds to 1 in f32 and the
  // result is max(a, 0), off by less than 1e-7 absolute.
  wgsl: { kind: "elementwise", expr: ([a]) => `(max(${a}, 0.0) + log(1.0 + exp(-abs(${a}))))` },
  // The same form with log1p's correction (compiler/emit/wasm/mathf.ts).
  wasm: { expr: ([a]) => `(call $softplus4 ${a})` },
});
