// pow: elementwise a ** b (Math.pow semantics: negative base with a
// non-integer exponent is NaN).
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";
import { f32Lit, isNan } from "./wgsl.ts";

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
  // WGSL's pow is exp2(b * log2(a)), undefined for a <= 0 (llvmpipe gives 0
  // for pow(0, -1) and pow(NaN, 2)). Math.pow is mirrored case by case:
  // b = 0 gives 1 (even for a NaN base); otherwise a NaN operand gives NaN;
  // a zero base gives 0 or Infinity by the sign of b; a negative base gives
  // ±|a|^b for an integer b (negative for odd b; ±Infinity counts as even)
  // and NaN otherwise. Not mirrored: -0 as a base (JS: -Infinity for odd
  // b < 0) and pow(±1, ±Infinity) (JS: NaN), both left to the GPU's pow.
  wgsl: {
    kind: "elementwise",
    expr: ([a, b], _n, e) => {
      // Operands are repeated (an expression has no locals); pow itself once.
      const sign = `select(1.0f, -1.0f, ${a} < 0.0 && fract(${b} * 0.5) == 0.5)`;
      const nan = `(${a} < 0.0 && trunc(${b}) != ${b}) || ${isNan(a!)} || ${isNan(b!)}`;
      const zeroBase = `select(0.0f, ${f32Lit(Infinity, e.index)}, ${b} < 0.0)`;
      const r = `select(select(${sign} * pow(abs(${a}), ${b}), ${f32Lit(NaN, e.index)}, ${nan}), ${zeroBase}, ${a} == 0.0)`;
      return `select(${r}, 1.0f, ${b} == 0.0)`;
    },
  },
});
