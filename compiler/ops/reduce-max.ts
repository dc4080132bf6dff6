// reduce_max: maximum over the listed axes (which are removed from the shape).
import { alloc } from "../ir/tensor.ts";
import { type DType, numel, strides } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { expandReduced, keptShape, reducedShape, reductionMap } from "./reduce-sum.ts";
import { f32Lit, isNan, lit, reductionLoops, reductionTrips } from "./wgsl.ts";

/** The identity of max in a buffer of this dtype: -Infinity would store as 0
 * in an Int32Array, silently capping every max of negatives at 0. */
function lowest(dtype: DType): number {
  return dtype === "i32" ? -2147483648 : dtype === "bool" ? 0 : -Infinity;
}

export const reduce_max = defineOp({
  name: "reduce_max",
  infer: ([x], { axes }) => ({ shape: reducedShape(x!.shape, axes), dtype: x!.dtype }),
  // The cotangent goes to every position equal to the max (all of them on a
  // tie, as Theano's max does); the test compares with the output
  // broadcast back, so it needs no argmax.
  vjp: (b, n, ct) => {
    const x = n.inputs[0]!;
    const shape = b.shape(x);
    const axes = n.attrs.axes;
    const hit = b.compare("eq", x, expandReduced(b, n.id, shape, axes));
    return [b.select(hit, expandReduced(b, ct, shape, axes), b.fill(0, x))];
  },
  evaluate: ([x], n) => {
    const m = reductionMap(x!.shape, n.attrs.axes);
    // Accumulate in f64 so the -Infinity start works for every dtype.
    const acc = new Float64Array(numel(n.shape)).fill(-Infinity);
    // Math.max propagates NaN like numpy's max.
    for (let i = 0; i < m.length; i++) acc[m[i]!] = Math.max(acc[m[i]!]!, x!.data[i]!);
    const out = alloc(n.shape, n.dtype);
    out.data.set(acc);
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh, addr, kernels }) => {
      const shape = inTypes[0]!.shape;
      const axes = node.attrs.axes;
      // Trailing axes (a softmax's max over its classes): rows of L
      // contiguous elements — f32 rows by the SIMD kernel (the same floats:
      // max is exact), others with the max kept in a local. Trap: the
      // general loop below re-reads and re-writes out[o] per element, ~6 ns
      // each.
      const first = shape.length - axes.length;
      const L = numel(shape.slice(first));
      const rows = numel(shape.slice(0, first));
      if (axes.length > 0 && L > 0 && axes.every((a) => a >= first) && node.dtype === "f32" && rows > 0) {
        return kernelCall(kernels, "maxRows", { src: addr(ins[0]!), dst: addr(out), rows, n: L }, `max over each row of ${L} → ${out}`);
      }
      if (axes.length > 0 && L > 0 && axes.every((a) => a >= first)) {
        const r = fresh("r"), j = fresh("j"), m = fresh("m"), src = fresh("s");
        return [
          `let ${src} = 0;`,
          `for (let ${r} = 0; ${r} < ${numel(shape.slice(0, first))}; ${r}++) {`,
          `  let ${m} = ${String(lowest(node.dtype))};`,
          `  for (let ${j} = 0; ${j} < ${L}; ${j}++) ${m} = Math.max(${m}, ${ins[0]}[${src}++]);`,
          `  ${out}[${r}] = ${m};`,
          `}`,
        ].join("\n");
      }
      const ost = strides(keptShape(shape, axes));
      const idx = shape.map(() => fresh("c"));
      const o = fresh("o"), src = fresh("s");
      const lines = [`${out}.fill(${String(lowest(node.dtype))});`, `let ${src} = 0;`];
      shape.forEach((d, k) => lines.push(`${"  ".repeat(k)}for (let ${idx[k]} = 0; ${idx[k]} < ${d}; ${idx[k]}++) {`));
      const off = shape.flatMap((_, k) => (axes.includes(k) ? [] : [`${idx[k]} * ${ost[k]}`]));
      const pad = "  ".repeat(shape.length);
      lines.push(`${pad}const ${o} = ${off.length ? off.join(" + ") : "0"};`);
      lines.push(`${pad}${out}[${o}] = Math.max(${out}[${o}], ${ins[0]}[${src}++]);`);
      shape.forEach((_, k) => lines.push(`${"  ".repeat(shape.length - 1 - k)}}`));
      return lines.join("\n");
    },
  },
  // One thread per output element. The max starts from the first reduced
  // element; a NaN is taken and then kept, as Math.max propagates it (tested
  // on the bits: compilers may assume NaN absent). An empty reduction gives
  // the dtype's lowest.
  wgsl: {
    kind: "kernel",
    loopTrips: (n, [x]) => (n.attrs.axes.some((a) => x!.shape[a] === 0) ? 0 : reductionTrips(x!.shape, n.attrs.axes)),
    body: (k) => {
      const shape = k.inTypes[0]!.shape;
      const axes = k.node.attrs.axes;
      if (axes.some((a) => shape[a] === 0)) {
        const low = k.node.dtype === "i32" || k.node.dtype === "bool" ? lit(lowest(k.node.dtype), k.node.dtype, "i") : f32Lit(-Infinity, "i");
        return `${k.out}[i] = ${low};`;
      }
      const { b, base, loops, offset, close } = reductionLoops(k.node.shape, shape, axes, k.fresh);
      const m = k.fresh("m"), v = k.fresh("v");
      const float = k.node.dtype === "f32" || k.node.dtype === "f64";
      const pad = "  ".repeat(loops.length);
      return [
        ...base,
        `var ${m} = ${k.ins[0]}[${b}];`,
        ...loops,
        `${pad}let ${v} = ${k.ins[0]}[${offset}];`,
        float
          ? `${pad}if (!${isNan(m)} && (${v} > ${m} || ${isNan(v)})) { ${m} = ${v}; }`
          : `${pad}if (${v} > ${m}) { ${m} = ${v}; }`,
        ...close,
        `${k.out}[i] = ${m};`,
      ].join("\n");
    },
  },
});
