// max_pool2d: Theano's max_pool_2d(ds=(ph, pw), ignore_border=True) on NCHW:
// non-overlapping ph×pw windows, [N, C, H, W] → [N, C, ⌊H/ph⌋, ⌊W/pw⌋]; rows
// and columns past the last whole window are ignored. A window containing a
// NaN gives NaN (as reduce_max). The gradient routes the cotangent to the
// window's maximum, the first one in row-major order on ties
// (max_pool2d_grad).
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { isNan } from "./wgsl.ts";

/** Shape rule shared with max_pool2d_grad: the pooled shape of `shape`. */
export function pooledShape(shape: readonly number[], size: readonly number[], what: string): number[] {
  if (shape.length !== 4) throw new IRError(`${what} needs a 4-D input [N, C, H, W], got ${fmtShape(shape)}`, undefined, "E031");
  const [ph, pw] = size as [number, number];
  if (size.length !== 2 || !Number.isInteger(ph) || !Number.isInteger(pw) || ph < 1 || pw < 1) {
    throw new IRError(`${what}: the pool size must be two positive integers, got [${size.join(", ")}]`, undefined, "E031");
  }
  const [N, C, H, W] = shape as [number, number, number, number];
  if (H < ph || W < pw) throw new IRError(`${what}: a ${ph}×${pw} pool does not fit a ${H}×${W} input`, undefined, "E031");
  return [N, C, Math.floor(H / ph), Math.floor(W / pw)];
}

export const max_pool2d = defineOp({
  name: "max_pool2d",
  infer: ([x], { size }) => {
    if (!isFloat(x!.dtype)) throw new IRError(`max_pool2d needs a float input, got ${x!.dtype}`, undefined, "E032");
    return { shape: pooledShape(x!.shape, size, "max_pool2d"), dtype: x!.dtype };
  },
  vjp: (b, n, ct) => [b.op("max_pool2d_grad", [n.inputs[0]!, ct], { size: [...n.attrs.size] })],
  evaluate: ([x], n) => {
    const [, , H, W] = x!.shape as [number, number, number, number];
    const [NC, , Ho, Wo] = [n.shape[0]! * n.shape[1]!, 0, n.shape[2]!, n.shape[3]!];
    const [ph, pw] = n.attrs.size as [number, number];
    const out = alloc(n.shape, n.dtype);
    for (let pl = 0; pl < NC; pl++)
      for (let i = 0; i < Ho; i++)
        for (let j = 0; j < Wo; j++) {
          let m = x!.data[(pl * H + i * ph) * W + j * pw]!;
          for (let a = 0; a < ph; a++)
            for (let c = 0; c < pw; c++) {
              const v = x!.data[(pl * H + i * ph + a) * W + j * pw + c]!;
              if (v > m || Number.isNaN(v)) m = v;
            }
          out.data[(pl * Ho + i) * Wo + j] = m;
        }
    return out;
  },
  // The wasm kernel (compiler/emit/wasm/pool.ts), f32.
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, addr, kernels }) => {
      if (node.dtype !== "f32") throw new Error(`max_pool2d %${node.id}: the CPU kernel computes f32, not ${node.dtype}`);
      const [, , H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [N, C, Ho, Wo] = node.shape as [number, number, number, number];
      const [ph, pw] = node.attrs.size as [number, number];
      return kernelCall(kernels, "maxPool2d", { x: addr(ins[0]!), y: addr(out), planes: N * C, H, W, ph, pw, Ho, Wo }, `${ins[0]} → ${out}`);
    },
  },
  // One invocation per output: ph·pw reads, no loop (the window is unrolled).
  // NaN is tested on bits (see isNan) and sticks once seen.
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // the window is unrolled
    body: ({ node, out, ins, inTypes, fresh }) => {
      const [, , H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [, , Ho, Wo] = node.shape as [number, number, number, number];
      const [ph, pw] = node.attrs.size as [number, number];
      const [pl, oi, oj, base, m, v] = ["pl", "oi", "oj", "base", "m", "v"].map(fresh) as string[];
      const lines = [
        `let ${oj} = i % ${Wo}u;`,
        `let ${oi} = (i / ${Wo}u) % ${Ho}u;`,
        `let ${pl} = i / ${Ho * Wo}u;`,
        `let ${base} = (${pl} * ${H}u + ${oi} * ${ph}u) * ${W}u + ${oj} * ${pw}u;`,
        `var ${m} = ${ins[0]}[${base}];`,
      ];
      for (let a = 0; a < ph; a++)
        for (let c = 0; c < pw; c++) {
          if (a === 0 && c === 0) continue;
          lines.push(`{ let ${v} = ${ins[0]}[${base} + ${a * W + c}u]; if (!${isNan(m)} && (${isNan(v)} || ${v} > ${m})) { ${m} = ${v}; } }`);
        }
      lines.push(`${out}[i] = ${m};`);
      return lines.join("\n");
    },
  },
});
