// A sum over a tensor's leading and trailing axes, keeping a contiguous
// block of middle axes, in the runtime's kernel module (runtime/cpu/
// kernels.wat): the gradient of a bias, Σ over the batch of [N, D] (inner
// 1) or over the batch and the map of [N, C, H, W] (inner H·W). As
// TypeScript `out[c] += x[s++]` loops these were a LeNet step's largest
// loop (Σ over 500×20×24×24: ~8 ms, each term a dependent f32 add).
//
//   sum_around(src, dst, outer, mid, inner)
//     dst[m] = Σ_o Σ_i src[o, m, i]   (dst: mid f32; sizes in elements)
//
// inner = 1: four columns at a time, each lane adding the rows in order
// into f32 — term for term what the TypeScript loop does, so the same
// floats. inner > 1: each run of `inner` is summed in f64 (two f64x2 halves
// of each f32x4, the tail one at a time), then added to dst[m] in f64 and
// rounded once — a different order from the TypeScript loop's f32 chain,
// and closer to the exact sum.

import { add, bytes, c32, forLoop, get, mul, set } from "./wat.ts";

/** max_rows(src, dst, rows, n): dst[r] = max_j src[r, j] over rows of n > 0
 * floats (a softmax's max over its classes). Four lanes of running maxima,
 * then the lanes and the tail: max is exact, so the order does not change
 * the result, and wasm's f32 max is Math.max's (a NaN wins, +0 above -0),
 * so these are the TypeScript loop's floats. As that loop (Math.max a
 * float at a time) it took 0.023 ms of logistic regression's 600 × 10. */
export function maxRowsWat(): string[] {
  const params = ["src", "dst", "rows", "n"].map((p) => `(param $${p} i32)`).join(" ");
  const m = get("m");
  return [
    `(func $max_rows (export "max_rows") ${params}`,
    `  (local $r i32) (local $q i32) (local $e i32) (local $p i32) (local $m v128) (local $s f32)`,
    `  ${set("e", bytes(get("n")))}`,
    `  ${set("p", get("src"))}`,
    ...forLoop("r", get("rows"), [
      `(local.set $m (f32x4.splat (f32.const -inf)))`,
      set("q", c32(0)),
      `(block $v_end (loop $v`,
      `  (br_if $v_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
      `  (local.set $m (f32x4.max ${m} (v128.load ${add(get("p"), get("q"))})))`,
      `  ${set("q", add(get("q"), c32(16)))}`,
      `  (br $v)))`,
      `(local.set $s (f32.max (f32.max (f32x4.extract_lane 0 ${m}) (f32x4.extract_lane 1 ${m})) (f32.max (f32x4.extract_lane 2 ${m}) (f32x4.extract_lane 3 ${m}))))`,
      `(block $t_end (loop $t`,
      `  (br_if $t_end (i32.ge_u ${get("q")} ${get("e")}))`,
      `  (local.set $s (f32.max ${get("s")} (f32.load ${add(get("p"), get("q"))})))`,
      `  ${set("q", add(get("q"), c32(4)))}`,
      `  (br $t)))`,
      `(f32.store ${add(get("dst"), bytes(get("r")))} ${get("s")})`,
      set("p", add(get("p"), get("e"))),
    ]).map((l) => `  ${l}`),
    `)`,
  ];
}

export function sumAroundWat(): string[] {
  const params = ["src", "dst", "outer", "mid", "inner"].map((p) => `(param $${p} i32)`).join(" ");
  const locals = ["o", "m", "q", "e", "p", "d"].map((l) => `(local $${l} i32)`).join(" ") + " (local $v v128) (local $a0 v128) (local $a1 v128) (local $s f64)";
  const high = `(i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 ${get("v")} ${get("v")})`;
  // inner = 1: rows of `mid` added into dst, 16 bytes at a time then 4.
  const columns = [
    set("e", bytes(get("mid"))),
    ...forLoop("o", get("outer"), [
      set("p", add(get("src"), mul(get("o"), get("e")))),
      set("q", c32(0)),
      `(block $cv_end (loop $cv`,
      `  (br_if $cv_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
      `  (v128.store ${add(get("dst"), get("q"))} (f32x4.add (v128.load ${add(get("dst"), get("q"))}) (v128.load ${add(get("p"), get("q"))})))`,
      `  ${set("q", add(get("q"), c32(16)))}`,
      `  (br $cv)))`,
      `(block $ct_end (loop $ct`,
      `  (br_if $ct_end (i32.ge_u ${get("q")} ${get("e")}))`,
      `  (f32.store ${add(get("dst"), get("q"))} (f32.add (f32.load ${add(get("dst"), get("q"))}) (f32.load ${add(get("p"), get("q"))})))`,
      `  ${set("q", add(get("q"), c32(4)))}`,
      `  (br $ct)))`,
    ]),
  ];
  // inner > 1: each run summed in f64, then added to its dst element.
  const runs = [
    set("e", bytes(get("inner"))),
    set("p", get("src")),
    ...forLoop("o", get("outer"), forLoop("m", get("mid"), [
      `(local.set $a0 (v128.const i32x4 0 0 0 0))`,
      `(local.set $a1 (v128.const i32x4 0 0 0 0))`,
      set("q", c32(0)),
      `(block $rv_end (loop $rv`,
      `  (br_if $rv_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
      `  (local.set $v (v128.load ${add(get("p"), get("q"))}))`,
      `  (local.set $a0 (f64x2.add ${get("a0")} (f64x2.promote_low_f32x4 ${get("v")})))`,
      `  (local.set $a1 (f64x2.add ${get("a1")} (f64x2.promote_low_f32x4 ${high})))`,
      `  ${set("q", add(get("q"), c32(16)))}`,
      `  (br $rv)))`,
      `(local.set $a0 (f64x2.add ${get("a0")} ${get("a1")}))`,
      `(local.set $s (f64.add (f64x2.extract_lane 0 ${get("a0")}) (f64x2.extract_lane 1 ${get("a0")})))`,
      `(block $rt_end (loop $rt`,
      `  (br_if $rt_end (i32.ge_u ${get("q")} ${get("e")}))`,
      `  (local.set $s (f64.add ${get("s")} (f64.promote_f32 (f32.load ${add(get("p"), get("q"))}))))`,
      `  ${set("q", add(get("q"), c32(4)))}`,
      `  (br $rt)))`,
      set("d", add(get("dst"), bytes(get("m")))),
      `(f32.store ${get("d")} (f32.demote_f64 (f64.add (f64.promote_f32 (f32.load ${get("d")})) ${get("s")})))`,
      set("p", add(get("p"), get("e"))),
    ])),
  ];
  return [
    `(func $sum_around (export "sum_around") ${params}`,
    `  ${locals}`,
    `  (memory.fill ${get("dst")} (i32.const 0) ${bytes(get("mid"))})`,
    `  (if (i32.eq ${get("inner")} (i32.const 1))`,
    `    (then`,
    ...columns.map((l) => `      ${l}`),
    `    )`,
    `    (else`,
    ...runs.map((l) => `      ${l}`),
    `    )`,
    `  )`,
    `)`,
  ];
}
