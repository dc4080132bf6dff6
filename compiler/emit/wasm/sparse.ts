// Matrix products whose left operand is a data input, mostly zeros (MNIST:
// 81 % of the pixels), in the runtime's kernel module:
//
//   gemm_nn_sx(a, b, c, m, n, k, lda, ldb, ldc, acc, alpha)  C (+)= α·A·B
//   gemm_tn_sx(…same…)                                        C (+)= α·Aᵀ·B
//
// Same contract as gemm_nn / gemm_tn (compiler/emit/wasm/gemm.ts), and
// when op(A) is 40 % non-zero or more they are what runs; otherwise another
// loop order: for each row i of C and each p, when A's element is not +0,
// C[i, :] += (α·a)·B[p, :]; a zero element skips its whole row of B. The
// register-blocked kernels cannot skip anything (a 4×8 tile's four A values
// are rarely all zero, and testing them costs as much as it saves), while
// this order costs ~2× a multiply-add but does only the 19 % that are not
// multiplied by zero. Row i of C (n floats) stays in L1 across p.
//
// Rounding differs from the dense kernels (C accumulates term by term, and α
// scales a before the product); a skipped term is an exact +0 (a·b = ±0 for
// finite b; an Inf or NaN in B times a zero pixel is skipped, where the dense
// kernel would propagate NaN — the next non-zero pixel propagates it anyway).

import { add, bytes, c32, forLoop, GEMM_PARAMS, gemmHeader, get, mul, set } from "./wat.ts";

function sparseKernel(name: string, transA: boolean): string[] {
  const locals = [
    ...["i", "p", "j", "rowc", "rowb", "q", "e"].map((l) => `(local $${l} i32)`),
    "(local $av f32)",
    "(local $v v128)",
  ].join(" ");
  // A[i, p] (nn) or A[p, i] (tn), as f32.
  const aAt = transA ? add(get("a"), bytes(add(mul(get("p"), get("lda")), get("i")))) : add(get("a"), bytes(add(mul(get("i"), get("lda")), get("p"))));
  const row = [
    set("av", `(f32.load ${aAt})`),
    `(if (i32.reinterpret_f32 ${get("av")}) (then`,
    `  ${set("av", `(f32.mul ${get("alpha")} ${get("av")})`)}`,
    `  ${set("v", `(f32x4.splat ${get("av")})`)}`,
    `  ${set("rowb", add(get("b"), bytes(mul(get("p"), get("ldb")))))}`,
    `  ${set("q", c32(0))}`,
    `  (block $vj_end (loop $vj_loop`,
    `    (br_if $vj_end (i32.gt_u ${add(get("q"), c32(16))} ${get("e")}))`,
    `    (v128.store ${add(get("rowc"), get("q"))} (f32x4.add (v128.load ${add(get("rowc"), get("q"))}) (f32x4.mul ${get("v")} (v128.load ${add(get("rowb"), get("q"))}))))`,
    `    ${set("q", add(get("q"), c32(16)))}`,
    `    (br $vj_loop)))`,
    `  (block $sj_end (loop $sj_loop`,
    `    (br_if $sj_end (i32.ge_u ${get("q")} ${get("e")}))`,
    `    (f32.store ${add(get("rowc"), get("q"))} (f32.add (f32.load ${add(get("rowc"), get("q"))}) (f32.mul ${get("av")} (f32.load ${add(get("rowb"), get("q"))}))))`,
    `    ${set("q", add(get("q"), c32(4)))}`,
    `    (br $sj_loop)))`,
    `))`,
  ];
  const body = [
    // Count op(A)'s non-zeros first (m·k loads against m·n·k multiply-adds):
    // at 40 % or more, the dense kernel is faster (this order costs ~2.2× a
    // multiply-add), so the call goes there.
    set("q", c32(0)),
    ...forLoop("i", get("m"), forLoop("p", get("k"), [set("q", add(get("q"), `(i32.ne (i32.reinterpret_f32 (f32.load ${aAt})) (i32.const 0))`))])),
    `(if (i32.ge_u (i32.mul ${get("q")} (i32.const 5)) (i32.shl ${mul(get("m"), get("k"))} (i32.const 1))) (then`,
    `  (call $${name.replace("_sx", "")} ${GEMM_PARAMS.map(get).join(" ")} ${get("alpha")})`,
    `  (return)))`,
    set("e", bytes(get("n"))),
    ...forLoop("i", get("m"), [
      set("rowc", add(get("c"), bytes(mul(get("i"), get("ldc"))))),
      `(if (i32.eqz ${get("acc")}) (then (memory.fill ${get("rowc")} (i32.const 0) ${get("e")})))`,
      ...forLoop("p", get("k"), row),
    ]),
  ];
  return [gemmHeader(name), `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}

export function sparseGemmWat(): string[] {
  return [...sparseKernel("gemm_nn_sx", false), ...sparseKernel("gemm_tn_sx", true)];
}
