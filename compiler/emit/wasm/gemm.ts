// WebAssembly SIMD matrix-product kernels, written out as WAT text (the
// runtime ships the assembled bytes, runtime/cpu/kernels-wasm.ts, and this
// text beside them, runtime/cpu/kernels.wat, for review).
//
// All pointers are byte addresses into the one memory the generated model
// keeps its buffers in; leading dimensions are in elements, so a kernel can
// work on a block of a larger matrix (convolutions call it per image block
// and per channel block). `acc` ≠ 0 adds to C instead of overwriting it;
// `alpha` scales the product, so `W += −lr · Xᵀ·G` is one call that reads
// and writes W once (the fused SGD update, compiler/lower/fused-update.ts).
//
//   gemm_nn(a, b, c, m, n, k, lda, ldb, ldc, acc, alpha)  C[i,j] (+)= α Σ_p A[i,p] · B[p,j]
//   gemm_tn(…same…)                                       C[i,j] (+)= α Σ_p A[p,i] · B[p,j]
//   gemm_nt(…same…)                                       C[i,j] (+)= α Σ_p A[i,p] · B[j,p]
//
// Products are summed in registers from zero per block of KC steps of p and
// added to C at the end of the block (C + α·s); with α = 1 and one block
// that is exactly the plain sum (0 + s = s, 1·s = s).
//
// Why these shapes (measured on the 2-core x86 build machine, V8 11):
// - nn/tn keep a 4×8 block of C in eight f32x4 registers and stream a
//   8-wide row of B past four broadcast elements of A per step of p: two
//   vector loads and four scalar loads feed eight multiply-adds. A 4×12
//   block (12 accumulators + 3 B vectors + a broadcast) spilled under
//   TurboFan's register allocator: x64 has 16 xmm registers.
// - p is blocked by KC so the panel of B a row block sweeps (KC rows of
//   up to a few thousand floats) stays in L2 between row blocks.
// - nt is a dot-product kernel (both operands run along p): 2 rows × 4
//   columns of C as eight f32x4 partial sums, folded horizontally at the end.
// - wasm SIMD has no fused multiply-add without the relaxed-SIMD proposal
//   (not enabled by default in Node 20), so each step is f32x4.mul + add.

import { col2imWat, im2colWat } from "./im2col.ts";
import { convDirectWat } from "./conv-direct.ts";
import { convFilterGradWat } from "./conv-filter-grad.ts";
import { maxPoolGradWat, maxPoolWat } from "./pool.ts";
import { copyRunsWat, reverseBlocksWat, swap01Wat } from "./layout.ts";
import { philoxUniformWat } from "./philox.ts";
import { sparseGemmWat } from "./sparse.ts";
import { maxRowsWat, sumAroundWat } from "./sums.ts";
import { gemmHeader, loadPartial, storePartial, whileLoop } from "./wat.ts";

const KC = 256;

/** Indents every line of `body` by two spaces per level. */
function ind(level: number, lines: readonly string[]): string[] {
  const pad = "  ".repeat(level);
  return lines.map((l) => pad + l);
}

const header = gemmHeader;

/** `(local.set $x (i32.add (local.get $x) (…)))` */
const bump = (x: string, by: string) => `(local.set $${x} (i32.add (local.get $${x}) ${by}))`;
const get = (x: string) => `(local.get $${x})`;
const c32 = (v: number) => `(i32.const ${v})`;
const add = (...xs: string[]): string => (xs.length === 1 ? xs[0]! : `(i32.add ${xs[0]} ${add(...xs.slice(1))})`);

/** Zeroes the m×n block of C at row stride ldc (bytes in $ldcb) unless $acc. */
function zeroC(): string[] {
  return [
    `(if (i32.eqz (local.get $acc))`,
    `  (then`,
    `    (local.set $i (i32.const 0))`,
    `    (local.set $pc (local.get $c))`,
    ...ind(2, whileLoop("zero", `(i32.lt_u ${get("i")} ${get("m")})`, [
      `(memory.fill (local.get $pc) (i32.const 0) (i32.shl (local.get $n) (i32.const 2)))`,
      bump("pc", get("ldcb")),
      bump("i", c32(1)),
    ])),
    `  )`,
    `)`,
  ];
}

