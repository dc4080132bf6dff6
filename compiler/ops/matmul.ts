// matmul: 2-D matrix product op(A) @ op(B) where op transposes when the
// attribute says so. Folding transposes into the op keeps the VJPs free of
// materialized transposes: dA = ct @ B^T and dB = A^T @ ct.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
import type { Node, TensorType } from "../ir/types.ts";
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
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, dataInputs, fresh, scratch, addr, kernels }) => {
      const { transA, transB } = node.attrs;
      const [m, n] = node.shape as [number, number];
      const k = transA ? inTypes[0]!.shape[0]! : inTypes[0]!.shape[1]!;
      const [A, B] = ins as [string, string];
      // f32 operands in the model's memory: the WebAssembly SIMD kernels
      // (runtime/cpu/kernels.ts), shapes and addresses as constants.
      const call = gemmCall(node, inTypes, { A, B, out, addr, kernels }, { accumulate: false, alpha: 1, sparseA: dataInputs?.[0] ?? false });
      if (call !== undefined) return call;
      const i = fresh("i"), j = fresh("j"), p = fresh("p"), a = fresh("a"), s = fresh("s");
      const aAt = (ii: string, pp: string) => (transA ? `${A}[${pp} * ${m} + ${ii}]` : `${A}[${ii} * ${k} + ${pp}]`);
      if (!transB) {
        // Row i of C is a combination of rows of B weighted by row i of op(A).
        // The nonzero weights are gathered first (MNIST pixels and their
        // gradients are ~80% zeros), then applied four at a time so each
        // element of C is loaded and stored once per four rows of B.
        const idx = scratch("Int32Array", k + 3), val = scratch("Float64Array", k + 3);
        const nnz = fresh("nnz"), q = fresh("q"), o = fresh("o");
        const [a0, a1, a2, a3, b0, b1, b2, b3] = ["a", "a", "a", "a", "b", "b", "b", "b"].map((x) => fresh(x));
        return [
          `for (let ${i} = 0; ${i} < ${m}; ${i}++) {`,
          `  let ${nnz} = 0;`,
          `  for (let ${p} = 0; ${p} < ${k}; ${p}++) {`,
          `    const ${a} = ${aAt(i, p)};`,
          `    if (${a} !== 0) { ${idx}[${nnz}] = ${p} * ${n}; ${val}[${nnz}] = ${a}; ${nnz}++; }`,
          `  }`,
          `  const ${o} = ${i} * ${n};`,
          `  ${out}.fill(0, ${o}, ${o} + ${n});`,
          `  let ${q} = 0;`,
          `  for (; ${q} + 4 <= ${nnz}; ${q} += 4) {`,
          `    const ${a0} = ${val}[${q}], ${a1} = ${val}[${q} + 1], ${a2} = ${val}[${q} + 2], ${a3} = ${val}[${q} + 3];`,
          `    const ${b0} = ${idx}[${q}], ${b1} = ${idx}[${q} + 1], ${b2} = ${idx}[${q} + 2], ${b3} = ${idx}[${q} + 3];`,
          `    for (let ${j} = 0; ${j} < ${n}; ${j}++) {`,
          `      ${out}[${o} + ${j}] += ${a0} * ${B}[${b0} + ${j}] + ${a1} * ${B}[${b1} + ${j}] + ${a2} * ${B}[${b2} + ${j}] + ${a3} * ${B}[${b3} + ${j}];`,
          `    }`,
          `  }`,
          // The last 1–3 rows in one pass too (sparse rows often have only these).
          `  const ${a0} = ${val}[${q}], ${a1} = ${val}[${q} + 1], ${a2} = ${val}[${q} + 2];`,
          `  const ${b0} = ${idx}[${q}], ${b1} = ${idx}[${q} + 1], ${b2} = ${idx}[${q} + 2];`,
          `  switch (${nnz} - ${q}) {`,
          `    case 3: for (let ${j} = 0; ${j} < ${n}; ${j}++) ${out}[${o} + ${j}] += ${a0} * ${B}[${b0} + ${j}] + ${a1} * ${B}[${b1} + ${j}] + ${a2} * ${B}[${b2} + ${j}]; break;`,
          `    case 2: for (let ${j} = 0; ${j} < ${n}; ${j}++) ${out}[${o} + ${j}] += ${a0} * ${B}[${b0} + ${j}] + ${a1} * ${B}[${b1} + ${j}]; break;`,
          `    case 1: for (let ${j} = 0; ${j} < ${n}; ${j}++) ${out}[${o} + ${j}] += ${a0} * ${B}[${b0} + ${j}]; break;`,
          `  }`,
          `}`,
        ].join("\n");
      }
      // B transposed: dot products of rows of op(A) with rows of B, four
      // columns of C at a time so each element of A is loaded once per four
      // multiply-adds (four independent sums also keep the CPU's adders busy).
      const n4 = n - (n % 4);
      const o = fresh("o");
      const [s0, s1, s2, s3, r0, r1, r2, r3] = ["s", "s", "s", "s", "r", "r", "r", "r"].map((x) => fresh(x));
      const lines = [
        `for (let ${i} = 0; ${i} < ${m}; ${i}++) {`,
        `  for (let ${j} = 0; ${j} < ${n4}; ${j} += 4) {`,
        `    let ${s0} = 0, ${s1} = 0, ${s2} = 0, ${s3} = 0;`,
        `    const ${r0} = ${j} * ${k}, ${r1} = ${r0} + ${k}, ${r2} = ${r1} + ${k}, ${r3} = ${r2} + ${k};`,
        `    for (let ${p} = 0; ${p} < ${k}; ${p}++) {`,
        `      const ${a} = ${aAt(i, p)};`,
        `      ${s0} += ${a} * ${B}[${r0} + ${p}]; ${s1} += ${a} * ${B}[${r1} + ${p}]; ${s2} += ${a} * ${B}[${r2} + ${p}]; ${s3} += ${a} * ${B}[${r3} + ${p}];`,
        `    }`,
        `    const ${o} = ${i} * ${n} + ${j};`,
        `    ${out}[${o}] = ${s0}; ${out}[${o} + 1] = ${s1}; ${out}[${o} + 2] = ${s2}; ${out}[${o} + 3] = ${s3};`,
        `  }`,
      ];
      if (n4 < n) {
        lines.push(
          `  for (let ${j} = ${n4}; ${j} < ${n}; ${j}++) {`,
          `    let ${s} = 0;`,
          `    for (let ${p} = 0; ${p} < ${k}; ${p}++) ${s} += ${aAt(i, p)} * ${B}[${j} * ${k} + ${p}];`,
          `    ${out}[${i} * ${n} + ${j}] = ${s};`,
          `  }`,
        );
      }
      lines.push(`}`);
      return lines.join("\n");
    },
  },
  // Shared-memory tiles: a 16×16 workgroup computes a 16×16 block of C (x
  // over columns, y over rows), stepping through k 16 at a time. Every
  // invocation reaches both barriers (the k loop has a literal bound and
  // bounds checks only guard loads and the store), and a transposed operand
  // is loaded with lid.x along its contiguous axis, so reads stay coalesced.
  wgsl: {
    kind: "tiled",
    entry: ({ node, out, ins, inTypes, fresh }) => {
      const T = 16;
      const { transA, transB } = node.attrs;
      const [m, n] = node.shape as [number, number];
      const k = transA ? inTypes[0]!.shape[0]! : inTypes[0]!.shape[1]!;
      const [A, B] = ins as [string, string];
      const tA = fresh("tileA"), tB = fresh("tileB");
      const row = fresh("row"), col = fresh("col"), acc = fresh("acc"), t = fresh("t"), p = fresh("p");
      const ar = fresh("ar"), ap = fresh("ap"), bp = fresh("bp"), bc = fresh("bc"), va = fresh("va"), vb = fresh("vb");
      // Which element of op(A) (row ar, depth ap) and of op(B) (depth bp,
      // column bc) this invocation loads, and where it goes in the tiles.
      const loadA = transA
        ? [`let ${ar} = wid.y * ${T}u + lid.x;`, `let ${ap} = ${t} * ${T}u + lid.y;`, `var ${va} = 0.0f;`,
           `if (${ar} < ${m}u && ${ap} < ${k}u) { ${va} = ${A}[${ap} * ${m}u + ${ar}]; }`, `${tA}[lid.x * ${T}u + lid.y] = ${va};`]
        : [`let ${ar} = wid.y * ${T}u + lid.y;`, `let ${ap} = ${t} * ${T}u + lid.x;`, `var ${va} = 0.0f;`,
           `if (${ar} < ${m}u && ${ap} < ${k}u) { ${va} = ${A}[${ar} * ${k}u + ${ap}]; }`, `${tA}[lid.y * ${T}u + lid.x] = ${va};`];
      const loadB = transB
        ? [`let ${bc} = wid.x * ${T}u + lid.y;`, `let ${bp} = ${t} * ${T}u + lid.x;`, `var ${vb} = 0.0f;`,
           `if (${bp} < ${k}u && ${bc} < ${n}u) { ${vb} = ${B}[${bc} * ${k}u + ${bp}]; }`, `${tB}[lid.x * ${T}u + lid.y] = ${vb};`]
        : [`let ${bc} = wid.x * ${T}u + lid.x;`, `let ${bp} = ${t} * ${T}u + lid.y;`, `var ${vb} = 0.0f;`,
           `if (${bp} < ${k}u && ${bc} < ${n}u) { ${vb} = ${B}[${bp} * ${n}u + ${bc}]; }`, `${tB}[lid.y * ${T}u + lid.x] = ${vb};`];
      const body = [
        `let ${row} = wid.y * ${T}u + lid.y;`,
        `let ${col} = wid.x * ${T}u + lid.x;`,
        `var ${acc} = 0.0f;`,
        `for (var ${t} = 0u; ${t} < ${Math.ceil(k / T)}u; ${t}++) {`,
        `  {`,
        ...loadA.map((l) => `    ${l}`),
        `  }`,
        `  {`,
        ...loadB.map((l) => `    ${l}`),
        `  }`,
        `  workgroupBarrier();`,
        `  for (var ${p} = 0u; ${p} < ${T}u; ${p}++) {`,
        `    ${acc} += ${tA}[lid.y * ${T}u + ${p}] * ${tB}[${p} * ${T}u + lid.x];`,
        `  }`,
        `  workgroupBarrier();`,
        `}`,
        `if (${row} < ${m}u && ${col} < ${n}u) { ${out}[${row} * ${n}u + ${col}] = ${acc}; }`,
      ].join("\n");
      return {
        decls: `var<workgroup> ${tA}: array<f32, ${T * T}>;\nvar<workgroup> ${tB}: array<f32, ${T * T}>;`,
        body,
        workgroupSize: [T, T, 1],
        workgroups: [Math.ceil(n / T), Math.ceil(m / T), 1],
      };
    },
  },
});

