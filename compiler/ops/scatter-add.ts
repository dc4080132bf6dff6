// scatter_add: sums update rows into `rows` zero rows by index, updates
// [...idx, ...rest] and idx i32 [...idx] -> [rows, ...rest]. The adjoint of
// gather; repeated indices accumulate.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, numel, shapeEq } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { zeroLit } from "./wgsl.ts";

export const scatter_add = defineOp({
  name: "scatter_add",
  infer: (ins, { rows }) => {
    const [u, idx] = ins;
    if (!u || !idx || ins.length !== 2) throw new IRError("scatter_add takes updates and an index tensor");
    if (idx.dtype !== "i32") throw new IRError(`scatter_add: indices must be i32, got ${idx.dtype}`, undefined, "E032");
    const k = idx.shape.length;
    if (u.shape.length < k || !shapeEq(u.shape.slice(0, k), idx.shape)) {
      throw new IRError(`scatter_add: updates ${fmtShape(u.shape)} do not start with the index shape ${fmtShape(idx.shape)}`, undefined, "E031");
    }
    if (!Number.isInteger(rows) || rows < 0) throw new IRError(`scatter_add: bad row count ${rows}`, undefined, "E031");
    return { shape: [rows, ...u.shape.slice(k)], dtype: u.dtype };
  },
  // Each update row came from output row idx[i]: its cotangent is that row.
  vjp: (b, n, ct) => [b.op("gather", [ct, n.inputs[1]!], {}), null],
  evaluate: ([u, idx], n) => {
    const rows = n.attrs.rows, w = numel(n.shape.slice(1));
    const out = alloc(n.shape, n.dtype);
    for (let i = 0; i < idx!.data.length; i++) {
      const r = idx!.data[i]!;
      if (r < 0 || r >= rows) throw new IRError(`scatter_add: index ${r} out of range [0, ${rows})`, n.loc);
      for (let k = 0; k < w; k++) out.data[r * w + k] += u!.data[i * w + k]!;
    }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const w = numel(node.shape.slice(1));
      const m = numel(inTypes[1]!.shape);
      const [U, I] = ins as [string, string];
      const i = fresh("i"), k = fresh("k"), r = fresh("r");
      return [
        `${out}.fill(0);`,
        `for (let ${i} = 0; ${i} < ${m}; ${i}++) {`,
        `  const ${r} = ${I}[${i}] * ${w};`,
        `  for (let ${k} = 0; ${k} < ${w}; ${k}++) ${out}[${r} + ${k}] += ${U}[${i} * ${w} + ${k}];`,
        `}`,
      ].join("\n");
    },
  },
  // WGSL has no float atomics: one thread per output element scans every
  // index and sums the updates aimed at its row, in index order (as
  // `evaluate` does). O(rows * w * indices) work, without races.
  wgsl: {
    kind: "kernel",
    // Every index, for every output element.
    loopTrips: (_n, [, idx]) => numel(idx!.shape),
    body: ({ node, out, ins, inTypes, fresh }) => {
      const w = numel(node.shape.slice(1));
      const m = numel(inTypes[1]!.shape);
      const [U, I] = ins as [string, string];
      const row = fresh("row"), c = fresh("c"), s = fresh("s"), q = fresh("q");
      return [
        `let ${row} = i32(${w === 1 ? "i" : `i / ${w}u`});`,
        `let ${c} = ${w === 1 ? "0u" : `i % ${w}u`};`,
        `var ${s} = ${zeroLit(node.dtype)};`,
        `for (var ${q} = 0u; ${q} < ${m}u; ${q}++) {`,
        `  if (${I}[${q}] == ${row}) { ${s} += ${U}[${w === 1 ? q : `${q} * ${w}u`} + ${c}]; }`,
        `}`,
        `${out}[i] = ${s};`,
      ].join("\n");
    },
  },
});
