// matmul: 2-D matrix product op(A) @ op(B) where op transposes when the
// attribute says so. Folding transposes into the op keeps the VJPs free of
// materialized transposes: dA = ct @ B^T and dB = A^T @ ct.
import { shortestF32 } from "../ir/f32.ts";
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
import type { Node, TensorType } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { sparseListSize } from "../emit/wasm/sparse.ts";
import { splitsProduct, splitsSparseProduct } from "../emit/wasm/split-rule.ts";
import { defineOp } from "./op.ts";

export const matmul = defineOp({
  name: "matmul",
  infer: (ins, { transA, transB }) => {
    const [a, b] = ins;
    if (!a || !b || ins.length !== 2) throw new IRError("matmul takes 2 operands");
    if (a.shape.length !== 2 || b.shape.length !== 2) {
      throw new IRError(`matmul needs 2-D operands, got ${fmtShape(a.shape)} and ${fmtShape(b.shape)}`, undefined, "E031");
    }
    const [m, k] = transA ? [a.shape[1]!, a.shape[0]!] : [a.shape[0]!, a.shape[1]!];
    const [k2, n] = transB ? [b.shape[1]!, b.shape[0]!] : [b.shape[0]!, b.shape[1]!];
    if (k !== k2) {
      throw new IRError(`matmul: inner dimensions differ: ${fmtShape(a.shape)}${transA ? "ᵀ" : ""} @ ${fmtShape(b.shape)}${transB ? "ᵀ" : ""}`, undefined, "E031");
    }
    if (a.dtype !== b.dtype || !isFloat(a.dtype)) throw new IRError(`matmul needs float operands of one dtype, got ${a.dtype} and ${b.dtype}`, undefined, "E032");
    return { shape: [m, n], dtype: a.dtype };
  },
  vjp: (b, n, ct) => {
    const [x, y] = n.inputs as [number, number];
    const { transA, transB } = n.attrs;
    // C = op(A) op(B). For A: dA = ct op(B)^T, transposed back if transA.
    const dA = transA ? b.matmul(y, ct, transB, true) : b.matmul(ct, y, false, !transB);
    const dB = transB ? b.matmul(ct, x, true, transA) : b.matmul(x, ct, !transA, false);
    return [dA, dB];
  },
  evaluate: ([a, bb], n) => {
    const { transA, transB } = n.attrs;
    const [m, nn] = n.shape as [number, number];
    const A = a!.data;
    const B = bb!.data;
    const k = transA ? a!.shape[0]! : a!.shape[1]!;
    const as0 = a!.shape[1]!;
    const bs0 = bb!.shape[1]!;
    const out = alloc(n.shape, n.dtype);
    const C = out.data;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < nn; j++) {
        let s = 0;
        for (let p = 0; p < k; p++) {
          const av = transA ? A[p * as0 + i]! : A[i * as0 + p]!;
          const bv = transB ? B[j * bs0 + p]! : B[p * bs0 + j]!;
          s += av * bv;
        }
        C[i * nn + j] = s;
      }
    }
    return out;
  },
  // The WebAssembly SIMD products (runtime/cpu/kernels.ts): shapes and
  // addresses as constants. Aᵀ·Bᵀ, which no kernel computes, transposes B
  // into a scratch buffer first (no spec reaches it: a VJP only produces it
  // from a product with both operands transposed).
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, dataInputs, binaryInputs, scratch, addr, kernels }) => {
      if (node.dtype !== "f32") throw new Error(`matmul %${node.id}: the CPU kernels compute f32, not ${node.dtype}`);
      const [A, B] = ins as [string, string];
      if (!(node.attrs.transA && node.attrs.transB)) {
        return gemmCall(node, inTypes, { A, B, out, addr, kernels, scratch }, { accumulate: false, alpha: 1, sparseA: dataInputs?.[0] ?? false, binaryA: binaryInputs?.[0] ?? false })!;
      }
      const [m, n] = node.shape as [number, number];
      const k = inTypes[0]!.shape[0]!;
      const bt = scratch("Float32Array", k * n);
      return [
        kernelCall(kernels, "swap01Blocks", { src: addr(B), dst: addr(bt), rows: n, cols: k, block: 1 }, `${B}ᵀ → ${bt}`),
        kernelCall(kernels, "gemm", { a: addr(A), b: addr(bt), c: addr(out), m, n, k, lda: m, ldb: n, ldc: n, transA: true, transB: false, accumulate: false, alpha: 1, split: splitsProduct(m, n, k) }, `${A}ᵀ @ ${B}ᵀ → ${out}`),
      ].join("\n");
    },
  },
  // Shared-memory tiles: a 16×16 workgroup computes a block of C of
  // (16·rm)×(16·rn) (x over columns, y over rows), each invocation rm×rn
  // elements 16 apart (stores stay coalesced), stepping through k 16 at a
  // time. rm and rn are chosen per shape at compile time (`matmulTile`).
  // Every invocation reaches both barriers (the k loop has a literal bound
  // and bounds checks only guard loads and the store), and a transposed
  // operand is loaded along its contiguous axis, so reads stay coalesced.
  // Each element of C is the same sum in the same order whatever the tile.
  wgsl: {
    kind: "tiled",
    // ⌈k/16⌉ tiles, each with a 16-step loop over its depth (the loads and
    // the rm×rn products are unrolled).
    loopTrips: (n, [a]) => Math.ceil((n.attrs.transA ? a!.shape[0]! : a!.shape[1]!) / 16) * 17,
    entry: ({ node, out, ins, inTypes, fresh }) => {
      const T = 16;
      const { transA, transB } = node.attrs;
      const [m, n] = node.shape as [number, number];
      const k = transA ? inTypes[0]!.shape[0]! : inTypes[0]!.shape[1]!;
      const { rm, rn } = matmulTile(m, n);
      const BM = T * rm, BN = T * rn;
      const [A, B] = ins as [string, string];
      const tA = fresh("tileA"), tB = fresh("tileB"), t = fresh("t"), p = fresh("p"), li = fresh("li");
      const accs = Array.from({ length: rm }, () => Array.from({ length: rn }, () => fresh("acc")));
      const acc = (i: number, j: number) => accs[i]![j]!;
      const av = Array.from({ length: rm }, () => fresh("a")), bv = Array.from({ length: rn }, () => fresh("b"));
      // Element e = li + 256·i of each tile: which row/column and depth it
      // is, read along the operand's contiguous axis.
      const loads: string[] = [];
      for (let i = 0; i < rm; i++) {
        const e = `(${li} + ${256 * i}u)`;
        const [r, d] = transA ? [`${e} % ${BM}u`, `${e} / ${BM}u`] : [`${e} / ${T}u`, `${e} % ${T}u`];
        const ar = `(wid.y * ${BM}u + ${r})`, ad = `(${t} * ${T}u + ${d})`;
        const at = transA ? `${ad} * ${m}u + ${ar}` : `${ar} * ${k}u + ${ad}`;
        loads.push(`${tA}[(${r}) * ${T}u + ${d}] = select(0.0f, ${A}[min(${at}, ${m * k - 1}u)], ${ar} < ${m}u && ${ad} < ${k}u);`);
      }
      for (let j = 0; j < rn; j++) {
        const e = `(${li} + ${256 * j}u)`;
        const [c, d] = transB ? [`${e} / ${T}u`, `${e} % ${T}u`] : [`${e} % ${BN}u`, `${e} / ${BN}u`];
        const bc = `(wid.x * ${BN}u + ${c})`, bd = `(${t} * ${T}u + ${d})`;
        const at = transB ? `${bc} * ${k}u + ${bd}` : `${bd} * ${n}u + ${bc}`;
        loads.push(`${tB}[(${d}) * ${BN}u + ${c}] = select(0.0f, ${B}[min(${at}, ${k * n - 1}u)], ${bd} < ${k}u && ${bc} < ${n}u);`);
      }
      const products: string[] = [];
      for (let i = 0; i < rm; i++) products.push(`let ${av[i]} = ${tA}[(lid.y + ${T * i}u) * ${T}u + ${p}];`);
      for (let j = 0; j < rn; j++) products.push(`let ${bv[j]} = ${tB}[${p} * ${BN}u + lid.x + ${T * j}u];`);
      for (let i = 0; i < rm; i++) for (let j = 0; j < rn; j++) products.push(`${acc(i, j)} += ${av[i]} * ${bv[j]};`);
      const stores: string[] = [];
      for (let i = 0; i < rm; i++) {
        for (let j = 0; j < rn; j++) {
          const row = `(wid.y * ${BM}u + lid.y + ${T * i}u)`, col = `(wid.x * ${BN}u + lid.x + ${T * j}u)`;
          stores.push(`if (${row} < ${m}u && ${col} < ${n}u) { ${out}[${row} * ${n}u + ${col}] = ${acc(i, j)}; }`);
        }
      }
      const body = [
        `let ${li} = lid.y * ${T}u + lid.x;`,
        ...Array.from({ length: rm * rn }, (_, x) => `var ${acc(Math.floor(x / rn), x % rn)} = 0.0f;`),
        `for (var ${t} = 0u; ${t} < ${Math.ceil(k / T)}u; ${t}++) {`,
        ...loads.map((l) => `  ${l}`),
        `  workgroupBarrier();`,
        `  for (var ${p} = 0u; ${p} < ${T}u; ${p}++) {`,
        ...products.map((l) => `    ${l}`),
        `  }`,
        `  workgroupBarrier();`,
        `}`,
        ...stores,
      ].join("\n");
      return {
        decls: `var<workgroup> ${tA}: array<f32, ${BM * T}>;\nvar<workgroup> ${tB}: array<f32, ${T * BN}>;`,
        body,
        workgroupSize: [T, T, 1],
        workgroups: [Math.ceil(n / BN), Math.ceil(m / BM), 1],
      };
    },
  },
});

