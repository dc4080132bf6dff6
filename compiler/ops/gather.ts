// gather: rows of a table by index, table [R, ...rest] and idx i32 [...]
// -> [...idx, ...rest] (embedding lookup).
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, numel } from "../ir/types.ts";
import { defineOp } from "./op.ts";

export const gather = defineOp({
  name: "gather",
  infer: (ins) => {
    const [t, idx] = ins;
    if (!t || !idx || ins.length !== 2) throw new IRError("gather takes a table and an index tensor");
    if (t.shape.length < 1) throw new IRError(`gather: the table must have rank >= 1, got ${fmtShape(t.shape)}`, undefined, "E031");
    if (idx.dtype !== "i32") throw new IRError(`gather: indices must be i32, got ${idx.dtype}`, undefined, "E032");
    return { shape: [...idx.shape, ...t.shape.slice(1)], dtype: t.dtype };
  },
  // Rows read several times collect every cotangent: the adjoint of a gather
  // is a scatter-add onto zero rows.
  vjp: (b, n, ct) => {
    const [t, idx] = n.inputs as [number, number];
    return [b.op("scatter_add", [ct, idx], { rows: b.shape(t)[0]! }), null];
  },
  evaluate: ([t, idx], n) => {
    const rows = t!.shape[0]!, w = numel(t!.shape.slice(1));
    const out = alloc(n.shape, n.dtype);
    for (let i = 0; i < idx!.data.length; i++) {
      const r = idx!.data[i]!;
      // The oracle is strict; generated code does not bounds-check (it would
      // read undefined, i.e. NaN), so a bad label shows up here first.
      if (r < 0 || r >= rows) throw new IRError(`gather: index ${r} out of range [0, ${rows})`, n.loc);
      out.data.set(t!.data.subarray(r * w, (r + 1) * w), i * w);
    }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ out, ins, inTypes, fresh }) => {
      const w = numel(inTypes[0]!.shape.slice(1));
      const m = numel(inTypes[1]!.shape);
      const [T, I] = ins as [string, string];
      const i = fresh("i"), k = fresh("k"), r = fresh("r");
      return [
        `for (let ${i} = 0; ${i} < ${m}; ${i}++) {`,
        `  const ${r} = ${I}[${i}] * ${w};`,
        `  for (let ${k} = 0; ${k} < ${w}; ${k}++) ${out}[${i} * ${w} + ${k}] = ${T}[${r} + ${k}];`,
        `}`,
      ].join("\n");
    },
  },
  // One thread per output element: element r of the row named by its index.
  // No bounds check (a bad index reads whatever robust buffer access gives).
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ out, ins, inTypes }) => {
      const w = numel(inTypes[0]!.shape.slice(1));
      const [T, I] = ins as [string, string];
      if (w === 1) return `${out}[i] = ${T}[u32(${I}[i])];`;
      return `${out}[i] = ${T}[u32(${I}[i / ${w}u]) * ${w}u + i % ${w}u];`;
    },
  },
});
