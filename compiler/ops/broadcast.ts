// broadcast: numpy broadcasting to {shape}: the input is right-aligned
// against the output; its size-1 dims and missing leading dims repeat.
// Fused elementwise loops read a broadcast through an index map instead
// (lower/fusion.ts); this materializing kernel is for every other consumer.
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, fmtShape, strides } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { reductionMap } from "./reduce-sum.ts";
import { remap } from "./wgsl.ts";

/** Nested for-loops over `shape` (row-major); `body` gets the coordinate
 * names and returns the innermost statements. Rank 0 is just the body. */
export function loopNest(shape: Shape, fresh: (base: string) => string, body: (cs: readonly string[]) => readonly string[]): string {
  const cs = shape.map(() => fresh("c"));
  const lines: string[] = [];
  shape.forEach((d, k) => lines.push(`${"  ".repeat(k)}for (let ${cs[k]} = 0; ${cs[k]} < ${d}; ${cs[k]}++) {`));
  for (const l of body(cs)) lines.push("  ".repeat(shape.length) + l);
  shape.forEach((_, k) => lines.push(`${"  ".repeat(shape.length - 1 - k)}}`));
  return lines.join("\n");
}

/** `c0 * 12 + c1 * 4 + c2 + 7`: a flat index from coordinates and strides,
 * with zero strides and a zero offset left out. */
export function indexExpr(cs: readonly string[], st: readonly number[], offset = 0): string {
  const terms = cs.flatMap((c, k) => (st[k] === 0 ? [] : [st[k] === 1 ? c : `${c} * ${st[k]}`]));
  if (offset !== 0 || terms.length === 0) terms.push(String(offset));
  return terms.join(" + ");
}

/** Output axes along which the input repeats (its missing leading axes and
 * its size-1 axes): exactly the axes its VJP sums over. */
export function broadcastAxes(from: Shape, to: Shape): number[] {
  const lead = to.length - from.length;
  const axes: number[] = [];
  for (let i = 0; i < to.length; i++) if (i < lead || from[i - lead] !== to[i]) axes.push(i);
  return axes;
}

export const broadcast = defineOp({
  name: "broadcast",
  infer: ([x], { shape }) => {
    const from = x!.shape;
    const lead = shape.length - from.length;
    if (lead < 0 || from.some((d, k) => d !== 1 && d !== shape[lead + k])) {
      throw new IRError(`cannot broadcast ${fmtShape(from)} to ${fmtShape(shape)}`, undefined, "E031");
    }
    return { shape: [...shape], dtype: x!.dtype };
  },
  vjp: (b, n, ct) => [b.unbroadcast(ct, b.shape(n.inputs[0]!))],
  evaluate: ([x], n) => {
    // Reading the input at the "reduced" index of each output element: the
    // input, padded with leading 1s, is the kept shape of that reduction.
    const m = reductionMap(n.shape, broadcastAxes(x!.shape, n.shape));
    const out = alloc(n.shape, n.dtype);
    for (let i = 0; i < m.length; i++) out.data[i] = x!.data[m[i]!]!;
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const from = inTypes[0]!.shape;
      const lead = node.shape.length - from.length;
      const ist = strides(from);
      // Stride 0 along repeated axes: the same source element is re-read.
      const st = node.shape.map((_, k) => (k < lead || from[k - lead] === 1 ? 0 : ist[k - lead]!));
      const o = fresh("o");
      return `let ${o} = 0;\n` + loopNest(node.shape, fresh, (cs) => [`${out}[${o}++] = ${ins[0]}[${indexExpr(cs, st)}];`]);
    },
  },
  // One thread per output element, reading the input at stride 0 along the
  // repeated axes.
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins, inTypes }) => {
      const from = inTypes[0]!.shape;
      const lead = node.shape.length - from.length;
      const ist = strides(from);
      const st = node.shape.map((_, k) => (k < lead || from[k - lead] === 1 ? 0 : ist[k - lead]!));
      return `${out}[i] = ${ins[0]}[${remap("i", node.shape, st)}];`;
    },
  },
});
