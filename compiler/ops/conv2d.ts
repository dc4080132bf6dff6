// conv2d: Theano's conv.conv2d, NCHW, stride 1. A TRUE convolution (the
// filters are flipped), as Theano computes it:
//   input x [N, C, H, W], filters w [K, C, kh, kw]
//   valid: y[n,k,i,j] = Σ_c Σ_u Σ_v x[n,c,i+u,j+v] · w[k,c,kh-1-u,kw-1-v]
//          y is [N, K, H-kh+1, W-kw+1]
//   full:  y[n,k,i,j] = Σ_c Σ_u Σ_v x[n,c,i-u,j-v] · w[k,c,u,v]  (x is 0 outside)
//          y is [N, K, H+kh-1, W+kw-1]
// Only stride 1 (no subsampling), no padding other than `full`.
//
// Gradients are conv2d again plus layout ops (transpose of the two leading
// axes, `flip` of the two spatial axes); with T = transpose [1,0,2,3] and
// F = flip [2,3]:
//   valid: dx = conv_full(ct, F(T(w)))          dw = T(F(conv_valid(T(x), F(T(ct)))))
//   full:  dx = conv_valid(ct, F(T(w)))         dw = conv_valid(T(ct), F(T(x)))
// (the filter gradient treats the batch as the channel axis being summed).
import type { Builder } from "../ir/builder.ts";
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
import { defineOp } from "./op.ts";

export type Border = "valid" | "full";

/** The output's spatial extent along one axis. */
export function convExtent(n: number, k: number, border: Border): number {
  return border === "valid" ? n - k + 1 : n + k - 1;
}

const swap01 = [1, 0, 2, 3] as const;

function conv(b: Builder, x: number, w: number, border: Border): number {
  return b.op("conv2d", [x, w], { border });
}
function flipHW(b: Builder, x: number): number {
  return b.op("flip", [x], { axes: [2, 3] });
}

/** The most loop iterations (all loops together) one WGSL invocation may run:
 * Mesa's llvmpipe stops loops silently after 65,535 iterations per
 * invocation; this stays well below it. */
export const WGSL_LOOP_BUDGET = 32768;
/** Filter rows up to this width are unrolled in WGSL (no loop iterations). */
const UNROLL = 64;

