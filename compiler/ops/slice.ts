// slice: the box [starts, ends) of every axis (no steps, no negatives).
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, fmtShape, strides } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { indexExpr, loopNest } from "./broadcast.ts";
import { remap } from "./wgsl.ts";

/** Calls f(outFlat, inFlat) for every element of the box of `inner` placed
 * at `offset` inside `outer` (row-major in the box). Shared by slice/pad. */
export function forEachInBox(outer: Shape, offset: readonly number[], inner: Shape, f: (boxFlat: number, outerFlat: number) => void): void {
  const st = strides(outer);
  const c = new Array<number>(inner.length).fill(0);
  const n = inner.reduce((a, d) => a * d, 1);
  let at = offset.reduce((a, o, k) => a + o * st[k]!, 0);
  for (let i = 0; i < n; i++) {
    f(i, at);
    for (let k = c.length - 1; k >= 0; k--) {
      c[k]!++;
      at += st[k]!;
      if (c[k]! < inner[k]!) break;
      at -= st[k]! * c[k]!;
      c[k] = 0;
    }
  }
}

export const slice = defineOp({
  name: "slice",
  infer: ([x], { starts, ends }) => {
    const s = x!.shape;
    const ok = starts.length === s.length && ends.length === s.length &&
      s.every((d, k) => Number.isInteger(starts[k]) && Number.isInteger(ends[k]) && 0 <= starts[k]! && starts[k]! <= ends[k]! && ends[k]! <= d);
    if (!ok) throw new IRError(`slice [${starts.join(", ")}]..[${ends.join(", ")}] does not fit ${fmtShape(s)}`, undefined, "E031");
    return { shape: s.map((_, k) => ends[k]! - starts[k]!), dtype: x!.dtype };
  },
  // The cut-away elements did not contribute: pad the cotangent with zeros.
  vjp: (b, n, ct) => {
    const s = b.shape(n.inputs[0]!);
    const { starts, ends } = n.attrs;
    return [b.op("pad", [ct], { before: [...starts], after: s.map((d, k) => d - ends[k]!) })];
  },
  evaluate: ([x], n) => {
    const out = alloc(n.shape, n.dtype);
    forEachInBox(x!.shape, n.attrs.starts, n.shape, (o, i) => (out.data[o] = x!.data[i]!));
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const st = strides(inTypes[0]!.shape);
      const off = node.attrs.starts.reduce((a, s, k) => a + s * st[k]!, 0);
      const o = fresh("o");
      return `let ${o} = 0;\n` + loopNest(node.shape, fresh, (cs) => [`${out}[${o}++] = ${ins[0]}[${indexExpr(cs, st, off)}];`]);
    },
  },
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins, inTypes }) => {
      const st = strides(inTypes[0]!.shape);
      const off = node.attrs.starts.reduce((a, s, k) => a + s * st[k]!, 0);
      return `${out}[i] = ${ins[0]}[${remap("i", node.shape, st, off)}];`;
    },
  },
});
