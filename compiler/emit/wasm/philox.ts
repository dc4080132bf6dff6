// Philox4x32-10 uniforms as WebAssembly, in the runtime's kernel module
// (runtime/cpu/kernels.wat): the same function of (seed, salt, step, iter,
// index) as runtime/rng/philox.ts's `uniform`, bit for bit, for a whole
// buffer at once.
//
//   philox_uniform(dst, n, k0, k1, salt, step, iter)
//     dst[i] = (lane i & 3 of Philox(counter (i >>> 2, salt, step, iter),
//              key (k0, k1)) >>> 8) · 2⁻²⁴   for i < n
//
// Why: a random op drawn element by element in TypeScript costs ~35 ns a
// value (the 32×32→64-bit products split into 16-bit halves, one block of 4
// cached between calls). The LSTM's embedding dropout draws 204,800 values a
// step and the RNN-RBM's Gibbs chains ~372,000, a large part of each step.
// Here the product is one i64.mul of zero-extended words, and a block's four
// lanes are stored together. The key words are computed by the caller
// (runtime/cpu/kernels.ts) as runtime/rng/philox.ts's `draw` does.

import { get, set, c32, forLoop } from "./wat.ts";

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** The i32 constant of a u32 value (WAT takes the signed form too, but the
 * unsigned one reads as the Random123 constant). */
const u32 = (v: number) => `(i32.const 0x${(v >>> 0).toString(16)})`;

/** One Philox round on locals c0..c3 with key k0, k1 (as philox4x32's loop body). */
function round(): string[] {
  // p0 = M0·c0, p1 = M1·c2 as 64-bit products of unsigned words.
  const prod = (m: number, c: string) => `(i64.mul (i64.const ${m >>> 0}) (i64.extend_i32_u ${get(c)}))`;
  const hi = (p: string) => `(i32.wrap_i64 (i64.shr_u ${get(p)} (i64.const 32)))`;
  const lo = (p: string) => `(i32.wrap_i64 ${get(p)})`;
  return [
    set("p0", prod(M0, "c0")),
    set("p1", prod(M1, "c2")),
    set("c0", `(i32.xor (i32.xor ${hi("p1")} ${get("c1")}) ${get("k0")})`),
    set("c2", `(i32.xor (i32.xor ${hi("p0")} ${get("c3")}) ${get("k1")})`),
    set("c1", lo("p1")),
    set("c3", lo("p0")),
  ];
}

export function philoxUniformWat(): string[] {
  const params = ["dst", "n", "key0", "key1", "salt", "step", "iter"].map((p) => `(param $${p} i32)`).join(" ");
  const ilocals = ["b", "blocks", "r", "c0", "c1", "c2", "c3", "k0", "k1", "q", "lane"];
  const locals = `${ilocals.map((l) => `(local $${l} i32)`).join(" ")} (local $p0 i64) (local $p1 i64)`;
  // The top 24 bits as an exact f32 in [0, 1).
  const unit = (c: string) => `(f32.mul (f32.convert_i32_u (i32.shr_u ${get(c)} (i32.const 8))) (f32.const 0x1p-24))`;
  const rounds = [
    set("c0", get("b")),
    set("c1", get("salt")),
    set("c2", get("step")),
    set("c3", get("iter")),
    set("k0", get("key0")),
    set("k1", get("key1")),
    ...round(),
    // Nine more rounds, the key bumped (Weyl) before each.
    ...forLoop("r", c32(9), [set("k0", `(i32.add ${get("k0")} ${u32(W0)})`), set("k1", `(i32.add ${get("k1")} ${u32(W1)})`), ...round()]),
    set("q", `(i32.add ${get("dst")} (i32.shl ${get("b")} (i32.const 4)))`),
  ];
  const body = [
    // Whole blocks of 4, then the last lanes of a partial block.
    set("blocks", `(i32.shr_u ${get("n")} (i32.const 2))`),
    ...forLoop("b", get("blocks"), [
      ...rounds,
      `(f32.store offset=0 ${get("q")} ${unit("c0")})`,
      `(f32.store offset=4 ${get("q")} ${unit("c1")})`,
      `(f32.store offset=8 ${get("q")} ${unit("c2")})`,
      `(f32.store offset=12 ${get("q")} ${unit("c3")})`,
    ]),
    set("lane", `(i32.and ${get("n")} (i32.const 3))`),
    `(if (i32.ne ${get("lane")} (i32.const 0)) (then`,
    set("b", get("blocks")),
    ...rounds,
    `(f32.store offset=0 ${get("q")} ${unit("c0")})`,
    `(if (i32.gt_u ${get("lane")} (i32.const 1)) (then (f32.store offset=4 ${get("q")} ${unit("c1")})))`,
    `(if (i32.gt_u ${get("lane")} (i32.const 2)) (then (f32.store offset=8 ${get("q")} ${unit("c2")})))`,
    `))`,
  ];
  return [`(func $philox_uniform (export "philox_uniform") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}
