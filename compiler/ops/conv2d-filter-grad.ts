// conv2d_filter_grad: the filter gradient of a valid conv2d (./conv2d.ts) as
// one primitive. Inputs x [N, C, H, W] (the layer's input) and ct [N, K, Ho,
// Wo] (its output's cotangent); the output is shaped like the filters, [K,
// C, kh, kw] with kh = H − Ho + 1, kw = W − Wo + 1:
//   dw[k, c, u, v] = Σ_n Σ_i Σ_j ct[n, k, i, j] · x[n, c, i + kh−1−u, j + kw−1−v]
// (u, v index the stored filter, which a true convolution meets flipped).
//
// Written with conv2d it is T(F(conv_valid(T(x), F(T(ct))))), T swapping the
// two leading axes and F flipping the spatial ones: the same sums, through
// three layout copies and an im2col of windows larger than the output.
// This op lets a back end read x and ct in place.
//
// VJP: the output is bilinear in (x, ct) and ⟨g, dw(x, ct)⟩ = ⟨ct,
// conv_valid(x, g)⟩ for any g shaped like the filters, so
//   x̄  = conv_full(ct, F(T(g)))   (conv2d's data gradient, g as the filters)
//   ct̄ = conv_valid(x, g)         (the forward convolution by g)
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { defineOp } from "./op.ts";
import { UNROLL } from "./conv2d.ts";

/** Bytes of the transposed cotangent an image block holds (in L2, beside
 * the block's input). Each block's sums are added to dw (read, add, write
 * per element), so blocks of one image (in L1) spent the time on those
 * and, on two threads, on the cache lines of dw both threads' taps share:
 * LeNet's second filter gradient ran 40 ms on one thread and 29 on two;
 * blocks of 8 images, 40 and 21. */
const BLOCK_BYTES = 131072;

/** Images a block of the CPU kernel: as many as keep their cotangent
 * ([Ho·Wo, K] each) within BLOCK_BYTES, at least one. */
export function imageBlock(N: number, K: number, Ho: number, Wo: number): number {
  return Math.max(1, Math.min(N, Math.floor(BLOCK_BYTES / (4 * K * Ho * Wo))));
}


