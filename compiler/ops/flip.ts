// flip: reverses the listed axes (conv2d's gradients flip filters along the
// two spatial axes). A permutation of elements, so its VJP is flip again.
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, strides } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { loopNest } from "./broadcast.ts";
import { coord } from "./wgsl.ts";

/** Flat source offset of output coordinates `cs` (flipped along `axes`). */
function flippedIndex(shape: Shape, axes: readonly number[], cs: readonly number[]): number {
  const st = strides(shape);
  return cs.reduce((a, c, d) => a + (axes.includes(d) ? shape[d]! - 1 - c : c) * st[d]!, 0);
}

export const flip = defineOp({
  name: "flip",
  infer: ([x], { axes }) => {
    const r = x!.shape.length;
    if (axes.some((a) => !Number.isInteger(a) || a < 0 || a >= r) || new Set(axes).size !== axes.length) {
      throw new IRError(`flip: axes [${axes.join(", ")}] are not distinct axes of a rank-${r} tensor`, undefined, "E031");
    }
    return { shape: [...x!.shape], dtype: x!.dtype };
  },
  vjp: (b, n, ct) => [b.op("flip", [ct], { axes: [...n.attrs.axes] })],
  evaluate: ([x], n) => {
    const shape = x!.shape;
    const out = alloc(shape, n.dtype);
    const c = new Array<number>(shape.length).fill(0);
    for (let o = 0; o < out.data.length; o++) {
      out.data[o] = x!.data[flippedIndex(shape, n.attrs.axes, c)]!;
      for (let k = c.length - 1; k >= 0; k--) {
        if (++c[k]! < shape[k]!) break;
        c[k] = 0;
      }
    }
    return out;
  },
  // Output in row-major order; the source index runs backwards along flipped
  // axes (the innermost loop stays contiguous, possibly descending).
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, fresh, addr, kernels }) => {
      const shape = node.shape;
      // Flipping every trailing axis from some t on (axes of size 1 aside)
      // reverses contiguous blocks: a wasm kernel (compiler/emit/wasm/layout.ts).
      // Other axis sets and dtypes (bool, f64): index loops.
      const flipped = node.attrs.axes.filter((d) => shape[d]! > 1);
      const t = flipped.length ? Math.min(...flipped) : shape.length;
      const fourBytes = node.dtype === "f32" || node.dtype === "i32";
      if (fourBytes && shape.every((n, d) => d < t || n <= 1 || flipped.includes(d))) {
        const blocks = shape.slice(0, t).reduce((a, b) => a * b, 1), block = shape.slice(t).reduce((a, b) => a * b, 1);
        return kernelCall(kernels, "reverseBlocks", { src: addr(ins[0]!), dst: addr(out), blocks, block }, `${ins[0]} → ${out}`);
      }
      const st = strides(shape);
      const o = fresh("o");
      const terms = (cs: readonly string[]) => {
        let off = 0;
        const t: string[] = [];
        cs.forEach((c, d) => {
          if (shape[d]! <= 1) return;
          if (node.attrs.axes.includes(d)) {
            off += (shape[d]! - 1) * st[d]!;
            t.push(st[d] === 1 ? `-${c}` : `-${c} * ${st[d]}`);
          } else t.push(st[d] === 1 ? `+${c}` : `+${c} * ${st[d]}`);
        });
        return `${off} ${t.join(" ")}`.trim();
      };
      return `let ${o} = 0;\n` + loopNest(shape, fresh, (cs) => [`${out}[${o}++] = ${ins[0]}[${terms(cs)}];`]);
    },
  },
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins }) => {
      const shape = node.shape;
      const st = strides(shape);
      const t = shape.flatMap((d, k) => {
        if (d <= 1) return [];
        const c = coord("i", shape, k);
        const v = node.attrs.axes.includes(k) ? `(${d - 1}u - ${c})` : c;
        return [st[k] === 1 ? v : `${v} * ${st[k]}u`];
      });
      return `${out}[i] = ${ins[0]}[${t.length ? t.join(" + ") : "0u"}];`;
    },
  },
});
