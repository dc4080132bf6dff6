// Matrix products that skip the zeros of their left operand, in the
// runtime's kernel module: a data input (MNIST: 81 % of the pixels are 0), a
// corrupted input (x ⊙ mask), a Bernoulli sample (an RBM's Gibbs chain, a
// DBN's CD-1 step), a thresholded input. Three exports, called one after the
// other by runtime/cpu/kernels.ts (and by ./threads.ts, which lists A's
// non-zeros once and then halves C by columns):
//
//   nonzero_rows(a, m, k, lda, ldb, transA, list) → the number of non-zeros
//       for each row i of op(A) and each block of KC steps of p, the pairs
//       (p·ldb·4, A's element as f32 bits) of its non-zeros, after their
//       count: list[(i·nb + β)·(2·kc + 1)] = count, then the pairs
//       (nb = ⌈k / KC⌉ blocks, kc = min(k, KC))
//   gemm_vx(list, b, c, m, n, k, ldc, acc, alpha)
//       C[i, j] (+)= α Σ_{p: A[i,p] ≠ 0} A[i,p]·B[p, j], block by block
//   gemm_bx(…same…)   the same for an A whose non-zeros are all exactly 1
//       (proved by the compiler, compiler/lower/binary-values.ts): the rows
//       of B are added, not multiplied
//
// Why: a zero multiplies nothing, so a row of C is a combination of the rows
// of B that A's non-zeros select: half the work at a density of one half,
// a sixth for a digit's pixels; for a 0/1 A also no multiplications. The
// dense kernel keeps 4 rows of C in registers to reuse each load of B four
// times; here each row has its own list, so the reuse comes from the order
// instead: a strip of 32 columns of a KC block of B (up to 32 KiB) is read by
// every row of C before the next strip. The caller takes the dense kernel
// when the count says A is dense enough (runtime/cpu/kernels.ts).
//
// Bitwise the dense kernel's result (compiler/emit/wasm/gemm.ts) for finite
// B: the same sum from zero per KC block in increasing p of the same terms
// a·b, then C + α·s; a skipped term 0·b is ±0, which leaves the sum as it
// was (s + ±0 = s, and +0 + −0 = +0; s is never −0). An Inf or NaN of B
// under a 0 of A is skipped, where the dense kernel would give NaN. So the
// choice of kernel, and of threads, never changes a float.

import { add, bytes, c32, forLoop, get, loadPartial, mul, set, storePartial } from "./wat.ts";

/** Steps of p per block: the dense kernels' KC (their sums restart from zero
 * at each block boundary, and so must these). */
export const SPARSE_KC = 256;

/** Int32 entries of the list scratch `nonzero_rows` fills for an m×k op(A). */
export function sparseListSize(m: number, k: number): number {
  const kc = Math.min(k, SPARSE_KC);
  return m * Math.ceil(k / SPARSE_KC) * (2 * kc + 1);
}

