// Shared pieces of the ops' WGSL emitters: literals of each value type and
// the index arithmetic (flat output index -> flat input offset) that layout
// kernels bake with static shapes. WGSL types: f32, i32, and u32 for bool.

import { shortestF32 } from "../ir/f32.ts";
import { type DType, type Shape, numel, strides } from "../ir/types.ts";

/** A WGSL f32 value of `v`. Infinity and NaN have no literal and, as
 * const-expressions (e.g. `bitcast<f32>(0x7f800000u)`), are shader-creation
 * errors; they are built from bits mixed with `runtime` (a u32 expression
 * that is not a const-expression, e.g. the thread index) times zero, which
 * Tint leaves alone and the backend compiler folds. */
export function f32Lit(v: number, runtime: string): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return `bitcast<f32>(0x7fc00000u | (${runtime} & 0u))`;
  if (f === Infinity) return `bitcast<f32>(0x7f800000u | (${runtime} & 0u))`;
  if (f === -Infinity) return `bitcast<f32>(0xff800000u | (${runtime} & 0u))`;
  if (Object.is(f, -0)) return "(-0.0f)";
  // shortestF32 never goes past FLT_MAX: Tint rejects a literal whose (f64)
  // value exceeds the largest f32, so `3.4028235e38f` is an error although
  // it rounds to FLT_MAX.
  let s = shortestF32(Math.abs(f));
  if (!/[.e]/.test(s)) s += ".0";
  return f < 0 ? `(-${s}f)` : `${s}f`;
}

/** An i32 value: what an Int32Array stores for `v` (ToInt32). */
export function i32Lit(v: number): string {
  const x = v | 0;
  // 2147483648i is out of range, so the minimum goes through an abstract int.
  if (x === -2147483648) return "i32(-2147483648)";
  return x < 0 ? `(${x}i)` : `${x}i`;
}

/** A literal of `dtype` (bool as u32 0/1, nonzero-true). */
export function lit(v: number, dtype: DType, runtime: string): string {
  if (dtype === "i32") return i32Lit(v);
  if (dtype === "bool") return (v | 0) !== 0 ? "1u" : "0u";
  return f32Lit(v, runtime);
}

export function zeroLit(dtype: DType): string {
  return dtype === "i32" ? "0i" : dtype === "bool" ? "0u" : "0.0f";
}

/** WGSL element type of a dtype. */
export function elemOf(dtype: DType): string {
  return dtype === "i32" ? "i32" : dtype === "bool" ? "u32" : "f32";
}

/** u32 expression of coordinate `d` of the flat index `i` in `shape`. */
export function coord(i: string, shape: Shape, d: number): string {
  const os = strides(shape)[d]!;
  const lead = os * shape[d]! >= numel(shape);
  const q = os === 1 ? i : `(${i} / ${os}u)`;
  return lead ? q : `(${q} % ${shape[d]}u)`;
}

/** u32 expression of `offset + Σ coord_d(i) * st[d]`: the flat offset read
 * for output element `i` of `shape`, given the input's stride along each
 * output axis (0 where it repeats). Axes whose coordinates step together
 * (contiguous in both) are merged, so a plain copy is just `i`. */
export function remap(i: string, shape: Shape, st: readonly number[], offset = 0): string {
  const outSt = strides(shape);
  const total = numel(shape);
  // Groups of axes, innermost first: extent, output stride, input stride.
  const gs: { ext: number; os: number; is: number }[] = [];
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] === 1) continue;
    const g = gs[gs.length - 1];
    if (g && g.is * g.ext === st[d]) g.ext *= shape[d]!;
    else gs.push({ ext: shape[d]!, os: outSt[d]!, is: st[d]! });
  }
  const terms: string[] = [];
  for (const g of gs.reverse()) {
    if (g.is === 0) continue;
    let c = g.os === 1 ? i : `(${i} / ${g.os}u)`;
    if (g.os * g.ext < total) c = `(${c} % ${g.ext}u)`;
    terms.push(g.is === 1 ? c : `${c} * ${g.is}u`);
  }
  if (offset !== 0 || terms.length === 0) terms.push(`${offset}u`);
  return terms.join(" + ");
}

/** WGSL for the reduced elements of output element `i` (one thread per
 * output element): `base` declares the offset of its first element, `loops`
 * open nested loops over the reduced axes (row-major, as `evaluate` sums),
 * `offset` is the input offset inside them and `close` closes them. */
export function reductionLoops(outShape: Shape, shape: Shape, axes: readonly number[], fresh: (base: string) => string): { b: string; base: string[]; loops: string[]; offset: string; close: string[] } {
  const ist = strides(shape);
  const kept = shape.map((_, d) => d).filter((d) => !axes.includes(d));
  const b = fresh("b");
  const base = [`let ${b} = ${remap("i", outShape, kept.map((d) => ist[d]!))};`];
  const red = reducedRuns(shape, axes);
  const loops: string[] = [];
  const terms = [b];
  red.forEach((g, q) => {
    const r = fresh("r");
    loops.push(`${"  ".repeat(q)}for (var ${r} = 0u; ${r} < ${g.n}u; ${r}++) {`);
    terms.push(g.st === 1 ? r : `${r} * ${g.st}u`);
  });
  const close = red.map((_, q) => `${"  ".repeat(red.length - 1 - q)}}`);
  return { b, base, loops, offset: terms.join(" + "), close };
}

/** The loops of `reductionLoops`, outermost first: reduced axes that are
 * contiguous in the input merge into one loop (size-1 axes need none). */
function reducedRuns(shape: Shape, axes: readonly number[]): { n: number; st: number }[] {
  const ist = strides(shape);
  const red: { n: number; st: number }[] = [];
  for (const d of [...axes].sort((x, y) => y - x)) {
    if (shape[d] === 1) continue;
    const g = red[red.length - 1];
    if (g && g.st * g.n === ist[d]) g.n *= shape[d]!;
    else red.push({ n: shape[d]!, st: ist[d]! });
  }
  return red.reverse();
}

/** Loop iterations of one invocation of `reductionLoops`' nest, every level
 * counted (an outer loop's trips plus all of the inner loop's). */
export function reductionTrips(shape: Shape, axes: readonly number[]): number {
  let trips = 0, outer = 1;
  for (const { n } of reducedRuns(shape, axes)) {
    outer *= n;
    trips += outer;
  }
  return trips;
}

/** WGSL bool: whether the f32 expression `x` is NaN, tested on its bits.
 * `x != x` is not reliable: WGSL lets implementations assume NaN absent,
 * and Mesa, for one, rewrites float compares and selects (`v > m ? v : m`
 * into max) in ways that lose NaN. */
export function isNan(x: string): string {
  return `((bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u)`;
}
