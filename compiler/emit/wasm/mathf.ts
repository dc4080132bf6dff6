// Transcendental functions on f32x4 for the CPU backend's wasm loops
// (WebAssembly has no exp or tanh; V8's Math.tanh costs ~20 ns an element,
// these about 1 ns). Cephes' single-precision algorithms, vectorised:
//
// exp4: x = n·ln2 + r with n = round(x·log2 e) and |r| ≤ ln2/2 (ln2 split
//   in a high part exact in f32 and a low part, Cody–Waite), e^r by Cephes'
//   degree-5 minimax polynomial, then 2^n built in the exponent bits — as
//   2^(n>>1) · 2^(n−(n>>1)) so that n up to 128 (x up to 88.72) and down to
//   −150 (subnormal results) stay representable. x is clamped to
//   [−104, 88.7228]: below, the result rounds to 0; above, it is +inf.
//   NaN propagates (f32x4.min/max return NaN, the polynomial keeps it).
// tanh4: |x| < 0.625: Cephes' odd polynomial x + x³·P(x²); otherwise
//   1 − 2/(e^{2|x|} + 1) with the sign of x copied back (e^{2|x|} = inf gives
//   exactly ±1). NaN fails the |x| < 0.625 test and propagates through exp.
// sigmoid4: 1/(1 + e^−x); e^−x = inf gives 0, the limit.
// log4: Cephes' logf: x = m·2^e with m in [√½, √2) (a subnormal x scaled by
//   2^23 first), log(1 + f) for f = m − 1 by its degree-9 polynomial, plus
//   e·ln2 (split high/low as in exp4). log 0 = −inf, log of a negative is
//   NaN, log inf = inf, NaN stays NaN (selected at the end: the bit tricks
//   alone would turn them into finite numbers).
// softplus4: max(x, 0) + log1p(e^−|x|), as the TypeScript: log1p(t) as
//   log(u) − ((u − 1) − t)/u with u = 1 + t, the correction for the part
//   of t that 1 + t rounded away (exact to a few ulp for t ≥ 0; t = e^−|x|
//   is in (0, 1]).
// Accuracy: test/cpu-loops.test.ts checks each against Math.* in f64 over
// wide ranges (within 3 ulp of f32).

/** The helpers, in the order a module declares them. */
export const MATH_FNS = ["exp4", "tanh4", "sigmoid4", "log4", "softplus4"] as const;
export type MathFn = (typeof MATH_FNS)[number];

const splat = (v: number) => `(f32x4.splat (f32.const ${v}))`;
const get = (x: string) => `(local.get $${x})`;

/** Horner's rule: c[0]·x^(n−1) + … + c[n−1], x a local. */
function horner(x: string, c: readonly number[]): string {
  let e = splat(c[0]!);
  for (const k of c.slice(1)) e = `(f32x4.add (f32x4.mul ${e} ${get(x)}) ${splat(k)})`;
  return e;
}

const EXP4 = [
  `(func $exp4 (param $x v128) (result v128) (local $n v128) (local $r v128) (local $ni v128) (local $h v128)`,
  `  (local.set $x (f32x4.min (f32x4.max ${get("x")} ${splat(-104)}) ${splat(88.72283935546875)}))`,
  `  (local.set $n (f32x4.nearest (f32x4.mul ${get("x")} ${splat(1.4426950408889634)})))`,
  `  (local.set $r (f32x4.sub ${get("x")} (f32x4.mul ${get("n")} ${splat(0.693359375)})))`,
  `  (local.set $r (f32x4.sub ${get("r")} (f32x4.mul ${get("n")} ${splat(-2.12194440e-4)})))`,
  // e^r ≈ 1 + r + r²·P(r)
  `  (local.set $x (f32x4.add (f32x4.add (f32x4.mul (f32x4.mul ${get("r")} ${get("r")}) ${horner("r", [1.9875691500e-4, 1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1])}) ${get("r")}) ${splat(1)}))`,
  // 2^n as 2^h · 2^(n−h), h = n >> 1, each factor's bits (k + 127) << 23.
  `  (local.set $ni (i32x4.trunc_sat_f32x4_s ${get("n")}))`,
  `  (local.set $h (i32x4.shr_s ${get("ni")} (i32.const 1)))`,
  `  (local.set $x (f32x4.mul ${get("x")} (i32x4.shl (i32x4.add ${get("h")} (i32x4.splat (i32.const 127))) (i32.const 23))))`,
  `  (f32x4.mul ${get("x")} (i32x4.shl (i32x4.add (i32x4.sub ${get("ni")} ${get("h")}) (i32x4.splat (i32.const 127))) (i32.const 23)))`,
  `)`,
];

const TANH4 = [
  `(func $tanh4 (param $x v128) (result v128) (local $a v128) (local $z v128) (local $small v128) (local $e v128)`,
  `  (local.set $a (f32x4.abs ${get("x")}))`,
  `  (local.set $z (f32x4.mul ${get("x")} ${get("x")}))`,
  // x + x·z·P(z)
  `  (local.set $small (f32x4.add (f32x4.mul (f32x4.mul ${get("x")} ${get("z")}) ${horner("z", [-5.70498872745e-3, 2.06390887954e-2, -5.37397155531e-2, 1.33314422036e-1, -3.33332819422e-1])}) ${get("x")}))`,
  `  (local.set $e (call $exp4 (f32x4.add ${get("a")} ${get("a")})))`,
  // 1 − 2/(e + 1), then the sign bit of x
  `  (local.set $e (f32x4.sub ${splat(1)} (f32x4.div ${splat(2)} (f32x4.add ${get("e")} ${splat(1)}))))`,
  // Either branch, then |·| with the sign bit of x (so tanh(−0) = −0).
  `  (local.set $e (v128.bitselect ${get("small")} ${get("e")} (f32x4.lt ${get("a")} ${splat(0.625)})))`,
  `  (v128.bitselect ${get("x")} ${get("e")} (i32x4.splat (i32.const 0x80000000)))`,
  `)`,
];