export const conv2d = defineOp({
  name: "conv2d",
  infer: (ins, { border }) => {
    const [x, w] = ins;
    if (!x || !w || ins.length !== 2) throw new IRError("conv2d takes 2 operands (input, filters)");
    if (x.shape.length !== 4 || w.shape.length !== 4) {
      throw new IRError(`conv2d needs a 4-D input [N, C, H, W] and 4-D filters [K, C, kh, kw], got ${fmtShape(x.shape)} and ${fmtShape(w.shape)}`, undefined, "E031");
    }
    const [N, C, H, W] = x.shape as [number, number, number, number];
    const [K, C2, kh, kw] = w.shape as [number, number, number, number];
    if (C !== C2) throw new IRError(`conv2d: the input has ${C} channels, the filters ${C2}: ${fmtShape(x.shape)} and ${fmtShape(w.shape)}`, undefined, "E031");
    if (border !== "valid" && border !== "full") throw new IRError(`conv2d: border must be "valid" or "full", got ${String(border)}`, undefined, "E031");
    if (kh < 1 || kw < 1) throw new IRError(`conv2d: empty filters ${fmtShape(w.shape)}`, undefined, "E031");
    if (border === "valid" && (kh > H || kw > W)) {
      throw new IRError(`conv2d: filters ${kh}×${kw} are larger than the ${H}×${W} input (border "valid")`, undefined, "E031");
    }
    if (x.dtype !== w.dtype || !isFloat(x.dtype)) throw new IRError(`conv2d needs float operands of one dtype, got ${x.dtype} and ${w.dtype}`, undefined, "E032");
    return { shape: [N, K, convExtent(H, kh, border), convExtent(W, kw, border)], dtype: x.dtype };
  },
  vjp: (b, n, ct) => {
    const [x, w] = n.inputs as [number, number];
    const wT = flipHW(b, b.transpose(w, swap01)); // [C, K, kh, kw], flipped
    if (n.attrs.border === "valid") {
      const dx = conv(b, ct, wT, "full");
      const dw = b.transpose(flipHW(b, conv(b, b.transpose(x, swap01), flipHW(b, b.transpose(ct, swap01)), "valid")), swap01);
      return [dx, dw];
    }
    const dx = conv(b, ct, wT, "valid");
    const dw = conv(b, b.transpose(ct, swap01), flipHW(b, b.transpose(x, swap01)), "valid");
    return [dx, dw];
  },
  evaluate: ([x, w], n) => {
    const [N, C, H, W] = x!.shape as [number, number, number, number];
    const [K, , kh, kw] = w!.shape as [number, number, number, number];
    const [, , Ho, Wo] = n.shape as [number, number, number, number];
    const X = x!.data, F = w!.data;
    const out = alloc(n.shape, n.dtype);
    const Y = out.data;
    const full = n.attrs.border === "full";
    for (let b = 0; b < N; b++)
      for (let k = 0; k < K; k++)
        for (let i = 0; i < Ho; i++)
          for (let j = 0; j < Wo; j++) {
            let s = 0;
            for (let c = 0; c < C; c++)
              for (let u = 0; u < kh; u++)
                for (let v = 0; v < kw; v++) {
                  // Full: x[i-u, j-v]·w[u, v]; valid: x[i+u, j+v]·w[kh-1-u, kw-1-v].
                  const p = full ? i - u : i + u, q = full ? j - v : j + v;
                  if (p < 0 || p >= H || q < 0 || q >= W) continue;
                  const wu = full ? u : kh - 1 - u, wv = full ? v : kw - 1 - v;
                  s += X[((b * C + c) * H + p) * W + q]! * F[((k * C + c) * kh + wu) * kw + wv]!;
                }
            Y[((b * K + k) * Ho + i) * Wo + j] = s;
          }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: ({ node, out, ins, inTypes, fresh }) => {
      const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
      const [, , Ho, Wo] = node.shape as [number, number, number, number];
      const [X, F] = ins as [string, string];
      const [b, k, c, u, v, i, j, s, o, xo, wo, r] = ["b", "k", "c", "u", "v", "i", "j", "s", "o", "xo", "wo", "r"].map(fresh) as string[] as [string, string, string, string, string, string, string, string, string, string, string, string];
      if (node.attrs.border === "full") {
        // Scatter form: every input row, times one filter tap, is added to a
        // shifted output row (innermost loop contiguous in both).
        return [
          `${out}.fill(0);`,
          `for (let ${b} = 0; ${b} < ${N}; ${b}++) {`,
          `  for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
          `    const ${o} = (${b} * ${K} + ${k}) * ${Ho * Wo};`,
          `    for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
          `      const ${xo} = (${b} * ${C} + ${c}) * ${H * W};`,
          `      for (let ${u} = 0; ${u} < ${kh}; ${u}++) {`,
          `        for (let ${v} = 0; ${v} < ${kw}; ${v}++) {`,
          `          const ${s} = ${F}[((${k} * ${C} + ${c}) * ${kh} + ${u}) * ${kw} + ${v}];`,
          `          if (${s} === 0) continue;`,
          `          for (let ${i} = 0; ${i} < ${H}; ${i}++) {`,
          `            const ${wo} = ${o} + (${i} + ${u}) * ${Wo} + ${v}, ${r} = ${xo} + ${i} * ${W};`,
          `            for (let ${j} = 0; ${j} < ${W}; ${j}++) ${out}[${wo} + ${j}] += ${s} * ${X}[${r} + ${j}];`,
          `          }`,
          `        }`,
          `      }`,
          `    }`,
          `  }`,
          `}`,
        ].join("\n");
      }
      if (Wo >= kw) {
        // Valid, wide outputs: one filter tap times a shifted input row is
        // added to each output row (innermost loop over output columns).
        return [
          `${out}.fill(0);`,
          `for (let ${b} = 0; ${b} < ${N}; ${b}++) {`,
          `  for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
          `    const ${o} = (${b} * ${K} + ${k}) * ${Ho * Wo};`,
          `    for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
          `      const ${xo} = (${b} * ${C} + ${c}) * ${H * W};`,
          `      for (let ${u} = 0; ${u} < ${kh}; ${u}++) {`,
          `        for (let ${v} = 0; ${v} < ${kw}; ${v}++) {`,
          `          const ${s} = ${F}[((${k} * ${C} + ${c}) * ${kh} + ${kh - 1} - ${u}) * ${kw} + ${kw - 1} - ${v}];`,
          `          if (${s} === 0) continue;`,
          `          for (let ${i} = 0; ${i} < ${Ho}; ${i}++) {`,
          `            const ${wo} = ${o} + ${i} * ${Wo}, ${r} = ${xo} + (${i} + ${u}) * ${W} + ${v};`,
          `            for (let ${j} = 0; ${j} < ${Wo}; ${j}++) ${out}[${wo} + ${j}] += ${s} * ${X}[${r} + ${j}];`,
          `          }`,
          `        }`,
          `      }`,
          `    }`,
          `  }`,
          `}`,
        ].join("\n");
      }
      // Valid, narrow outputs (wide filters, as in a filter gradient): a dot
      // product per output element, innermost loop along a filter row.
      return [
        `for (let ${b} = 0; ${b} < ${N}; ${b}++) {`,
        `  for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
        `    for (let ${i} = 0; ${i} < ${Ho}; ${i}++) {`,
        `      for (let ${j} = 0; ${j} < ${Wo}; ${j}++) {`,
        `        let ${s} = 0;`,
        `        for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
        `          for (let ${u} = 0; ${u} < ${kh}; ${u}++) {`,
        `            const ${xo} = ((${b} * ${C} + ${c}) * ${H} + ${i} + ${u}) * ${W} + ${j}, ${wo} = ((${k} * ${C} + ${c}) * ${kh} + ${kh - 1} - ${u}) * ${kw} + ${kw - 1};`,
        `            for (let ${v} = 0; ${v} < ${kw}; ${v}++) ${s} += ${X}[${xo} + ${v}] * ${F}[${wo} - ${v}];`,
        `          }`,
        `        }`,
        `        ${out}[((${b} * ${K} + ${k}) * ${Ho} + ${i}) * ${Wo} + ${j}] = ${s};`,
        `      }`,
        `    }`,
        `  }`,
        `}`,
      ].join("\n");
    },
  },
  // One invocation per output element: loops over channels and filter rows,
  // each filter row unrolled (so an invocation runs C·kh loop iterations).
  wgsl: {
    kind: "kernel",
    body: ({ node, out, ins, inTypes, fresh }) => {
      const [, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
      const [, , Ho, Wo] = node.shape as [number, number, number, number];
      const [X, F] = ins as [string, string];
      const full = node.attrs.border === "full";
      const unrolled = kw <= UNROLL;
      const iters = C * kh * (unrolled ? 1 : kw) + C;
      if (iters > WGSL_LOOP_BUDGET) {
        throw new IRError(`conv2d ${fmtShape(inTypes[0]!.shape)} * ${fmtShape(inTypes[1]!.shape)} loops ${iters} times per GPU invocation, more than the ${WGSL_LOOP_BUDGET} that WebGPU on OpenGL runs reliably`, node.loc, "E033");
      }
      const [bb, kk, oi, oj, s, c, u, xr, wr, p, t, v] = ["b", "k", "oi", "oj", "s", "c", "u", "xr", "wr", "p", "t", "v"].map(fresh) as string[];
      const lines = [
        `let ${oj} = i % ${Wo}u;`,
        `let ${oi} = (i / ${Wo}u) % ${Ho}u;`,
        `let ${kk} = (i / ${Ho * Wo}u) % ${K}u;`,
        `let ${bb} = i / ${K * Ho * Wo}u;`,
        `var ${s} = 0.0f;`,
        `for (var ${c} = 0u; ${c} < ${C}u; ${c}++) {`,
        `  for (var ${u} = 0u; ${u} < ${kh}u; ${u}++) {`,
      ];
      if (!full) {
        // x[i+u, j+v] · w[kh-1-u, kw-1-v]
        lines.push(
          `    let ${xr} = ((${bb} * ${C}u + ${c}) * ${H}u + ${oi} + ${u}) * ${W}u + ${oj};`,
          `    let ${wr} = ((${kk} * ${C}u + ${c}) * ${kh}u + ${kh - 1}u - ${u}) * ${kw}u + ${kw - 1}u;`,
        );
        if (unrolled) {
          const terms = Array.from({ length: kw }, (_, q) => `${X}[${xr} + ${q}u] * ${F}[${wr} - ${q}u]`);
          for (let q = 0; q < terms.length; q += 4) lines.push(`    ${s} += ${terms.slice(q, q + 4).join(" + ")};`);
        } else {
          lines.push(`    for (var ${v} = 0u; ${v} < ${kw}u; ${v}++) { ${s} += ${X}[${xr} + ${v}] * ${F}[${wr} - ${v}]; }`);
        }
      } else {
        // x[i-u, j-v] · w[u, v], x zero outside: u32 wrap-around makes one
        // compare per bound (p = i - u < H covers i < u too).
        lines.push(
          `    let ${p} = ${oi} - ${u};`,
          `    if (${p} < ${H}u) {`,
          `      let ${xr} = ((${bb} * ${C}u + ${c}) * ${H}u + ${p}) * ${W}u;`,
          `      let ${wr} = ((${kk} * ${C}u + ${c}) * ${kh}u + ${u}) * ${kw}u;`,
        );
        if (unrolled) {
          for (let q = 0; q < kw; q++) {
            lines.push(`      { let ${t} = ${oj} - ${q}u; if (${t} < ${W}u) { ${s} += ${X}[${xr} + ${t}] * ${F}[${wr} + ${q}u]; } }`);
          }
        } else {
          lines.push(`      for (var ${v} = 0u; ${v} < ${kw}u; ${v}++) { let ${t} = ${oj} - ${v}; if (${t} < ${W}u) { ${s} += ${X}[${xr} + ${t}] * ${F}[${wr} + ${v}]; } }`);
        }
        lines.push(`    }`);
      }
      lines.push(`  }`, `}`, `${out}[i] = ${s};`);
      return lines.join("\n");
    },
  },
});