function rowsKernel(): string[] {
  const locals = ["i", "p", "p0", "kc", "lrow", "q", "pa", "stepa", "ldbb", "off", "av", "total"].map((l) => `(local $${l} i32)`).join(" ");
  const params = ["a", "m", "k", "lda", "ldb", "transA", "list"].map((p) => `(param $${p} i32)`).join(" ");
  // op(A)[i, p]: nn walks along a row of A, tn down a column.
  const rowStart = `(select ${bytes(get("i"))} ${bytes(mul(get("i"), get("lda")))} ${get("transA")})`;
  return [
    `(func $nonzero_rows (export "nonzero_rows") ${params} (result i32)`,
    `  ${locals}`,
    `  ${set("kc", `(select (i32.const ${SPARSE_KC}) ${get("k")} (i32.gt_u ${get("k")} (i32.const ${SPARSE_KC})))`)}`,
    `  ${set("stepa", `(select ${bytes(get("lda"))} (i32.const 4) ${get("transA")})`)}`,
    `  ${set("ldbb", bytes(get("ldb")))}`,
    `  ${set("lrow", get("list"))}`,
    ...forLoop("i", get("m"), [
      set("pa", add(get("a"), rowStart)),
      set("off", c32(0)),
      set("p0", c32(0)),
      `(block $blocks_end (loop $blocks`,
      `  (br_if $blocks_end (i32.ge_u ${get("p0")} ${get("k")}))`,
      // Branch-free append: every pair is stored, the end moves only past
      // a non-zero (a random 0/1 is a coin-flip branch).
      `  ${set("q", add(get("lrow"), c32(4)))}`,
      `  ${set("p", get("p0"))}`,
      `  (block $p_end (loop $p_loop`,
      `    (br_if $p_end (i32.ge_u ${get("p")} (select ${get("k")} ${add(get("p0"), c32(SPARSE_KC))} (i32.lt_u ${get("k")} ${add(get("p0"), c32(SPARSE_KC))}))))`,
      `    ${set("av", `(i32.load ${get("pa")})`)}`,
      `    (i32.store ${get("q")} ${get("off")})`,
      `    (i32.store offset=4 ${get("q")} ${get("av")})`,
      `    ${set("q", add(get("q"), `(i32.shl (i32.ne ${get("av")} (i32.const 0)) (i32.const 3))`))}`,
      `    ${set("off", add(get("off"), get("ldbb")))}`,
      `    ${set("pa", add(get("pa"), get("stepa")))}`,
      `    ${set("p", add(get("p"), c32(1)))}`,
      `    (br $p_loop)))`,
      `  ${set("av", `(i32.shr_u (i32.sub ${get("q")} ${add(get("lrow"), c32(4))}) (i32.const 3))`)}`,
      `  (i32.store ${get("lrow")} ${get("av")})`,
      `  ${set("total", add(get("total"), get("av")))}`,
      `  ${set("lrow", add(get("lrow"), bytes(add(mul(get("kc"), c32(2)), c32(1)))))}`,
      `  ${set("p0", add(get("p0"), c32(SPARSE_KC)))}`,
      `  (br $blocks)))`,
    ]),
    `  ${get("total")}`,
    `)`,
  ];
}

/** Columns j..j+width of every row of C over the current KC block: `V`
 * vectors summed in registers over row i's list; `part` (1–3) is a row's
 * last columns in one vector's low lanes. Each lane does the same scalar
 * sequence whatever the width, so the split by columns is exact. `values`:
 * each term is a·b (gemm_vx), else b (gemm_bx, a = 1). */
function strip(values: boolean, V: number, part?: 1 | 2 | 3): string[] {
  const s = Array.from({ length: V }, (_, v) => `s${v}`);
  const row = (v: number) => (part ? loadPartial(part, get("pb")) : `(v128.load offset=${16 * v} ${get("pb")})`);
  const term = (v: number) => (values ? `(f32x4.mul ${get("va")} ${row(v)})` : row(v));
  const body = [
    set("lrow", add(get("list"), add(mul(get("i"), get("rowb")), get("blockb")))),
    set("q", add(get("lrow"), c32(4))),
    set("qe", add(get("q"), `(i32.shl (i32.load ${get("lrow")}) (i32.const 3))`)),
    ...s.map((x) => set(x, "(v128.const i32x4 0 0 0 0)")),
    `(block $q_end (loop $q_loop`,
    `  (br_if $q_end (i32.ge_u ${get("q")} ${get("qe")}))`,
    `  ${set("pb", add(get("bj"), `(i32.load ${get("q")})`))}`,
    ...(values ? [`  ${set("va", `(v128.load32_splat offset=4 ${get("q")})`)}`] : []),
    ...s.map((x, v) => `  ${set(x, `(f32x4.add ${get(x)} ${term(v)})`)}`),
    `  ${set("q", add(get("q"), c32(8)))}`,
    `  (br $q_loop)))`,
    set("pc", add(get("c"), bytes(add(mul(get("i"), get("ldc")), get("j"))))),
  ];
  if (part) {
    body.push(...storePartial(part, get("pc"), `(f32x4.add ${loadPartial(part, get("pc"))} (f32x4.mul ${get("valpha")} ${get("s0")}))`, "t"));
  } else {
    s.forEach((x, v) => body.push(`(v128.store offset=${16 * v} ${get("pc")} (f32x4.add (v128.load offset=${16 * v} ${get("pc")}) (f32x4.mul ${get("valpha")} ${get(x)})))`));
  }
  return [set("bj", add(get("b"), bytes(get("j")))), ...forLoop("i", get("m"), body), set("j", add(get("j"), c32(part ?? 4 * V)))];
}

