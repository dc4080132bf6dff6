// Layout moves of the convolution gradients as WebAssembly, in the runtime's
// kernel module (runtime/cpu/kernels.wat). A filter gradient is a valid
// convolution of the input against the output gradient with batch and
// channel axes exchanged and the kernel flipped (compiler/ops/conv2d.ts's
// VJP); as TypeScript index loops those moves were ~10 % of a LeNet step.
//
//   swap01(src, dst, A, B, P)
//     dst[b, a, :] = src[a, b, :] for blocks of P floats: the transpose that
//     exchanges the two leading axes (perm [1, 0, 2, 3]), a block copy each.
//   reverse_blocks(src, dst, n, P)
//     each of n blocks of P floats reversed: flipping every trailing axis
//     of a tensor whose leading axes are not flipped ([2, 3] of NCHW).
//   copy_runs(src, dst, outer, inner, run, so, si, do, di)
//     for o < outer, i < inner: `run` elements from src + o·so + i·si to
//     dst + o·do + i·di (strides in elements): a box of up to three
//     coalesced axes copied between tensors, which is what slice, pad and
//     concat move (compiler/ops/slice.ts boxCopy). As TypeScript index
//     loops they were ~10 % of newmu-convnet's step (its ceil-mode pooling
//     pads each map with a row and a column, and the gradient cuts them).
// Addresses are bytes; sizes and strides are elements. src and dst never overlap (every
// op writes its own buffer).

import { get, set, add, mul, c32, bytes, forLoop } from "./wat.ts";

export function swap01Wat(): string[] {
  const params = ["src", "dst", "A", "B", "P"].map((p) => `(param $${p} i32)`).join(" ");
  const locals = ["a", "b", "pb"].map((l) => `(local $${l} i32)`).join(" ");
  const body = [
    set("pb", bytes(get("P"))),
    ...forLoop("b", get("B"), forLoop("a", get("A"), [
      `(memory.copy ${add(get("dst"), mul(add(mul(get("b"), get("A")), get("a")), get("pb")))} ${add(get("src"), mul(add(mul(get("a"), get("B")), get("b")), get("pb")))} ${get("pb")})`,
    ])),
  ];
  return [`(func $swap01 (export "swap01") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}

// Lanes 3 2 1 0 of one f32x4.
const REVERSE = "12 13 14 15 8 9 10 11 4 5 6 7 0 1 2 3";

export function reverseBlocksWat(): string[] {
  const params = ["src", "dst", "n", "P"].map((p) => `(param $${p} i32)`).join(" ");
  const locals = ["k", "q", "s", "d", "e"].map((l) => `(local $${l} i32)`).join(" ");
  // Block k: d walks dst forward from its start, s walks src back from its end.
  const body = forLoop("k", get("n"), [
    set("d", add(get("dst"), bytes(mul(get("k"), get("P"))))),
    set("s", add(get("src"), bytes(mul(add(get("k"), c32(1)), get("P"))))),
    set("e", bytes(get("P"))),
    set("q", c32(0)),
    `(block $v_end (loop $v_loop`,
    `  (br_if $v_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
    `  (v128.store ${add(get("d"), get("q"))} (i8x16.shuffle ${REVERSE} (v128.load (i32.sub (i32.sub ${get("s")} ${get("q")}) (i32.const 16))) (v128.const i32x4 0 0 0 0)))`,
    `  ${set("q", add(get("q"), c32(16)))}`,
    `  (br $v_loop)))`,
    `(block $t_end (loop $t_loop`,
    `  (br_if $t_end (i32.ge_u ${get("q")} ${get("e")}))`,
    `  (f32.store ${add(get("d"), get("q"))} (f32.load (i32.sub (i32.sub ${get("s")} ${get("q")}) (i32.const 4))))`,
    `  ${set("q", add(get("q"), c32(4)))}`,
    `  (br $t_loop)))`,
  ]);
  return [`(func $reverse_blocks (export "reverse_blocks") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}

export function copyRunsWat(): string[] {
  const args = ["src", "dst", "outer", "inner", "run", "so", "si", "do", "di"];
  const params = args.map((p) => `(param $${p} i32)`).join(" ");
  const locals = ["o", "i", "s", "d", "q", "e"].map((l) => `(local $${l} i32)`).join(" ");
  // One run: 16 bytes at a time while they fit, then 4-byte elements.
  const run = [
    set("s", add(get("src"), bytes(add(mul(get("o"), get("so")), mul(get("i"), get("si")))))),
    set("d", add(get("dst"), bytes(add(mul(get("o"), get("do")), mul(get("i"), get("di")))))),
    set("q", c32(0)),
    `(block $v_end (loop $v_loop`,
    `  (br_if $v_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
    `  (v128.store ${add(get("d"), get("q"))} (v128.load ${add(get("s"), get("q"))}))`,
    `  ${set("q", add(get("q"), c32(16)))}`,
    `  (br $v_loop)))`,
    `(block $t_end (loop $t_loop`,
    `  (br_if $t_end (i32.ge_u ${get("q")} ${get("e")}))`,
    `  (i32.store ${add(get("d"), get("q"))} (i32.load ${add(get("s"), get("q"))}))`,
    `  ${set("q", add(get("q"), c32(4)))}`,
    `  (br $t_loop)))`,
  ];
  const body = [set("e", bytes(get("run"))), ...forLoop("o", get("outer"), forLoop("i", get("inner"), run))];
  return [`(func $copy_runs (export "copy_runs") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}