const SIGMOID4 = [
  `(func $sigmoid4 (param $x v128) (result v128)`,
  `  (f32x4.div ${splat(1)} (f32x4.add ${splat(1)} (call $exp4 (f32x4.neg ${get("x")}))))`,
  `)`,
];

const LOG4 = [
  `(func $log4 (param $x v128) (result v128) (local $m v128) (local $e v128) (local $z v128) (local $y v128) (local $sub v128) (local $lt v128)`,
  // Subnormals: x·2^23 is normal, and 23 comes off the exponent.
  `  (local.set $sub (f32x4.lt ${get("x")} ${splat(1.1754943508222875e-38)}))`,
  `  (local.set $m (v128.bitselect (f32x4.mul ${get("x")} ${splat(8388608)}) ${get("x")} ${get("sub")}))`,
  // e = biased exponent − 126 (m in [0.5, 1)), less 23 for a subnormal.
  `  (local.set $e (f32x4.convert_i32x4_s (i32x4.sub (i32x4.shr_u ${get("m")} (i32.const 23)) (i32x4.splat (i32.const 126)))))`,
  `  (local.set $e (f32x4.sub ${get("e")} (v128.and ${get("sub")} ${splat(23)})))`,
  `  (local.set $m (v128.or (v128.and ${get("m")} (i32x4.splat (i32.const 0x007fffff))) (i32x4.splat (i32.const 0x3f000000))))`,
  // m < √½: e − 1 and f = 2m − 1; else f = m − 1.
  `  (local.set $lt (f32x4.lt ${get("m")} ${splat(0.7071067811865476)}))`,
  `  (local.set $e (f32x4.sub ${get("e")} (v128.and ${get("lt")} ${splat(1)})))`,
  `  (local.set $m (f32x4.sub (f32x4.add ${get("m")} (v128.and ${get("lt")} ${get("m")})) ${splat(1)}))`,
  `  (local.set $z (f32x4.mul ${get("m")} ${get("m")}))`,
  `  (local.set $y (f32x4.mul (f32x4.mul ${get("m")} ${get("z")}) ${horner("m", [7.0376836292e-2, -1.1514610310e-1, 1.1676998740e-1, -1.2420140846e-1, 1.4249322787e-1, -1.6668057665e-1, 2.0000714765e-1, -2.4999993993e-1, 3.3333331174e-1])}))`,
  `  (local.set $y (f32x4.add ${get("y")} (f32x4.mul ${get("e")} ${splat(-2.12194440e-4)})))`,
  `  (local.set $y (f32x4.sub ${get("y")} (f32x4.mul ${get("z")} ${splat(0.5)})))`,
  `  (local.set $y (f32x4.add (f32x4.add ${get("m")} ${get("y")}) (f32x4.mul ${get("e")} ${splat(0.693359375)})))`,
  // 0 → −inf; x < 0 → NaN; inf and NaN → x.
  `  (local.set $y (v128.bitselect (f32x4.splat (f32.const -inf)) ${get("y")} (f32x4.eq ${get("x")} ${splat(0)})))`,
  `  (local.set $y (v128.bitselect (i32x4.splat (i32.const 0x7fc00000)) ${get("y")} (f32x4.lt ${get("x")} ${splat(0)})))`,
  `  (v128.bitselect ${get("x")} ${get("y")} (v128.or (f32x4.ne ${get("x")} ${get("x")}) (f32x4.eq ${get("x")} (f32x4.splat (f32.const inf)))))`,
  `)`,
];

const SOFTPLUS4 = [
  `(func $softplus4 (param $x v128) (result v128) (local $t v128) (local $u v128)`,
  `  (local.set $t (call $exp4 (f32x4.neg (f32x4.abs ${get("x")}))))`,
  `  (local.set $u (f32x4.add ${splat(1)} ${get("t")}))`,
  `  (f32x4.add (f32x4.max ${get("x")} ${splat(0)}) (f32x4.sub (call $log4 ${get("u")}) (f32x4.div (f32x4.sub (f32x4.sub ${get("u")} ${splat(1)}) ${get("t")}) ${get("u")})))`,
  `)`,
];

const TEXT: Record<MathFn, readonly string[]> = { exp4: EXP4, tanh4: TANH4, sigmoid4: SIGMOID4, log4: LOG4, softplus4: SOFTPLUS4 };
const DEPS: Record<MathFn, readonly MathFn[]> = { exp4: [], tanh4: ["exp4"], sigmoid4: ["exp4"], log4: [], softplus4: ["exp4", "log4"] };

/** One helper's WAT function (./inline-math.ts inlines it). */
export function mathFunctionText(f: MathFn): readonly string[] {
  return TEXT[f];
}

/** WAT of the helpers `used` needs (with their dependencies), in a fixed order. */
export function mathFunctions(used: ReadonlySet<MathFn>): string[] {
  const all = new Set<MathFn>();
  const add = (f: MathFn) => {
    all.add(f);
    DEPS[f].forEach(add);
  };
  used.forEach(add);
  return MATH_FNS.filter((f) => all.has(f)).flatMap((f) => TEXT[f]);
}
