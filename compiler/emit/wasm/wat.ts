// Small builders of WAT text shared by the runtime's kernels (gemm.ts,
// sparse.ts, im2col.ts, pool.ts, layout.ts): i32 locals and arithmetic,
// counted loops as block/loop/br_if, and the partial vectors of a row's last
// columns.

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

/** The last 1–3 columns of a row as the low lanes of a vector, the other
 * lanes zero: exactly those floats are read, none past them (a row's end
 * may be the end of the memory). */
export function loadPartial(w: 1 | 2 | 3, ptr: string): string {
  if (w === 1) return `(v128.load32_zero ${ptr})`;
  if (w === 2) return `(v128.load64_zero ${ptr})`;
  return `(v128.load32_lane offset=8 2 ${ptr} (v128.load64_zero ${ptr}))`;
}

/** Stores the low `w` lanes of a vector, the rest of the row untouched; for
 * three lanes the value goes through the v128 local `temp` (stored twice). */
export function storePartial(w: 1 | 2 | 3, ptr: string, value: string, temp: string): string[] {
  if (w === 1) return [`(v128.store32_lane 0 ${ptr} ${value})`];
  if (w === 2) return [`(v128.store64_lane 0 ${ptr} ${value})`];
  return [set(temp, value), `(v128.store64_lane 0 ${ptr} ${get(temp)})`, `(v128.store32_lane offset=8 2 ${ptr} ${get(temp)})`];
}

/** `while (cond) { body }` as block/loop/br_if, labelled `label`. */
export function whileLoop(label: string, cond: string, body: readonly string[]): string[] {
  return [`(block $${label}_end (loop $${label}`, `  (br_if $${label}_end (i32.eqz ${cond}))`, ...body.map((l) => `  ${l}`), `  (br $${label})))`];
}

/** Columns x..n of a tile row (x a local from 0, n an i32 expression):
 * tiles 8 wide, then 4, then the last 1–3 as one partial tile; `tile(w)`
 * computes one tile of width w and advances x by w. Labels carry `label`. */
export function columnTiles(label: string, x: string, n: string, tile: (w: 8 | 4 | 3 | 2 | 1) => string[]): string[] {
  const rest = `(i32.sub ${n} ${get(x)})`;
  return [
    set(x, c32(0)),
    ...whileLoop(`${label}8`, `(i32.le_u ${add(get(x), c32(8))} ${n})`, tile(8)),
    ...whileLoop(`${label}4`, `(i32.le_u ${add(get(x), c32(4))} ${n})`, tile(4)),
    `(block $${label}t`,
    `  (br_if $${label}t (i32.ge_u ${get(x)} ${n}))`,
    `  (if (i32.eq ${rest} (i32.const 3)) (then`,
    ...tile(3).map((l) => `    ${l}`),
    `    (br $${label}t)))`,
    `  (if (i32.eq ${rest} (i32.const 2)) (then`,
    ...tile(2).map((l) => `    ${l}`),
    `    (br $${label}t)))`,
    ...tile(1).map((l) => `  ${l}`),
    `)`,
  ];
}
