// pad: zero padding, `before[k]` and `after[k]` elements on each side of axis k.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, strides } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { indexExpr, loopNest } from "./broadcast.ts";
import { forEachInBox } from "./slice.ts";

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
    emit: ({ node, out, ins, inTypes, fresh }) => {
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
  wgsl: null,
});