/** Fewest workgroups a product's grid keeps when its tile grows: below this
 * a real GPU leaves compute units idle (an H200 has 132), so a larger tile's
 * register reuse would not pay. */
const MIN_WORKGROUPS = 64;

/** The WGSL product's tile per shape: each invocation computes rm×rn
 * elements (1, 2 or 4 each way: a 16×16 to 64×64 block a workgroup), the
 * most the shape allows while the grid keeps MIN_WORKGROUPS workgroups.
 * Every loaded element of A is used rn times from a register, every one of
 * B rm times; the workgroup's tiles take (rm + rn)·16·16·4 bytes, at most
 * 8 KiB of the 16 KiB WebGPU guarantees. */
export function matmulTile(m: number, n: number): { rm: 1 | 2 | 4; rn: 1 | 2 | 4 } {
  let best: { rm: 1 | 2 | 4; rn: 1 | 2 | 4 } = { rm: 1, rn: 1 };
  for (const rm of [1, 2, 4] as const) {
    for (const rn of [1, 2, 4] as const) {
      // A block no wider than C (or one invocation's worth): n = 10 in a
      // 64-wide block would be 84 % padding.
      if ((rm > 1 && 16 * rm > m) || (rn > 1 && 16 * rn > n)) continue;
      const groups = Math.ceil(m / (16 * rm)) * Math.ceil(n / (16 * rn));
      if (groups >= MIN_WORKGROUPS && rm * rn > best.rm * best.rn) best = { rm, rn };
    }
  }
  return best;
}

