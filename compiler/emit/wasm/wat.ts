// Small builders of WAT text shared by the runtime's data-movement kernels
// (im2col.ts, pool.ts, layout.ts): i32 locals and arithmetic, and counted
// loops as block/loop/br_if.

export const get = (x: string) => `(local.get $${x})`;
export const set = (x: string, v: string) => `(local.set $${x} ${v})`;
export const add = (a: string, b: string) => `(i32.add ${a} ${b})`;
export const mul = (a: string, b: string) => `(i32.mul ${a} ${b})`;
export const c32 = (v: number) => `(i32.const ${v})`;
/** Elements to bytes (f32 / i32). */
export const bytes = (elems: string) => `(i32.shl ${elems} (i32.const 2))`;

/** for (x = from; x < n; x++) { body } with n a WAT i32 expression. Labels
 * are named after x, so nested loops need distinct counters. */
export function forLoop(x: string, n: string, body: readonly string[], from = c32(0)): string[] {
  return [
    set(x, from),
    `(block $${x}_end (loop $${x}_loop`,
    `  (br_if $${x}_end (i32.ge_u ${get(x)} ${n}))`,
    ...body.map((l) => `  ${l}`),
    `  ${set(x, add(get(x), c32(1)))}`,
    `  (br $${x}_loop)))`,
  ];
}

/** The matrix-product kernels' signature (gemm.ts, sparse.ts): i32 byte
 * addresses, sizes, leading dimensions and the accumulate flag, then α. */
export const GEMM_PARAMS = ["a", "b", "c", "m", "n", "k", "lda", "ldb", "ldc", "acc"] as const;
export const gemmHeader = (name: string) =>
  `(func $${name} (export "${name}") ${GEMM_PARAMS.map((p) => `(param $${p} i32)`).join(" ")} (param $alpha f32)`;
