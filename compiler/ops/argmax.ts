// argmax: index (i32) of the largest element along one axis, which is
// removed; the first index wins a tie (numpy/Theano).
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, numel } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { isNan } from "./wgsl.ts";

/** Splits a shape around `axis` into (outer, n, inner) extents. */
export function aroundAxis(shape: Shape, axis: number): { outer: number; n: number; inner: number } {
  return { outer: numel(shape.slice(0, axis)), n: shape[axis]!, inner: numel(shape.slice(axis + 1)) };
}

/** Normalises a possibly negative axis, throwing when it is out of range. */
export function checkAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) throw new IRError(`${op}: axis ${axis} out of range for rank ${rank}`, undefined, "E031");
  return a;
}

export const argmax = defineOp({
  name: "argmax",
  infer: ([x], { axis }) => {
    const a = checkAxis("argmax", axis, x!.shape.length);
    if (x!.shape[a] === 0) throw new IRError("argmax over an empty axis", undefined, "E031");
    return { shape: x!.shape.filter((_, i) => i !== a), dtype: "i32" };
  },
  // An index is piecewise constant in the values: no gradient.
  vjp: () => [null],
  evaluate: ([x], n) => {
    const { outer, n: len, inner } = aroundAxis(x!.shape, checkAxis("argmax", n.attrs.axis, x!.shape.length));
    const out = alloc(n.shape, "i32");
    const d = x!.data;
    for (let o = 0; o < outer; o++) {
      for (let j = 0; j < inner; j++) {
        let best = d[o * len * inner + j]!, bi = 0;
        // Strict >: the first maximum wins (and a NaN never wins).
        for (let k = 1; k < len; k++) {
          const v = d[(o * len + k) * inner + j]!;
          if (v > best) { best = v; bi = k; }
        }
        out.data[o * inner + j] = bi;
      }
    }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const shape = inTypes[0]!.shape;
      const { outer, n, inner } = aroundAxis(shape, checkAxis("argmax", node.attrs.axis, shape.length));
      const o = fresh("o"), j = fresh("j"), k = fresh("k"), best = fresh("best"), bi = fresh("bi"), v = fresh("v");
      const x = ins[0]!;
      return [
        `for (let ${o} = 0; ${o} < ${outer}; ${o}++) {`,
        `  for (let ${j} = 0; ${j} < ${inner}; ${j}++) {`,
        `    let ${best} = ${x}[${o} * ${n * inner} + ${j}], ${bi} = 0;`,
        `    for (let ${k} = 1; ${k} < ${n}; ${k}++) {`,
        `      const ${v} = ${x}[(${o} * ${n} + ${k}) * ${inner} + ${j}];`,
        `      if (${v} > ${best}) { ${best} = ${v}; ${bi} = ${k}; }`,
        `    }`,
        `    ${out}[${o} * ${inner} + ${j}] = ${bi};`,
        `  }`,
        `}`,
      ].join("\n");
    },
  },
  // One thread per output element (o, j): strict >, so the first maximum
  // wins. NaN, as in evaluate: a NaN first element is never beaten and a
  // later NaN never wins. Both are tested on the bits: Mesa rewrites the
  // compare-and-swap into max(), which skips a NaN first element.
  wgsl: {
    kind: "kernel",
    // Elements 1..n-1 of the reduced axis.
    loopTrips: (n, [x]) => x!.shape[checkAxis("argmax", n.attrs.axis, x!.shape.length)]! - 1,
    body: ({ node, out, ins, inTypes, fresh }) => {
      const shape = inTypes[0]!.shape;
      const { outer, n, inner } = aroundAxis(shape, checkAxis("argmax", node.attrs.axis, shape.length));
      const b = fresh("b"), best = fresh("best"), bi = fresh("bi"), q = fresh("k"), v = fresh("v");
      const o = outer === 1 ? null : inner === 1 ? "i" : `(i / ${inner}u)`;
      const j = inner === 1 ? null : outer === 1 ? "i" : `(i % ${inner}u)`;
      const baseTerms = [o && `${o} * ${n * inner}u`, j].filter((x) => x !== null);
      const step = inner === 1 ? q : `${q} * ${inner}u`;
      const float = inTypes[0]!.dtype === "f32" || inTypes[0]!.dtype === "f64";
      return [
        `let ${b} = ${baseTerms.length ? baseTerms.join(" + ") : "0u"};`,
        `var ${best} = ${ins[0]}[${b}];`,
        `var ${bi} = 0u;`,
        `for (var ${q} = ${float ? `select(1u, ${n}u, ${isNan(best)})` : "1u"}; ${q} < ${n}u; ${q}++) {`,
        `  let ${v} = ${ins[0]}[${b} + ${step}];`,
        `  if (${v} > ${best}${float ? ` && !${isNan(v)}` : ""}) { ${best} = ${v}; ${bi} = ${q}; }`,
        `}`,
        `${out}[i] = i32(${bi});`,
      ].join("\n");
    },
  },
});