/** A tile of R rows × W columns of C for the nn/tn kernels, over the current
 * p block: W = 8 or 4 in whole vectors; W = 3, 2 or 1 (a row's last
 * columns) in one vector whose low lanes are loaded and stored. Each lane
 * does exactly the scalar sequence (s += a·b from zero, then C + α·s), so
 * a column's floats do not depend on which tile computed it. */
function axpyTile(transA: boolean, R: number, W: 8 | 4 | 3 | 2 | 1): string[] {
  const V = W === 8 ? 2 : 1;
  const part = W < 4 ? (W as 1 | 2 | 3) : undefined;
  const accs: string[][] = Array.from({ length: R }, (_, r) => Array.from({ length: V }, (_, v) => `c${r}${v}`));
  const load = "v128.load";
  const store = "v128.store";
  const rowPtr = (r: number) => (r === 0 ? get("pc") : `(i32.add ${get("pc")} ${get(`ldc${r}`)})`);
  // A's element for row r at the current p: nn walks along a row (rows are
  // lda apart), tn walks down columns (rows of op(A) are adjacent floats).
  const aLoad = (r: number) =>
    transA ? `(v128.load32_splat offset=${4 * r} ${get("pa")})` : `(v128.load32_splat ${r === 0 ? get("pa") : `(i32.add ${get("pa")} ${get(`lda${r}`)})`})`;
  const lines: string[] = [
    // pc = c + (i·ldc + j)·4 ; pb = b + (p0·ldb + j)·4
    `(local.set $pc (i32.add ${get("c")} (i32.shl (i32.add (i32.mul ${get("i")} ${get("ldc")}) ${get("j")}) (i32.const 2))))`,
    `(local.set $pb (i32.add ${get("b")} (i32.shl (i32.add (i32.mul ${get("p0")} ${get("ldb")}) ${get("j")}) (i32.const 2))))`,
    transA
      ? `(local.set $pa (i32.add ${get("a")} (i32.shl (i32.add (i32.mul ${get("p0")} ${get("lda")}) ${get("i")}) (i32.const 2))))`
      : `(local.set $pa (i32.add ${get("a")} (i32.shl (i32.add (i32.mul ${get("i")} ${get("lda")}) ${get("p0")}) (i32.const 2))))`,
  ];
  accs.forEach((row) => row.forEach((x) => lines.push(`(local.set $${x} (v128.const i32x4 0 0 0 0))`)));
  const step: string[] = [];
  for (let v = 0; v < V; v++) step.push(`(local.set $b${v} ${part ? loadPartial(part, get("pb")) : `(${load} offset=${16 * v} ${get("pb")})`})`);
  for (let r = 0; r < R; r++) {
    step.push(`(local.set $a0 ${aLoad(r)})`);
    for (let v = 0; v < V; v++) step.push(`(local.set $c${r}${v} (f32x4.add ${get(`c${r}${v}`)} (f32x4.mul ${get("a0")} ${get(`b${v}`)})))`);
  }
  step.push(bump("pb", get("ldbb")), bump("pa", transA ? get("ldab") : c32(4)));
  lines.push(
    `(local.set $p ${get("kc")})`,
    `(loop $p_loop`,
    ...ind(1, step),
    `  (br_if $p_loop (local.tee $p (i32.sub ${get("p")} (i32.const 1))))`,
    `)`,
  );
  // C += α·s (C was zeroed first unless accumulating).
  accs.forEach((row, r) =>
    row.forEach((x, v) => {
      if (part) {
        const sum = `(f32x4.add ${loadPartial(part, rowPtr(r))} (f32x4.mul ${get("valpha")} ${get(x)}))`;
        lines.push(...storePartial(part, rowPtr(r), sum, "a0"));
      } else {
        lines.push(`(${store} offset=${16 * v} ${rowPtr(r)} (f32x4.add (${load} offset=${16 * v} ${rowPtr(r)}) (f32x4.mul ${get("valpha")} ${get(x)})))`);
      }
    }),
  );
  lines.push(bump("j", c32(W)));
  return lines;
}