export const conv2d_filter_grad = defineOp({
  name: "conv2d_filter_grad",
  infer: (ins) => {
    const [x, ct] = ins;
    if (!x || !ct || ins.length !== 2) throw new IRError("conv2d_filter_grad takes 2 operands (input, cotangent)");
    if (x.shape.length !== 4 || ct.shape.length !== 4) {
      throw new IRError(`conv2d_filter_grad needs a 4-D input [N, C, H, W] and a 4-D cotangent [N, K, Ho, Wo], got ${fmtShape(x.shape)} and ${fmtShape(ct.shape)}`, undefined, "E031");
    }
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [N2, K, Ho, Wo] = ct.shape as [number, number, number, number];
    if (N !== N2 || Ho > H || Wo > W || Ho < 1 || Wo < 1) {
      throw new IRError(`conv2d_filter_grad: a cotangent ${fmtShape(ct.shape)} is not a valid convolution's output of ${fmtShape(x.shape)}`, undefined, "E031");
    }
    if (x.dtype !== ct.dtype || !isFloat(x.dtype)) throw new IRError(`conv2d_filter_grad needs float operands of one dtype, got ${x.dtype} and ${ct.dtype}`, undefined, "E032");
    return { shape: [K, C, H - Ho + 1, W - Wo + 1], dtype: x.dtype };
  },
  vjp: (b, n, g) => {
    const [x, ct] = n.inputs as [number, number];
    const gT = b.op("flip", [b.transpose(g, [1, 0, 2, 3])], { axes: [2, 3] });
    return [b.op("conv2d", [ct, gT], { border: "full" }), b.op("conv2d", [x, g], { border: "valid" })];
  },
  evaluate: ([x, ct], n) => {
    const [N, C, H, W] = x!.shape as [number, number, number, number];
    const [, K, Ho, Wo] = ct!.shape as [number, number, number, number];
    const [, , kh, kw] = n.shape as [number, number, number, number];
    const X = x!.data, G = ct!.data;
    const out = alloc(n.shape, n.dtype);
    for (let k = 0; k < K; k++)
      for (let c = 0; c < C; c++)
        for (let u = 0; u < kh; u++)
          for (let v = 0; v < kw; v++) {
            let s = 0;
            for (let b = 0; b < N; b++)
              for (let i = 0; i < Ho; i++)
                for (let j = 0; j < Wo; j++) s += G[((b * K + k) * Ho + i) * Wo + j]! * X[((b * C + c) * H + i + kh - 1 - u) * W + j + kw - 1 - v]!;
            out.data[((k * C + c) * kh + u) * kw + v] = s;
          }
    return out;
  },
  // The wasm kernel (compiler/emit/wasm/conv-filter-grad.ts), f32.
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, addr, scratch, kernels }) => {
      if (node.dtype !== "f32") throw new Error(`conv2d_filter_grad %${node.id}: the CPU kernel computes f32, not ${node.dtype}`);
      const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [, K, Ho, Wo] = inTypes[1]!.shape as [number, number, number, number];
      const [, , kh, kw] = node.shape as [number, number, number, number];
      const [X, G] = ins as [string, string];
      // A block of the cotangent transposed, one scratch per thread.
      const nb = imageBlock(N, K, Ho, Wo);
      const [gt, gt2] = [scratch("Float32Array", nb * Ho * Wo * K), scratch("Float32Array", nb * Ho * Wo * K)];
      const tab = scratch("Int32Array", C * kh * kw);
      const args = { x: addr(X), g: addr(G), gt: addr(gt), gt2: addr(gt2), tab: addr(tab), dw: addr(out), N, C, H, W, K, Ho, Wo, kh, kw, nb };
      return kernelCall(kernels, "convFilterGrad", args, `${X}, ${G} → ${out}`);
    },
  },
  // One invocation per filter element: loops over images and output rows,
  // each row of the cotangent unrolled up to UNROLL pixels.
  wgsl: {
    kind: "kernel",
    loopTrips: (_n, [, ct]) => {
      const [N, , Ho, Wo] = ct!.shape as [number, number, number, number];
      return N + N * Ho + (Wo <= UNROLL ? 0 : N * Ho * Wo);
    },
    body: ({ node, out, ins, inTypes, fresh }) => {
      const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [, K, Ho, Wo] = inTypes[1]!.shape as [number, number, number, number];
      const [, , kh, kw] = node.shape as [number, number, number, number];
      const [X, G] = ins as [string, string];
      const [k, c, u, v, s, b, i, gr, xr, j] = ["k", "c", "u", "v", "s", "b", "i", "gr", "xr", "j"].map(fresh) as string[];
      const lines = [
        `let ${v} = i % ${kw}u;`,
        `let ${u} = (i / ${kw}u) % ${kh}u;`,
        `let ${c} = (i / ${kh * kw}u) % ${C}u;`,
        `let ${k} = i / ${C * kh * kw}u;`,
        `var ${s} = 0.0f;`,
        `for (var ${b} = 0u; ${b} < ${N}u; ${b}++) {`,
        `  for (var ${i} = 0u; ${i} < ${Ho}u; ${i}++) {`,
        `    let ${gr} = ((${b} * ${K}u + ${k}) * ${Ho}u + ${i}) * ${Wo}u;`,
        `    let ${xr} = ((${b} * ${C}u + ${c}) * ${H}u + ${i} + ${kh - 1}u - ${u}) * ${W}u + ${kw - 1}u - ${v};`,
      ];
      if (Wo <= UNROLL) {
        const terms = Array.from({ length: Wo }, (_, q) => `${G}[${gr} + ${q}u] * ${X}[${xr} + ${q}u]`);
        for (let q = 0; q < terms.length; q += 4) lines.push(`    ${s} += ${terms.slice(q, q + 4).join(" + ")};`);
      } else {
        lines.push(`    for (var ${j} = 0u; ${j} < ${Wo}u; ${j}++) { ${s} += ${G}[${gr} + ${j}] * ${X}[${xr} + ${j}]; }`);
      }
      lines.push(`  }`, `}`, `${out}[i] = ${s};`);
      return lines.join("\n");
    },
  },
});
