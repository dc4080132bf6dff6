// one_hot: i32 labels [...] -> f32 indicator rows [..., depth]. A label
// outside [0, depth) gives an all-zero row (tf.one_hot), never a stray write.
import { alloc } from "../ir/tensor.ts";
import { IRError, numel } from "../ir/types.ts";
import { defineOp } from "./op.ts";

export const one_hot = defineOp({
  name: "one_hot",
  infer: ([x], { depth }) => {
    if (x!.dtype !== "i32") throw new IRError(`one_hot needs i32 labels, got ${x!.dtype}`, undefined, "E032");
    if (!Number.isInteger(depth) || depth < 1) throw new IRError(`one_hot: depth ${depth} is not a positive integer`, undefined, "E031");
    // f32 by contract (attrs carry no dtype); f64 graphs cast the result.
    return { shape: [...x!.shape, depth], dtype: "f32" };
  },
  vjp: () => [null],
  evaluate: ([x], n) => {
    const depth = n.attrs.depth;
    const out = alloc(n.shape, n.dtype);
    for (let i = 0; i < x!.data.length; i++) {
      const l = x!.data[i]!;
      if (l >= 0 && l < depth) out.data[i * depth + l] = 1;
    }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const depth = node.attrs.depth;
      const i = fresh("i"), l = fresh("l");
      return [
        `${out}.fill(0);`,
        `for (let ${i} = 0; ${i} < ${numel(inTypes[0]!.shape)}; ${i}++) {`,
        `  const ${l} = ${ins[0]}[${i}];`,
        `  if (${l} >= 0 && ${l} < ${depth}) ${out}[${i} * ${depth} + ${l}] = 1;`,
        `}`,
      ].join("\n");
    },
  },
  // One thread per output element: 1 where the label equals the position
  // along depth, so a label outside [0, depth) gives an all-zero row.
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop
    body: ({ node, out, ins }) => {
      const depth = node.attrs.depth;
      const label = depth === 1 ? `${ins[0]}[i]` : `${ins[0]}[i / ${depth}u]`;
      const pos = depth === 1 ? "0i" : `i32(i % ${depth}u)`;
      return `${out}[i] = select(0.0f, 1.0f, ${label} == ${pos});`;
    },
  },
});
