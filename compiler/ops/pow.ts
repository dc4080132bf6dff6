// pow: elementwise a ** b (Math.pow semantics: negative base with a
// non-integer exponent is NaN).
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";

export const pow = defineOp({
  name: "pow",
  infer: (ins) => inferSame("pow", ins, 2, { float: true }),
  vjp: (b, n, ct) => {
    const [x, e] = n.inputs as [number, number];
    // d/da = b a^(b-1), written with pow rather than b*y/a so a = 0 works
    // (x^2 at 0 has slope 0, not 0/0).
    const da = b.mul(ct, b.mul(e, b.pow(x, b.sub(e, b.scalarLike(1, e)))));
    // d/db = y log(a), only defined for a > 0. log runs on a guarded base
    // (1 where a <= 0, so log gives 0) instead of selecting after the log:
    // that way no NaN is ever computed, even in an unselected branch.
    const pos = b.compare("gt", x, b.scalarLike(0, x));
    const safe = b.select(pos, x, b.fill(1, x));
    const db = b.mul(ct, b.mul(n.id, b.unary("log", safe)));
    return [da, db];
  },
  evaluate: ([x, y]) => evalBinary(x!, y!, Math.pow),
  ts: { kind: "elementwise", expr: ([a, b]) => `Math.pow(${a}, ${b})` },
  wgsl: null,
});
