// pad: zero padding, `before[k]` and `after[k]` elements on each side of axis k.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, numel, strides } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { indexExpr, loopNest } from "./broadcast.ts";
import { boxCopy, forEachInBox } from "./slice.ts";
import { coord, zeroLit } from "./wgsl.ts";

export const pad = defineOp({
  name: "pad",
  infer: ([x], { before, after }) => {
    const s = x!.shape;
    const ok = before.length === s.length && after.length === s.length &&
      s.every((_, k) => Number.isInteger(before[k]) && Number.isInteger(after[k]) && before[k]! >= 0 && after[k]! >= 0);
    if (!ok) throw new IRError(`pad [${before.join(", ")}]/[${after.join(", ")}] does not fit ${fmtShape(s)}`, undefined, "E031");
    return { shape: s.map((d, k) => before[k]! + d + after[k]!), dtype: x!.dtype };
  },
  // The padding is constant: the input's cotangent is the interior.
  vjp: (b, n, ct) => {
    const s = b.shape(n.inputs[0]!);
    const { before } = n.attrs;
    return [b.op("slice", [ct], { starts: [...before], ends: s.map((d, k) => before[k]! + d) })];
  },
  evaluate: ([x], n) => {
    const out = alloc(n.shape, n.dtype);
    forEachInBox(n.shape, n.attrs.before, x!.shape, (i, o) => (out.data[o] = x!.data[i]!));
    return out;
  },
  ts: {
    kind: "kernel",
    emit: (ctx) => {
      const { node, out, ins, inTypes, fresh } = ctx;
      const inShape = inTypes[0]!.shape;
      const call = boxCopy(ctx, node.dtype, { buffer: ins[0]!, shape: inShape, at: inShape.map(() => 0) }, { buffer: out, shape: node.shape, at: node.attrs.before }, inShape);
      if (call) return `${out}.fill(0);\n${call}`;
      const st = strides(node.shape);
      const off = node.attrs.before.reduce((a, s, k) => a + s * st[k]!, 0);
      const i = fresh("i");
      return [
        `${out}.fill(0);`,
        `let ${i} = 0;`,
        loopNest(inTypes[0]!.shape, fresh, (cs) => [`${out}[${indexExpr(cs, st, off)}] = ${ins[0]}[${i}++];`]),
      ].join("\n");
    },
  },
  // One thread per output element: inside the interior box it copies, in
  // the padding it writes zero. `c - before < n` in u32 also rejects c <
  // before (the difference wraps around).
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins, inTypes, fresh }) => {
      const inShape = inTypes[0]!.shape;
      const ist = strides(inShape);
      const { before } = node.attrs;
      if (numel(inShape) === 0) return `${out}[i] = ${zeroLit(node.dtype)};`;
      const lines: string[] = [];
      const conds: string[] = [];
      const terms: string[] = [];
      node.shape.forEach((d, k) => {
        if (d === 1 && before[k] === 0) return;
        const c = fresh("c");
        lines.push(`let ${c} = ${coord("i", node.shape, k)};`);
        const rel = before[k] === 0 ? c : `(${c} - ${before[k]}u)`;
        if (before[k] !== 0 || inShape[k] !== d) conds.push(`${rel} < ${inShape[k]}u`);
        if (ist[k] !== 0 && inShape[k] !== 1) terms.push(ist[k] === 1 ? rel : `${rel} * ${ist[k]}u`);
      });
      const src = `${ins[0]}[${terms.length ? terms.join(" + ") : "0u"}]`;
      if (conds.length === 0) return [...lines, `${out}[i] = ${src};`].join("\n");
      return [
        ...lines,
        `if (${conds.join(" && ")}) {`,
        `  ${out}[i] = ${src};`,
        `} else {`,
        `  ${out}[i] = ${zeroLit(node.dtype)};`,
        `}`,
      ].join("\n");
    },
  },
});
