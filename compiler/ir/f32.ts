// f32 values as text: the shortest decimal that reads back as the same f32
// (`0.01`, not `0.009999999776482582`), so generated code shows a spec's
// numbers as the spec wrote them. Every back end prints f32 constants with
// this (TypeScript literals, WAT, WGSL, kernel arguments).

/** Largest finite f32. */
export const FLT_MAX = 3.4028234663852886e38;

/** The shortest decimal s with Math.fround(Number(s)) === Math.fround(v)
 * (finite v; callers print NaN, ±Infinity and -0 their own way). */
export function shortestF32(v: number): string {
  const f = Math.fround(v);
  for (let p = 1; p <= 17; p++) {
    const s = f.toPrecision(p);
    const x = Number(s);
    if (Math.fround(x) === f && Math.abs(x) <= FLT_MAX) return String(x);
  }
  return String(f);
}