/** Rows i..i+R of C across all columns: 8-wide tiles, then 4, then 1. */
function axpyRows(transA: boolean, R: number): string[] {
  return [
    `(local.set $j (i32.const 0))`,
    ...whileLoop(`j8_${R}`, `(i32.le_u (i32.add ${get("j")} (i32.const 8)) ${get("n")})`, axpyTile(transA, R, 8)),
    ...whileLoop(`j4_${R}`, `(i32.le_u (i32.add ${get("j")} (i32.const 4)) ${get("n")})`, axpyTile(transA, R, 4)),
    // The last 1–3 columns: one partial-vector tile (a scalar loop over
    // them was half of logistic regression's products, n = 10).
    `(block $tail_${R}`,
    `  (br_if $tail_${R} (i32.ge_u ${get("j")} ${get("n")}))`,
    `  (if (i32.eq (i32.sub ${get("n")} ${get("j")}) (i32.const 3))`,
    `    (then`,
    ...ind(3, axpyTile(transA, R, 3)),
    `      (br $tail_${R})))`,
    `  (if (i32.eq (i32.sub ${get("n")} ${get("j")}) (i32.const 2))`,
    `    (then`,
    ...ind(3, axpyTile(transA, R, 2)),
    `      (br $tail_${R})))`,
    ...ind(1, axpyTile(transA, R, 1)),
    `)`,
    bump("i", c32(R)),
  ];
}

function axpyKernel(name: string, transA: boolean): string[] {
  const vlocals = ["a0", "b0", "b1", "valpha", ...Array.from({ length: 4 }, (_, r) => [`c${r}0`, `c${r}1`]).flat()];
  const ilocals = ["i", "j", "p", "p0", "kc", "pa", "pb", "pc", "ldab", "ldbb", "ldcb", "lda1", "lda2", "lda3", "ldc1", "ldc2", "ldc3"];
  return [
    header(name),
    `  ${ilocals.map((l) => `(local $${l} i32)`).join(" ")}`,
    `  ${vlocals.map((l) => `(local $${l} v128)`).join(" ")}`,
    `  (local.set $valpha (f32x4.splat ${get("alpha")}))`,
    `  (local.set $ldab (i32.shl ${get("lda")} (i32.const 2)))`,
    `  (local.set $ldbb (i32.shl ${get("ldb")} (i32.const 2)))`,
    `  (local.set $ldcb (i32.shl ${get("ldc")} (i32.const 2)))`,
    `  (local.set $lda1 ${get("ldab")}) (local.set $lda2 (i32.shl ${get("ldab")} (i32.const 1))) (local.set $lda3 (i32.add ${get("lda2")} ${get("ldab")}))`,
    `  (local.set $ldc1 ${get("ldcb")}) (local.set $ldc2 (i32.shl ${get("ldcb")} (i32.const 1))) (local.set $ldc3 (i32.add ${get("ldc2")} ${get("ldcb")}))`,
    ...ind(1, zeroC()),
    `  (local.set $p0 (i32.const 0))`,
    ...ind(1, whileLoop("kblock", `(i32.lt_u ${get("p0")} ${get("k")})`, [
      `(local.set $kc (select (i32.const ${KC}) (i32.sub ${get("k")} ${get("p0")}) (i32.gt_u (i32.sub ${get("k")} ${get("p0")}) (i32.const ${KC}))))`,
      `(local.set $i (i32.const 0))`,
      ...whileLoop("i4", `(i32.le_u (i32.add ${get("i")} (i32.const 4)) ${get("m")})`, axpyRows(transA, 4)),
      // The last 1–3 rows as one tile of that height: as single rows they
      // streamed B once each (LeNet's 50 filters: 12 blocks of 4, then 2).
      ...whileLoop("i3", `(i32.le_u (i32.add ${get("i")} (i32.const 3)) ${get("m")})`, axpyRows(transA, 3)),
      ...whileLoop("i2", `(i32.le_u (i32.add ${get("i")} (i32.const 2)) ${get("m")})`, axpyRows(transA, 2)),
      ...whileLoop("i1", `(i32.lt_u ${get("i")} ${get("m")})`, axpyRows(transA, 1)),
      bump("p0", c32(KC)),
    ])),
    `)`,
  ];
}