/** Shortest rows of C for the kernels that skip A's zeros: listing A's
 * non-zeros costs about what a product of a few columns does (logistic
 * regression's 10 columns ran 3× slower with the earlier zero-skipping
 * kernel; the MLP's 500, 58 % faster). */
const SPARSE_MIN_COLUMNS = 64;

/** How a product's left operand is known to look (compiler/lower/lower.ts):
 * mostly zeros (a data input's pixels, a corrupted input, a sample), and
 * whether every element is exactly 0 or 1. */
export interface SparseHint {
  readonly sparseA?: boolean;
  readonly binaryA?: boolean;
}

/** The WebAssembly kernel call computing `out (+)= alpha · op(A) @ op(B)`,
 * or undefined when one call cannot (not f32, a buffer outside the model's
 * memory, both operands transposed). An address is a constant, or the
 * expression of an input read where the batch lies
 * (compiler/emit/ts/in-place-inputs.ts). Shared by the op's own emitter and by
 * the fused SGD update (compiler/lower/fused-update.ts, rendered by
 * compiler/emit/ts/render.ts), which accumulates the product straight into a
 * parameter. An A that is mostly zeros (or 0/1) takes the kernels that list
 * its non-zeros in the scratch and combine only those rows of B
 * (compiler/emit/wasm/sparse.ts; the runtime takes the dense kernel when the
 * count says A is dense), bitwise the dense result either way. */
export function gemmCall(
  node: Node<"matmul">,
  inTypes: readonly TensorType[],
  bufs: { readonly A: string; readonly B: string; readonly out: string; addr(b: string): number | string | undefined; readonly kernels: string; scratch(ctor: "Int32Array", size: number): string },
  how: { readonly accumulate: boolean; readonly alpha: number } & SparseHint,
): string | undefined {
  const { transA, transB } = node.attrs;
  const { A, B, out, addr, kernels, scratch } = bufs;
  const [pa, pb, pc] = [addr(A), addr(B), addr(out)];
  if (node.dtype !== "f32" || pa === undefined || pb === undefined || pc === undefined || (transA && transB)) return undefined;
  const [m, n] = node.shape as [number, number];
  const k = transA ? inTypes[0]!.shape[0]! : inTypes[0]!.shape[1]!;
  // alpha is an f32 parameter of the kernel: the shortest decimal with that
  // f32 value (`-0.01`) passes exactly the number the kernel computes with.
  const alpha = shortestF32(how.alpha);
  const what = how.accumulate ? `${out} += ${alpha} · ${A} @ ${B}` : `${A} @ ${B} → ${out}`;
  const [lda, ldb] = [inTypes[0]!.shape[1]!, inTypes[1]!.shape[1]!];
  // The list-driven kernels read rows of B: there is no Bᵀ variant.
  if ((how.sparseA === true || how.binaryA === true) && !transB && n >= SPARSE_MIN_COLUMNS) {
    const binary = how.binaryA === true;
    const list = scratch("Int32Array", sparseListSize(m, k));
    const args = { a: pa, b: pb, c: pc, m, n, k, lda, ldb, ldc: n, transA, accumulate: how.accumulate, alpha, binary, list: addr(list)!, split: splitsSparseProduct(m, n, k) };
    return kernelCall(kernels, "gemmSparse", args, `${what} (${binary ? `${A} is 0/1: rows of ${B} summed` : `${A}'s zeros skipped`})`);
  }
  const args = { a: pa, b: pb, c: pc, m, n, k, lda, ldb, ldc: n, transA, transB, accumulate: how.accumulate, alpha, split: splitsProduct(m, n, k) };
  return kernelCall(kernels, "gemm", args, what);
}
