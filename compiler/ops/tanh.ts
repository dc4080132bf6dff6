// tanh: elementwise hyperbolic tangent.
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";
import { isNan } from "./wgsl.ts";

export const tanh = defineOp({
  name: "tanh",
  infer: (ins) => inferSame("tanh", ins, 1, { float: true }),
  // d tanh(x) = (1 - tanh(x)^2) dx, reusing the forward output y = node.
  vjp: (b, n, ct) => {
    const one = b.scalarLike(1, n.id);
    return [b.mul(ct, b.sub(one, b.mul(n.id, n.id)))];
  },
  evaluate: ([x]) => evalUnary(x!, Math.tanh),
  ts: { kind: "elementwise", expr: ([a]) => `Math.tanh(${a})` },
  // llvmpipe's tanh clamps its argument, turning NaN into ±1.
  wgsl: { kind: "elementwise", expr: ([a]) => `select(tanh(${a}), ${a}, ${isNan(a!)})` },
  // Odd polynomial near 0, 1 − 2/(e^{2|x|}+1) beyond (compiler/emit/wasm/mathf.ts).
  wasm: { expr: ([a]) => `(call $tanh4 ${a})` },
});
