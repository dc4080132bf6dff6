// reduce_sum: sums over the listed axes (which are removed from the shape).
import type { Builder } from "../ir/builder.ts";
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, numel, strides } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { reductionLoops, reductionTrips, zeroLit } from "./wgsl.ts";

export function reducedShape(shape: Shape, axes: readonly number[]): number[] {
  for (const a of axes) if (a < 0 || a >= shape.length) throw new IRError(`reduction axis ${a} out of range for rank ${shape.length}`, undefined, "E031");
  return shape.filter((_, i) => !axes.includes(i));
}

/** The shape with reduced axes kept as 1 (for broadcasting a result back). */
export function keptShape(shape: Shape, axes: readonly number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

/** Whether `axes` (sorted) are the last `axes.length` dimensions. */
export function isSuffix(axes: readonly number[], rank: number): boolean {
  return axes.length > 0 && axes.every((a, i) => a === rank - axes.length + i);
}

/** For each input flat index, the flat index of the reduced output element. */
export function reductionMap(shape: Shape, axes: readonly number[]): Int32Array {
  const outShape = keptShape(shape, axes);
  const ost = strides(outShape);
  const ist = strides(shape);
  const n = shape.reduce((a, b) => a * b, 1);
  const m = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let o = 0;
    for (let d = 0; d < shape.length; d++) {
      const c = Math.floor(i / ist[d]!) % shape[d]!;
      if (!axes.includes(d)) o += c * ost[d]!;
    }
    m[i] = o;
  }
  return m;
}

/** Broadcasts a reduced value back over the reduced axes (VJP helper). */
export function expandReduced(b: Builder, g: number, shape: Shape, axes: readonly number[]): number {
  return b.broadcastTo(b.reshape(g, keptShape(shape, axes)), shape);
}

/** [outer, mid, inner] when `axes` (sorted) are a leading block and a
 * trailing block of `shape` around kept axes, with something reduced at the
 * front (a sum of trailing axes only is the contiguous-run loop above). */
export function sumAround(shape: Shape, axes: readonly number[]): { outer: number; mid: number; inner: number } | undefined {
  const kept = shape.map((_, k) => k).filter((k) => !axes.includes(k));
  if (kept.length === 0 || !axes.includes(0)) return undefined;
  const [lo, hi] = [kept[0]!, kept[kept.length - 1]!];
  if (kept.length !== hi - lo + 1) return undefined;
  const prod = (a: number, b: number) => shape.slice(a, b).reduce((p, d) => p * d, 1);
  return { outer: prod(0, lo), mid: prod(lo, hi + 1), inner: prod(hi + 1, shape.length) };
}

export const reduce_sum = defineOp({
  name: "reduce_sum",
  infer: ([x], { axes }) => ({ shape: reducedShape(x!.shape, axes), dtype: x!.dtype }),
  // Every summed element receives the output's cotangent.
  vjp: (b, n, ct) => [expandReduced(b, ct, b.shape(n.inputs[0]!), n.attrs.axes)],
  evaluate: ([x], n) => {
    const out = alloc(n.shape, n.dtype);
    const m = reductionMap(x!.shape, n.attrs.axes);
    for (let i = 0; i < m.length; i++) out.data[m[i]!] += x!.data[i]!;
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh, addr, kernels }) => {
      const shape = inTypes[0]!.shape;
      const axes = node.attrs.axes;
      if (isSuffix(axes, shape.length)) {
        // Reducing trailing axes: each output is a contiguous run of the input,
        // summed in a local (in f64, rounded once on the store).
        const inner = axes.reduce((p, a) => p * shape[a]!, 1);
        const outer = numel(node.shape);
        const o = fresh("o"), k = fresh("k"), s = fresh("s");
        return [
          `for (let ${o} = 0; ${o} < ${outer}; ${o}++) {`,
          `  let ${s} = 0;`,
          `  for (let ${k} = ${o} * ${inner}; ${k} < ${o} * ${inner} + ${inner}; ${k}++) ${s} += ${ins[0]}[${k}];`,
          `  ${out}[${o}] = ${s};`,
          `}`,
        ].join("\n");
      }
      // Leading and trailing axes around a kept block (a bias gradient: Σ
      // over the batch, and over the map of a convolution's output): one
      // wasm kernel call (compiler/emit/wasm/sums.ts) for f32.
      const around = sumAround(shape, axes);
      if (around && node.dtype === "f32") {
        return kernelCall(kernels, "sumAround", { src: addr(ins[0]!), dst: addr(out), ...around }, `Σ ${ins[0]} → ${out}`);
      }
      // General case: walk the input in row-major order; the output index is
      // the kept coordinates times the output strides.
      const ost = strides(keptShape(shape, axes));
      const idx = shape.map(() => fresh("c"));
      const src = fresh("s");
      const lines = [`${out}.fill(0);`, `let ${src} = 0;`];
      shape.forEach((d, k) => lines.push(`${"  ".repeat(k)}for (let ${idx[k]} = 0; ${idx[k]} < ${d}; ${idx[k]}++) {`));
      const off = shape.map((_, k) => (axes.includes(k) ? null : ost[k] === 1 ? idx[k] : `${idx[k]} * ${ost[k]}`)).filter((x) => x !== null);
      const pad = "  ".repeat(shape.length);
      lines.push(`${pad}${out}[${off.length ? off.join(" + ") : "0"}] += ${ins[0]}[${src}++];`);
      shape.forEach((_, k) => lines.push(`${"  ".repeat(shape.length - 1 - k)}}`));
      return lines.join("\n");
    },
  },
  // One thread per output element, looping over its reduced elements in
  // row-major order (nested loops over the reduced axes).
  wgsl: {
    kind: "kernel",
    // The nested loops over the reduced axes (the planner sends most sums to
    // the reduction templates instead: compiler/emit/wgsl/templates.ts).
    loopTrips: (n, [x]) => reductionTrips(x!.shape, n.attrs.axes),
    body: (k) => {
      const { base, loops, offset, close } = reductionLoops(k.node.shape, k.inTypes[0]!.shape, k.node.attrs.axes, k.fresh);
      const s = k.fresh("s");
      return [
        `var ${s} = ${zeroLit(k.node.dtype)};`,
        ...base,
        ...loops,
        `${"  ".repeat(loops.length)}${s} += ${k.ins[0]}[${offset}];`,
        ...close,
        `${k.out}[i] = ${s};`,
      ].join("\n");
    },
  },
});
