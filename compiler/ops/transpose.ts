// transpose: permutes axes; output axis i is input axis perm[i].
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, strides } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { indexExpr, loopNest } from "./broadcast.ts";
import { remap } from "./wgsl.ts";

/** Input strides in output-axis order: reading the input at output coords. */
function permutedStrides(inShape: Shape, perm: readonly number[]): number[] {
  const st = strides(inShape);
  return perm.map((p) => st[p]!);
}

export const transpose = defineOp({
  name: "transpose",
  infer: ([x], { perm }) => {
    const r = x!.shape.length;
    const seen = new Set(perm);
    if (perm.length !== r || seen.size !== r || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= r)) {
      throw new IRError(`transpose: [${perm.join(", ")}] is not a permutation of ${r} axes`, undefined, "E031");
    }
    return { shape: perm.map((p) => x!.shape[p]!), dtype: x!.dtype };
  },
  // Undo the permutation: inverse[perm[i]] = i.
  vjp: (b, n, ct) => {
    const inv = new Array<number>(n.attrs.perm.length);
    n.attrs.perm.forEach((p, i) => (inv[p] = i));
    return [b.transpose(ct, inv)];
  },
  evaluate: ([x], n) => {
    const st = permutedStrides(x!.shape, n.attrs.perm);
    const out = alloc(n.shape, n.dtype);
    const c = new Array<number>(n.shape.length).fill(0);
    let src = 0;
    // Odometer over output coordinates, keeping the source offset in step.
    for (let o = 0; o < out.data.length; o++) {
      out.data[o] = x!.data[src]!;
      for (let k = c.length - 1; k >= 0; k--) {
        c[k]!++;
        src += st[k]!;
        if (c[k]! < n.shape[k]!) break;
        src -= st[k]! * c[k]!;
        c[k] = 0;
      }
    }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh, addr, kernels }) => {
      // Exchanging the two leading axes moves whole trailing blocks: block
      // copies in wasm (compiler/emit/wasm/layout.ts), for the conv VJPs.
      // Other permutations and dtypes (bool, f64): index loops.
      const { perm } = node.attrs;
      const fourBytes = node.dtype === "f32" || node.dtype === "i32";
      if (fourBytes && perm.length >= 2 && perm[0] === 1 && perm[1] === 0 && perm.every((p, i) => i < 2 || p === i)) {
        const [rows, cols] = inTypes[0]!.shape as [number, number];
        const block = inTypes[0]!.shape.slice(2).reduce((a, b) => a * b, 1);
        return kernelCall(kernels, "swap01Blocks", { src: addr(ins[0]!), dst: addr(out), rows, cols, block }, `${ins[0]} → ${out}`);
      }
      const st = permutedStrides(inTypes[0]!.shape, node.attrs.perm);
      const o = fresh("o");
      return `let ${o} = 0;\n` + loopNest(node.shape, fresh, (cs) => [`${out}[${o}++] = ${ins[0]}[${indexExpr(cs, st)}];`]);
    },
  },
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins, inTypes }) =>
      `${out}[i] = ${ins[0]}[${remap("i", node.shape, permutedStrides(inTypes[0]!.shape, node.attrs.perm))}];`,
  },
});