/** Shortest rows of C for which skipping A's zeros pays (measured: the
 * MLP's 500 columns +58 %, logistic regression's 10 columns −65 %). */
const SPARSE_MIN_COLUMNS = 64;

/** The WebAssembly kernel call computing `out (+)= alpha · op(A) @ op(B)`,
 * or undefined when the product cannot use one (not f32, a buffer outside
 * the model's memory, both operands transposed). Shared by the op's own
 * emitter and by the fused SGD update (compiler/emit/ts/update.ts), which
 * accumulates the product straight into a parameter. */
export function gemmCall(
  node: Node<"matmul">,
  inTypes: readonly TensorType[],
  bufs: { readonly A: string; readonly B: string; readonly out: string; addr(b: string): number | undefined; readonly kernels: string },
  how: { readonly accumulate: boolean; readonly alpha: number; readonly sparseA?: boolean },
): string | undefined {
  const { transA, transB } = node.attrs;
  const { A, B, out, addr, kernels } = bufs;
  const [pa, pb, pc] = [addr(A), addr(B), addr(out)];
  if (node.dtype !== "f32" || pa === undefined || pb === undefined || pc === undefined || (transA && transB)) return undefined;
  const [m, n] = node.shape as [number, number];
  const k = transA ? inTypes[0]!.shape[0]! : inTypes[0]!.shape[1]!;
  // A data input on the left (pixels, mostly zeros): the kernels that skip
  // its zeros (compiler/emit/wasm/sparse.ts), when rows of C are long enough
  // to pay for the per-element setup (logistic regression's 10 columns ran
  // 3× slower that way); there is no Bᵀ variant.
  const sparse = how.sparseA === true && !transB && n >= SPARSE_MIN_COLUMNS;
  const kernel = (transA ? "gemm_tn" : transB ? "gemm_nt" : "gemm_nn") + (sparse ? "_sx" : "");
  const lda = inTypes[0]!.shape[1]!, ldb = inTypes[1]!.shape[1]!;
  // alpha as the f32 the kernel will see, printed exactly (Math.fround keeps
  // the emitted text and the computed value the same number).
  const alpha = Math.fround(how.alpha);
  const what = how.accumulate ? `${out} += ${alpha} · ${A} @ ${B}` : `${A} @ ${B} → ${out}`;
  return `${kernels}.${kernel}(${pa}, ${pb}, ${pc}, ${m}, ${n}, ${k}, ${lda}, ${ldb}, ${n}, ${how.accumulate ? 1 : 0}, ${alpha}); // ${what}`;
}