/** Horizontal sum of an f32x4 local. */
const hsum = (x: string) =>
  `(f32.add (f32.add (f32x4.extract_lane 0 ${get(x)}) (f32x4.extract_lane 1 ${get(x)})) (f32.add (f32x4.extract_lane 2 ${get(x)}) (f32x4.extract_lane 3 ${get(x)})))`;

/** R rows × S columns of C for gemm_nt: vector partial sums over p, folded,
 * then the last k mod 4 terms as scalars. */
function dotTile(R: number, S: number): string[] {
  const rowA = (r: number) => (r === 0 ? get("pa") : `(i32.add ${get("pa")} ${get(`lda${r}`)})`);
  const rowB = (s: number) => (s === 0 ? get("pb") : `(i32.add ${get("pb")} ${get(`ldb${s}`)})`);
  const lines: string[] = [
    `(local.set $pa (i32.add ${get("a")} (i32.shl (i32.mul ${get("i")} ${get("lda")}) (i32.const 2))))`,
    `(local.set $pb (i32.add ${get("b")} (i32.shl (i32.mul ${get("j")} ${get("ldb")}) (i32.const 2))))`,
  ];
  for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) lines.push(`(local.set $v${r}${s} (v128.const i32x4 0 0 0 0))`);
  const vstep: string[] = [];
  for (let r = 0; r < R; r++) vstep.push(`(local.set $x${r} (v128.load ${rowA(r)}))`);
  for (let s = 0; s < S; s++) vstep.push(`(local.set $y${s} (v128.load ${rowB(s)}))`);
  for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) vstep.push(`(local.set $v${r}${s} (f32x4.add ${get(`v${r}${s}`)} (f32x4.mul ${get(`x${r}`)} ${get(`y${s}`)})))`);
  vstep.push(bump("pa", c32(16)), bump("pb", c32(16)), bump("p", c32(4)));
  lines.push(`(local.set $p (i32.const 0))`, ...whileLoop(`pv_${R}${S}`, `(i32.le_u (i32.add ${get("p")} (i32.const 4)) ${get("k")})`, vstep));
  for (let r = 0; r < R; r++) for (let s = 0; s < S; s++) lines.push(`(local.set $t${r}${s} ${hsum(`v${r}${s}`)})`);
  const sstep: string[] = [];
  for (let r = 0; r < R; r++) {
    for (let s = 0; s < S; s++) sstep.push(`(local.set $t${r}${s} (f32.add ${get(`t${r}${s}`)} (f32.mul (f32.load ${rowA(r)}) (f32.load ${rowB(s)}))))`);
  }
  sstep.push(bump("pa", c32(4)), bump("pb", c32(4)), bump("p", c32(1)));
  lines.push(...whileLoop(`ps_${R}${S}`, `(i32.lt_u ${get("p")} ${get("k")})`, sstep));
  // C[i+r, j+s] = α·t (+ C when accumulating)
  for (let r = 0; r < R; r++) {
    for (let s = 0; s < S; s++) {
      const addr = `(i32.add ${get("c")} (i32.shl (i32.add (i32.mul (i32.add ${get("i")} ${c32(r)}) ${get("ldc")}) (i32.add ${get("j")} ${c32(s)})) (i32.const 2)))`;
      lines.push(`(local.set $pc ${addr})`);
      lines.push(`(local.set $t${r}${s} (f32.mul ${get("alpha")} ${get(`t${r}${s}`)}))`);
      lines.push(`(f32.store ${get("pc")} (select (f32.add (f32.load ${get("pc")}) ${get(`t${r}${s}`)}) ${get(`t${r}${s}`)} ${get("acc")}))`);
    }
  }
  lines.push(bump("j", c32(S)));
  return lines;
}