/** `while (j + w <= n) strip` */
function strips(values: boolean, V: number): string[] {
  const w = 4 * V;
  return [`(block $w${w}_end (loop $w${w}`, `  (br_if $w${w}_end (i32.gt_u ${add(get("j"), c32(w))} ${get("n")}))`, ...strip(values, V).map((l) => `  ${l}`), `  (br $w${w})))`];
}

function productKernel(name: "gemm_vx" | "gemm_bx"): string[] {
  const values = name === "gemm_vx";
  const params = ["list", "b", "c", "m", "n", "k", "ldc", "acc"].map((p) => `(param $${p} i32)`).join(" ");
  const ilocals = ["i", "j", "p0", "kc", "rowb", "blockb", "bj", "lrow", "q", "qe", "pb", "pc"].map((l) => `(local $${l} i32)`).join(" ");
  const vlocals = ["valpha", "t", ...(values ? ["va"] : []), ...Array.from({ length: 8 }, (_, v) => `s${v}`)].map((l) => `(local $${l} v128)`).join(" ");
  const tail = (w: 1 | 2 | 3) => [`(if (i32.eq (i32.sub ${get("n")} ${get("j")}) (i32.const ${w})) (then`, ...strip(values, 1, w).map((l) => `  ${l}`), `))`];
  return [
    `(func $${name} (export "${name}") ${params} (param $alpha f32)`,
    `  ${ilocals}`,
    `  ${vlocals}`,
    `  ${set("valpha", `(f32x4.splat ${get("alpha")})`)}`,
    `  ${set("kc", `(select (i32.const ${SPARSE_KC}) ${get("k")} (i32.gt_u ${get("k")} (i32.const ${SPARSE_KC})))`)}`,
    `  ${set("rowb", bytes(mul(`(i32.div_u ${add(get("k"), c32(SPARSE_KC - 1))} (i32.const ${SPARSE_KC}))`, add(mul(get("kc"), c32(2)), c32(1)))))}`,
    // C = 0 first unless accumulating, then C + α·s per block, as the dense kernels.
    `  (if (i32.eqz ${get("acc")}) (then`,
    ...forLoop("i", get("m"), [`(memory.fill ${add(get("c"), bytes(mul(get("i"), get("ldc"))))} (i32.const 0) ${bytes(get("n"))})`]).map((l) => `    ${l}`),
    `  ))`,
    `  ${set("blockb", c32(0))}`,
    `  ${set("p0", c32(0))}`,
    `  (block $blocks_end (loop $blocks`,
    `    (br_if $blocks_end (i32.ge_u ${get("p0")} ${get("k")}))`,
    `    ${set("j", c32(0))}`,
    ...[...strips(values, 8), ...strips(values, 4), ...strips(values, 1), ...tail(3), ...tail(2), ...tail(1)].map((l) => `    ${l}`),
    // The lists' offsets are from B's first row: a block's rows are
    // selected by the offsets themselves.
    `    ${set("blockb", add(get("blockb"), bytes(add(mul(get("kc"), c32(2)), c32(1)))))}`,
    `    ${set("p0", add(get("p0"), c32(SPARSE_KC)))}`,
    `    (br $blocks)))`,
    `)`,
  ];
}

export function sparseGemmWat(): string[] {
  return [...rowsKernel(), ...productKernel("gemm_vx"), ...productKernel("gemm_bx")];
}
