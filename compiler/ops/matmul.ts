// matmul: 2-D matrix product op(A) @ op(B) where op transposes when the
// attribute says so. Folding transposes into the op keeps the VJPs free of
// materialized transposes: dA = ct @ B^T and dB = A^T @ ct.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
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
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const { transA, transB } = node.attrs;
      const [m, n] = node.shape as [number, number];
      const k = transA ? inTypes[0]!.shape[0]! : inTypes[0]!.shape[1]!;
      const [A, B] = ins as [string, string];
      const i = fresh("i"), j = fresh("j"), p = fresh("p"), a = fresh("a"), s = fresh("s");
      const aAt = (ii: string, pp: string) => (transA ? `${A}[${pp} * ${m} + ${ii}]` : `${A}[${ii} * ${k} + ${pp}]`);
      if (!transB) {
        // i-p-j order: the inner loop streams rows of B and C contiguously,
        // and skips zero entries of A (MNIST inputs are ~80% zeros).
        return [
          `${out}.fill(0);`,
          `for (let ${i} = 0; ${i} < ${m}; ${i}++) {`,
          `  for (let ${p} = 0; ${p} < ${k}; ${p}++) {`,
          `    const ${a} = ${aAt(i, p)};`,
          `    if (${a} === 0) continue;`,
          `    for (let ${j} = 0; ${j} < ${n}; ${j}++) ${out}[${i} * ${n} + ${j}] += ${a} * ${B}[${p} * ${n} + ${j}];`,
          `  }`,
          `}`,
        ].join("\n");
      }
      // B transposed: dot products of rows of op(A) with rows of B.
      return [
        `for (let ${i} = 0; ${i} < ${m}; ${i}++) {`,
        `  for (let ${j} = 0; ${j} < ${n}; ${j}++) {`,
        `    let ${s} = 0;`,
        `    for (let ${p} = 0; ${p} < ${k}; ${p}++) ${s} += ${aAt(i, p)} * ${B}[${j} * ${k} + ${p}];`,
        `    ${out}[${i} * ${n} + ${j}] = ${s};`,
        `  }`,
        `}`,
      ].join("\n");
    },
  },
  wgsl: null,
});