function dotRows(R: number): string[] {
  return [
    `(local.set $j (i32.const 0))`,
    ...whileLoop(`j4_${R}`, `(i32.le_u (i32.add ${get("j")} (i32.const 4)) ${get("n")})`, dotTile(R, 4)),
    ...whileLoop(`j1_${R}`, `(i32.lt_u ${get("j")} ${get("n")})`, dotTile(R, 1)),
    bump("i", c32(R)),
  ];
}

function dotKernel(name: string): string[] {
  const ilocals = ["i", "j", "p", "pa", "pb", "pc", "lda1", "ldb1", "ldb2", "ldb3"];
  const vlocals = ["x0", "x1", "y0", "y1", "y2", "y3", ...[0, 1].flatMap((r) => [0, 1, 2, 3].map((s) => `v${r}${s}`))];
  const flocals = [0, 1].flatMap((r) => [0, 1, 2, 3].map((s) => `t${r}${s}`));
  return [
    header(name),
    `  ${ilocals.map((l) => `(local $${l} i32)`).join(" ")}`,
    `  ${vlocals.map((l) => `(local $${l} v128)`).join(" ")}`,
    `  ${flocals.map((l) => `(local $${l} f32)`).join(" ")}`,
    `  (local.set $lda1 (i32.shl ${get("lda")} (i32.const 2)))`,
    `  (local.set $ldb1 (i32.shl ${get("ldb")} (i32.const 2))) (local.set $ldb2 (i32.shl ${get("ldb1")} (i32.const 1))) (local.set $ldb3 (i32.add ${get("ldb2")} ${get("ldb1")}))`,
    `  (local.set $i (i32.const 0))`,
    ...ind(1, whileLoop("i2", `(i32.le_u (i32.add ${get("i")} (i32.const 2)) ${get("m")})`, dotRows(2))),
    ...ind(1, whileLoop("i1", `(i32.lt_u ${get("i")} ${get("m")})`, dotRows(1))),
    `)`,
  ];
}

/** The whole kernel module as WAT. `shared`: the memory import is a shared
 * memory (for worker threads); otherwise an ordinary one. */
export function kernelsWat(shared: boolean): string {
  return [
    ";; dlt CPU kernels: f32 matrix products with WebAssembly SIMD.",
    ";; Generated by compiler/emit/wasm/gemm.ts; do not edit.",
    "(module",
    `  (import "env" "memory" (memory 1${shared ? " 65536 shared" : ""}))`,
    ...ind(1, axpyKernel("gemm_nn", false)),
    ...ind(1, axpyKernel("gemm_tn", true)),
    ...ind(1, dotKernel("gemm_nt")),
    ...ind(1, sparseGemmWat()),
    ...ind(1, im2colWat()),
    ...ind(1, col2imWat()),
    ...ind(1, convDirectWat()),
    ...ind(1, convFilterGradWat()),
    ...ind(1, maxPoolWat()),
    ...ind(1, maxPoolGradWat()),
    ...ind(1, swap01Wat()),
    ...ind(1, reverseBlocksWat()),
    ...ind(1, copyRunsWat()),
    ...ind(1, sumAroundWat()),
    ...ind(1, maxRowsWat()),
    ...ind(1, philoxUniformWat()),
    ")",
    "",
  ].join("\n");
}
