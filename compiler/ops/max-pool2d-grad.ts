// max_pool2d_grad: the VJP of max_pool2d as a primitive. Inputs x [N, C, H, W]
// (the pooled input) and ct [N, C, ⌊H/ph⌋, ⌊W/pw⌋]; the output is shaped like
// x: each window's cotangent at the position of the window's maximum (the
// first in row-major order within the window on ties; where a window holds a
// NaN the position is unspecified), zero elsewhere, including the rows and
// columns no window covers (ignore_border=True).
//
// VJP: the output is linear in ct (a fixed selection), so ct's cotangent is
// the incoming cotangent read back at the selected positions: the window sums
// of g · max_pool2d_grad(x, 1). The x operand gets none (null): the output is
// piecewise constant in x (the selection only changes where two window
// elements tie, a set of measure zero), so its derivative is zero wherever
// it exists.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, shapeEq } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { pooledShape } from "./max-pool2d.ts";

export const max_pool2d_grad = defineOp({
  name: "max_pool2d_grad",
  infer: (ins, { size }) => {
    const [x, ct] = ins;
    if (!x || !ct || ins.length !== 2) throw new IRError("max_pool2d_grad takes 2 operands (x, cotangent)");
    const pooled = pooledShape(x.shape, size, "max_pool2d_grad");
    if (!shapeEq(pooled, ct.shape)) throw new IRError(`max_pool2d_grad: the cotangent is ${fmtShape(ct.shape)}, the pooled input ${fmtShape(pooled)}`, undefined, "E031");
    if (x.dtype !== ct.dtype) throw new IRError(`max_pool2d_grad needs operands of one dtype, got ${x.dtype} and ${ct.dtype}`, undefined, "E032");
    return { shape: [...x.shape], dtype: x.dtype };
  },
  vjp: (b, n, g) => {
    const [x, ct] = n.inputs as [number, number];
    const [N, C, Ho, Wo] = b.shape(ct) as [number, number, number, number];
    const [ph, pw] = n.attrs.size as [number, number];
    const mask = b.op("max_pool2d_grad", [x, b.fill(1, ct)], { size: [ph, pw] });
    let sel = b.mul(g, mask);
    const [, , H, W] = b.shape(x) as [number, number, number, number];
    if (H !== Ho * ph || W !== Wo * pw) sel = b.op("slice", [sel], { starts: [0, 0, 0, 0], ends: [N, C, Ho * ph, Wo * pw] });
    const windows = b.sum(b.reshape(sel, [N, C, Ho, ph, Wo, pw]), [3, 5]);
    return [null, windows];
  },
  evaluate: ([x, ct], n) => {
    const [, , H, W] = x!.shape as [number, number, number, number];
    const [N, C, Ho, Wo] = ct!.shape as [number, number, number, number];
    const [ph, pw] = n.attrs.size as [number, number];
    const out = alloc(n.shape, n.dtype);
    for (let pl = 0; pl < N * C; pl++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let at = (pl * H + i * ph) * W + j * pw;
          let m = x!.data[at]!;
          for (let a = 0; a < ph; a++)
            for (let c = 0; c < pw; c++) {
              const k = (pl * H + i * ph + a) * W + j * pw + c;
              if (x!.data[k]! > m) (m = x!.data[k]!), (at = k);
            }
          out.data[at] = ct!.data[(pl * Ho + i) * Wo + j]!;
        }
    return out;
  },
  // The wasm kernel (compiler/emit/wasm/pool.ts), f32.
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, addr, kernels }) => {
      if (node.dtype !== "f32") throw new Error(`max_pool2d_grad %${node.id}: the CPU kernel computes f32, not ${node.dtype}`);
      const [, , H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [N, C, Ho, Wo] = inTypes[1]!.shape as [number, number, number, number];
      const [ph, pw] = node.attrs.size as [number, number];
      const [X, G] = ins as [string, string];
      return kernelCall(kernels, "maxPool2dGrad", { x: addr(X), g: addr(G), out: addr(out), planes: N * C, H, W, ph, pw, Ho, Wo }, `${X}, ${G} → ${out}`);
    },
  },
  // One invocation per element of x: it finds its window's selected position
  // (window unrolled, no loop) and takes the cotangent if that is itself.
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // the window is unrolled
    body: ({ node, out, ins, inTypes, fresh }) => {
      const [, , H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [, , Ho, Wo] = inTypes[1]!.shape as [number, number, number, number];
      const [ph, pw] = node.attrs.size as [number, number];
      const [X, G] = ins as [string, string];
      const [q, p, pl, wi, wj, base, m, at, v] = ["q", "p", "pl", "wi", "wj", "base", "m", "at", "v"].map(fresh) as string[];
      const lines = [
        `let ${q} = i % ${W}u;`,
        `let ${p} = (i / ${W}u) % ${H}u;`,
        `let ${pl} = i / ${H * W}u;`,
        `let ${wi} = ${p} / ${ph}u;`,
        `let ${wj} = ${q} / ${pw}u;`,
        `var ${v} = 0.0f;`,
        `if (${wi} < ${Ho}u && ${wj} < ${Wo}u) {`,
        `  let ${base} = (${pl} * ${H}u + ${wi} * ${ph}u) * ${W}u + ${wj} * ${pw}u;`,
        `  var ${m} = ${X}[${base}];`,
        `  var ${at} = ${base};`,
      ];
      for (let a = 0; a < ph; a++)
        for (let c = 0; c < pw; c++) {
          if (a === 0 && c === 0) continue;
          const off = a * W + c;
          lines.push(`  if (${X}[${base} + ${off}u] > ${m}) { ${m} = ${X}[${base} + ${off}u]; ${at} = ${base} + ${off}u; }`);
        }
      lines.push(`  if (${at} == i) { ${v} = ${G}[(${pl} * ${Ho}u + ${wi}) * ${Wo}u + ${wj}]; }`, `}`, `${out}[i] = ${v};`);
      return lines.join("\n");
    },
  },
});
