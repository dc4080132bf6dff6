// Data movement for convolutions as matrix products, in the runtime's kernel
// module beside the matrix kernels (runtime/cpu/kernels.wat). In
// TypeScript these loops cost as much as the products they feed (LeNet:
// ~45 ms of a 100 ms convolution), because their inner runs are short
// (8–24 floats): wasm moves the runs with f32x4 loads and stores.
//
//   im2col(x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, nb, c0, cb)
//     for a block of nb images from n0 and cb channels from c0, row
//     (c, u, v) of cols (row length L floats) holds, for each image b of the
//     block at column b·Ho·Wo, the Ho×Wo window of x[n0+b, c0+c] starting at
//     (kh−1−u, kw−1−v): the valid convolution's input taps in the order that
//     meets the filters unflipped (compiler/ops/conv2d.ts).
//   col2im_add(r, y, K, kh, kw, H, W, Ho, Wo)
//     the full convolution's scatter: for k, u, v, every H×W plane of r at
//     row (k, u, v) is added into y[k] at offset (u, v) (y is [K, Ho, Wo]).
// Addresses are bytes; sizes are elements.

import { get, set, add, mul, c32, forLoop } from "./wat.ts";

/** Copies (or, with `accumulate`, adds) n floats from byte address src to
 * dst: 4 at a time, then one at a time. */
function run(src: string, dst: string, n: string, accumulate: boolean): string[] {
  const v = accumulate ? `(f32x4.add (v128.load ${add(get("d"), get("q"))}) (v128.load ${add(get("s"), get("q"))}))` : `(v128.load ${add(get("s"), get("q"))})`;
  const f = accumulate ? `(f32.add (f32.load ${add(get("d"), get("q"))}) (f32.load ${add(get("s"), get("q"))}))` : `(f32.load ${add(get("s"), get("q"))})`;
  return [
    set("s", src),
    set("d", dst),
    set("e", `(i32.shl ${n} (i32.const 2))`),
    set("q", c32(0)),
    `(block $cp_end (loop $cp_loop`,
    `  (br_if $cp_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
    `  (v128.store ${add(get("d"), get("q"))} ${v})`,
    `  ${set("q", add(get("q"), c32(16)))}`,
    `  (br $cp_loop)))`,
    `(block $tl_end (loop $tl_loop`,
    `  (br_if $tl_end (i32.ge_u ${get("q")} ${get("e")}))`,
    `  (f32.store ${add(get("d"), get("q"))} ${f})`,
    `  ${set("q", add(get("q"), c32(4)))}`,
    `  (br $tl_loop)))`,
  ];
}

const IM2COL_PARAMS = ["x", "cols", "C", "H", "W", "kh", "kw", "Ho", "Wo", "L", "n0", "nb", "c0", "cb"];
const COL2IM_PARAMS = ["r", "y", "K", "kh", "kw", "H", "W", "Ho", "Wo"];

export function im2colWat(): string[] {
  const params = IM2COL_PARAMS.map((p) => `(param $${p} i32)`).join(" ");
  const locals = ["c", "u", "v", "b", "i", "row", "src", "dst", "s", "d", "e", "q"].map((l) => `(local $${l} i32)`).join(" ");
  // src = x + ((((n0+b)·C + c0 + c)·H + i + kh−1−u)·W + kw−1−v)·4
  const srcAddr = add(
    get("x"),
    `(i32.shl ${add(mul(add(mul(add(add(mul(add(get("n0"), get("b")), get("C")), get("c0")), get("c")), get("H")), `(i32.sub ${add(get("i"), get("kh"))} ${add(get("u"), c32(1))})`), get("W")), `(i32.sub ${get("kw")} ${add(get("v"), c32(1))})`)} (i32.const 2))`,
  );
  // dst = cols + (row·L + b·Ho·Wo + i·Wo)·4, row = (c·kh + u)·kw + v
  const dstAddr = add(get("cols"), `(i32.shl ${add(add(mul(get("row"), get("L")), mul(get("b"), mul(get("Ho"), get("Wo")))), mul(get("i"), get("Wo")))} (i32.const 2))`);
  const inner = forLoop("i", get("Ho"), run(srcAddr, dstAddr, get("Wo"), false));
  const body = forLoop("c", get("cb"), forLoop("u", get("kh"), forLoop("v", get("kw"), [set("row", add(mul(add(mul(get("c"), get("kh")), get("u")), get("kw")), get("v"))), ...forLoop("b", get("nb"), inner)])));
  return [`(func $im2col (export "im2col") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}

export function col2imWat(): string[] {
  const params = COL2IM_PARAMS.map((p) => `(param $${p} i32)`).join(" ");
  const locals = ["k", "u", "v", "i", "row", "s", "d", "e", "q"].map((l) => `(local $${l} i32)`).join(" ");
  // src = r + (row·H·W + i·W)·4 ; dst = y + ((k·Ho + i + u)·Wo + v)·4
  const srcAddr = add(get("r"), `(i32.shl ${add(mul(get("row"), mul(get("H"), get("W"))), mul(get("i"), get("W")))} (i32.const 2))`);
  const dstAddr = add(get("y"), `(i32.shl ${add(mul(add(add(mul(get("k"), get("Ho")), get("i")), get("u")), get("Wo")), get("v"))} (i32.const 2))`);
  const body = forLoop("k", get("K"), forLoop("u", get("kh"), forLoop("v", get("kw"), [
    set("row", add(mul(add(mul(get("k"), get("kh")), get("u")), get("kw")), get("v"))),
    ...forLoop("i", get("H"), run(srcAddr, dstAddr, get("W"), true)),
  ])));
  return [`(func $col2im_add (export "col2im_add") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}
