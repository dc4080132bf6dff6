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
import { defineOp, type KernelCtx } from "./op.ts";

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

/** Row length the valid kernel aims for: enough images side by side that the
 * innermost loop runs this long (LeNet's 8×8 outputs alone would give 64). */
const TARGET_ROW = 512;
/** Elements of the im2col buffer (a block of input channels at a time). */
const COLS_MAX = 1 << 17;

type Ctx = KernelCtx<"conv2d">;

/** `dst[o + j] += Σ val[q] · src[idx[q] + j]` for j < len over the nnz
 * gathered (weight, row offset) pairs, eight rows per pass, then four, then the last 1–3 (as in matmul). */
function rowCombination(fresh: (s: string) => string, dst: string, o: string, src: string, idx: string, val: string, nnz: string, len: string): string[] {
  const q = fresh("q"), j = fresh("j");
  const [a0, a1, a2, a3, b0, b1, b2, b3] = ["a", "a", "a", "a", "r", "r", "r", "r"].map(fresh) as [string, string, string, string, string, string, string, string];
  const [e0, e1, e2, f0, f1, f2] = ["a", "a", "a", "r", "r", "r"].map(fresh) as [string, string, string, string, string, string];
  const w = Array.from({ length: 8 }, () => fresh("a")), x = Array.from({ length: 8 }, () => fresh("r"));
  const terms = w.map((wv, z) => `${wv} * ${src}[${x[z]} + ${j}]`);
  return [
    `let ${q} = 0;`,
    `for (; ${q} + 8 <= ${nnz}; ${q} += 8) {`,
    `  const ${w.map((wv, z) => `${wv} = ${val}[${q} + ${z}]`).join(", ")};`,
    `  const ${x.map((xv, z) => `${xv} = ${idx}[${q} + ${z}]`).join(", ")};`,
    `  for (let ${j} = 0; ${j} < ${len}; ${j}++) {`,
    `    ${dst}[${o} + ${j}] += ${terms.slice(0, 4).join(" + ")} + (${terms.slice(4).join(" + ")});`,
    `  }`,
    `}`,
    `if (${q} + 4 <= ${nnz}) {`,
    `  const ${a0} = ${val}[${q}], ${a1} = ${val}[${q} + 1], ${a2} = ${val}[${q} + 2], ${a3} = ${val}[${q} + 3];`,
    `  const ${b0} = ${idx}[${q}], ${b1} = ${idx}[${q} + 1], ${b2} = ${idx}[${q} + 2], ${b3} = ${idx}[${q} + 3];`,
    `  for (let ${j} = 0; ${j} < ${len}; ${j}++) {`,
    `    ${dst}[${o} + ${j}] += ${a0} * ${src}[${b0} + ${j}] + ${a1} * ${src}[${b1} + ${j}] + ${a2} * ${src}[${b2} + ${j}] + ${a3} * ${src}[${b3} + ${j}];`,
    `  }`,
    `  ${q} += 4;`,
    `}`,
    `const ${e0} = ${val}[${q}], ${e1} = ${val}[${q} + 1], ${e2} = ${val}[${q} + 2];`,
    `const ${f0} = ${idx}[${q}], ${f1} = ${idx}[${q} + 1], ${f2} = ${idx}[${q} + 2];`,
    `switch (${nnz} - ${q}) {`,
    `  case 3: for (let ${j} = 0; ${j} < ${len}; ${j}++) ${dst}[${o} + ${j}] += ${e0} * ${src}[${f0} + ${j}] + ${e1} * ${src}[${f1} + ${j}] + ${e2} * ${src}[${f2} + ${j}]; break;`,
    `  case 2: for (let ${j} = 0; ${j} < ${len}; ${j}++) ${dst}[${o} + ${j}] += ${e0} * ${src}[${f0} + ${j}] + ${e1} * ${src}[${f1} + ${j}]; break;`,
    `  case 1: for (let ${j} = 0; ${j} < ${len}; ${j}++) ${dst}[${o} + ${j}] += ${e0} * ${src}[${f0} + ${j}]; break;`,
    `}`,
  ];
}

const indent = (lines: readonly string[], by: string) => lines.map((l) => by + l);

/** Valid border as a matrix product: a block of nb images is laid out
 * im2col-style, cols[(c, u, v), (b, i, j)] = x[n0+b, c, i+u, j+v], and output
 * row (k, ·) of the block is the combination of those rows weighted by the
 * flipped filter taps (zero taps skipped: filter gradients convolve with
 * max-pooling cotangents, mostly zeros). Rows are nb·Ho·Wo long; channels
 * are taken in blocks so the im2col buffer stays small; a Float64 block
 * accumulates and is copied out at the end. */
function emitValid({ out, ins, inTypes, node, fresh, scratch }: Ctx): string {
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const [X, F] = ins as [string, string];
  const T = kh * kw, HoWo = Ho * Wo;
  const nb = Math.max(1, Math.min(N, Math.ceil(TARGET_ROW / HoWo)));
  const L = nb * HoWo;
  const cb = Math.max(1, Math.min(C, Math.floor(COLS_MAX / (T * L))));
  const cols = scratch(inTypes[0]!.dtype === "f32" ? "Float32Array" : "Float64Array", cb * T * L);
  const acc = scratch("Float64Array", K * L);
  const idx = scratch("Int32Array", cb * T + 3), val = scratch("Float64Array", cb * T + 3);
  const [n0, nbb, lc, c0, cbb, cc, u, v, row, b, s, d, i, j, k, nnz, f0, p0, t, a, o, m] =
    ["n0", "nb", "lc", "c0", "cb", "cc", "u", "v", "row", "b", "s", "d", "i", "j", "k", "nnz", "f0", "p0", "t", "a", "o", "m"].map(fresh) as string[] as [string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string];
  return [
    `for (let ${n0} = 0; ${n0} < ${N}; ${n0} += ${nb}) {`,
    `  const ${nbb} = Math.min(${nb}, ${N} - ${n0}), ${lc} = ${nbb} * ${HoWo};`,
    `  ${acc}.fill(0);`,
    `  for (let ${c0} = 0; ${c0} < ${C}; ${c0} += ${cb}) {`,
    `    const ${cbb} = Math.min(${cb}, ${C} - ${c0});`,
    `    for (let ${cc} = 0; ${cc} < ${cbb}; ${cc}++) {`,
    `      for (let ${u} = 0; ${u} < ${kh}; ${u}++) {`,
    `        for (let ${v} = 0; ${v} < ${kw}; ${v}++) {`,
    `          const ${row} = ((${cc} * ${kh} + ${u}) * ${kw} + ${v}) * ${L};`,
    `          for (let ${b} = 0; ${b} < ${nbb}; ${b}++) {`,
    `            const ${s} = ((${n0} + ${b}) * ${C} + ${c0} + ${cc}) * ${H * W} + ${u} * ${W} + ${v}, ${d} = ${row} + ${b} * ${HoWo};`,
    `            for (let ${i} = 0; ${i} < ${Ho}; ${i}++) {`,
    `              for (let ${j} = 0; ${j} < ${Wo}; ${j}++) ${cols}[${d} + ${i} * ${Wo} + ${j}] = ${X}[${s} + ${i} * ${W} + ${j}];`,
    `            }`,
    `          }`,
    `        }`,
    `      }`,
    `    }`,
    `    for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `      let ${nnz} = 0;`,
    `      for (let ${cc} = 0; ${cc} < ${cbb}; ${cc}++) {`,
    // Tap (u, v) pairs with w[k, c, kh-1-u, kw-1-v]: flat tap t reads T-1-t.
    `        const ${f0} = (${k} * ${C} + ${c0} + ${cc}) * ${T} + ${T - 1}, ${p0} = ${cc} * ${T};`,
    `        for (let ${t} = 0; ${t} < ${T}; ${t}++) {`,
    `          const ${a} = ${F}[${f0} - ${t}];`,
    `          if (${a} !== 0) { ${idx}[${nnz}] = (${p0} + ${t}) * ${L}; ${val}[${nnz}] = ${a}; ${nnz}++; }`,
    `        }`,
    `      }`,
    `      const ${o} = ${k} * ${L};`,
    ...indent(rowCombination(fresh, acc, o, cols, idx, val, nnz, lc), "      "),
    `    }`,
    `  }`,
    `  for (let ${b} = 0; ${b} < ${nbb}; ${b}++) {`,
    `    for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `      const ${d} = ((${n0} + ${b}) * ${K} + ${k}) * ${HoWo}, ${s} = ${k} * ${L} + ${b} * ${HoWo};`,
    `      for (let ${m} = 0; ${m} < ${HoWo}; ${m}++) ${out}[${d} + ${m}] = ${acc}[${s} + ${m}];`,
    `    }`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Full border in scatter form: for each input pixel (b, i, j), the row
 * r[(k, u, v)] = Σ_c x[b, c, i, j] · w[k, c, u, v] (a combination of rows of
 * the filters laid out [C, K·kh·kw], zero pixels skipped: data gradients
 * convolve max-pooling cotangents, mostly zeros) is added to the output
 * window y[b, k, i+u, j+v], accumulated per image in Float64. */
function emitFull({ out, ins, inTypes, node, fresh, scratch }: Ctx): string {
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const [X, F] = ins as [string, string];
  const T = kh * kw, R = K * T, HW = H * W;
  const wt = scratch(inTypes[1]!.dtype === "f32" ? "Float32Array" : "Float64Array", C * R);
  const r = scratch("Float64Array", R);
  const acc = scratch("Float64Array", K * Ho * Wo);
  const idx = scratch("Int32Array", C + 3), val = scratch("Float64Array", C + 3);
  const [c, k, s, d, t, b, i, j, x0, nnz, a, u, v, m, o] =
    ["c", "k", "s", "d", "t", "b", "i", "j", "x0", "nnz", "a", "u", "v", "m", "o"].map(fresh) as string[] as [string, string, string, string, string, string, string, string, string, string, string, string, string, string, string];
  return [
    `for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
    `  for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `    const ${s} = (${k} * ${C} + ${c}) * ${T}, ${d} = ${c} * ${R} + ${k} * ${T};`,
    `    for (let ${t} = 0; ${t} < ${T}; ${t}++) ${wt}[${d} + ${t}] = ${F}[${s} + ${t}];`,
    `  }`,
    `}`,
    `for (let ${b} = 0; ${b} < ${N}; ${b}++) {`,
    `  ${acc}.fill(0);`,
    `  for (let ${i} = 0; ${i} < ${H}; ${i}++) {`,
    `    for (let ${j} = 0; ${j} < ${W}; ${j}++) {`,
    `      const ${x0} = ${b} * ${C * HW} + ${i} * ${W} + ${j};`,
    `      let ${nnz} = 0;`,
    `      for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
    `        const ${a} = ${X}[${x0} + ${c} * ${HW}];`,
    `        if (${a} !== 0) { ${idx}[${nnz}] = ${c} * ${R}; ${val}[${nnz}] = ${a}; ${nnz}++; }`,
    `      }`,
    `      if (${nnz} === 0) continue;`,
    `      ${r}.fill(0);`,
    ...indent(rowCombination(fresh, r, "0", wt, idx, val, nnz, String(R)), "      "),
    `      for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `        for (let ${u} = 0; ${u} < ${kh}; ${u}++) {`,
    `          const ${d} = (${k} * ${Ho} + ${i} + ${u}) * ${Wo} + ${j}, ${s} = (${k} * ${kh} + ${u}) * ${kw};`,
    `          for (let ${v} = 0; ${v} < ${kw}; ${v}++) ${acc}[${d} + ${v}] += ${r}[${s} + ${v}];`,
    `        }`,
    `      }`,
    `    }`,
    `  }`,
    `  const ${o} = ${b} * ${K * Ho * Wo};`,
    `  for (let ${m} = 0; ${m} < ${K * Ho * Wo}; ${m}++) ${out}[${o} + ${m}] = ${acc}[${m}];`,
    `}`,
  ].join("\n");
}

/** Elements of the im2col block the WebAssembly path builds (1 MiB of f32:
 * with the filters' rows it stays in L2 while the kernel sweeps it). */
const GEMM_COLS = 1 << 18;

/** f32 operands in the model's memory, valid border: im2col blocks
 * multiplied by the filters with the SIMD matrix kernel
 * (runtime/cpu/kernels.ts). The filters are used as stored — the flip of a true
 * convolution is in how cols is filled: row (c, u, v) holds input tap
 * (kh−1−u, kw−1−v), so cols row c·T + t meets filter element w[k, c, t].
 * A block of nb images (columns: image, output row, output column) and cb
 * channels (rows) is multiplied at a time, channel blocks accumulating;
 * with one image per block the product lands in the output directly. */
function emitGemm({ out, ins, inTypes, node, fresh, scratch, addr, kernels }: Ctx): string | undefined {
  const [X, F] = ins as [string, string];
  const [pw, po] = [addr(F), addr(out)];
  if (node.dtype !== "f32" || pw === undefined || po === undefined || addr(X) === undefined) return undefined;
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const full = node.attrs.border === "full";
  if (full) return emitGemmFull({ out, ins, inTypes, node, fresh, scratch, addr, kernels }, addr(X)!);
  const T = kh * kw, HoWo = Ho * Wo;
  const nb = Math.max(1, Math.min(N, Math.ceil(TARGET_ROW / HoWo)));
  const L = nb * HoWo;
  const cb = Math.max(1, Math.min(C, Math.floor(GEMM_COLS / (T * L))));
  const cols = scratch("Float32Array", cb * T * L);
  const pcols = addr(cols)!;
  const direct = nb === 1;
  const acc = direct ? "" : scratch("Float32Array", K * L);
  const [n0, nbb, lc, c0, cbb, b, src, d, k, m] = ["n0", "nb", "lc", "c0", "cb", "b", "src", "d", "k", "m"].map(fresh) as string[] as [string, string, string, string, string, string, string, string, string, string];
  const lines = [
    `for (let ${n0} = 0; ${n0} < ${N}; ${n0} += ${nb}) {`,
    `  const ${nbb} = Math.min(${nb}, ${N} - ${n0}), ${lc} = ${nbb} * ${HoWo};`,
    `  for (let ${c0} = 0; ${c0} < ${C}; ${c0} += ${cb}) {`,
    `    const ${cbb} = Math.min(${cb}, ${C} - ${c0});`,
    // cols rows (c, u, v): input taps (kh−1−u, kw−1−v) of the block, in wasm.
    `    ${kernels}.im2col(${addr(X)}, ${pcols}, ${C}, ${H}, ${W}, ${kh}, ${kw}, ${Ho}, ${Wo}, ${L}, ${n0}, ${nbb}, ${c0}, ${cbb});`,
    direct
      ? `    ${kernels}.gemm_nn(${pw} + ${c0} * ${T * 4}, ${pcols}, ${po} + ${n0} * ${K * HoWo * 4}, ${K}, ${HoWo}, ${cbb} * ${T}, ${C * T}, ${L}, ${HoWo}, ${c0} > 0 ? 1 : 0, 1);`
      : `    ${kernels}.gemm_nn(${pw} + ${c0} * ${T * 4}, ${pcols}, ${addr(acc)}, ${K}, ${lc}, ${cbb} * ${T}, ${C * T}, ${L}, ${L}, ${c0} > 0 ? 1 : 0, 1);`,
    `  }`,
  ];
  if (!direct) {
    lines.push(
      `  for (let ${b} = 0; ${b} < ${nbb}; ${b}++) {`,
      `    for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
      `      const ${src} = ${k} * ${L} + ${b} * ${HoWo}, ${d} = ((${n0} + ${b}) * ${K} + ${k}) * ${HoWo};`,
      `      for (let ${m} = 0; ${m} < ${HoWo}; ${m}++) ${out}[${d} + ${m}] = ${acc}[${src} + ${m}];`,
      `    }`,
      `  }`,
    );
  }
  lines.push(`}`);
  return lines.join("\n");
}

/** Full border (the data gradient of a valid convolution) in scatter form,
 * which does no work on the zero padding a full convolution implies: per
 * image, R[(k,u,v), pixel] = Σ_c w[k,c,u,v] · x[c, pixel] is one product
 * (filters re-laid [C, K·kh·kw] once per call, then Aᵀ·B), and each row of R
 * is added into the output window it lands on (col2im). */
function emitGemmFull(ctx: Ctx, px: number): string {
  const { out, ins, inTypes, node, fresh, scratch, kernels, addr } = ctx;
  const F = ins[1]!;
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const T = kh * kw, R = K * T, HW = H * W;
  const wr = scratch("Float32Array", C * R);
  const r = scratch("Float32Array", R * HW);
  const [pwr, pr] = [addr(wr)!, addr(r)!];
  const [c, k, t, b] = ["c", "k", "t", "b"].map(fresh) as string[] as [string, string, string, string];
  return [
    `for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `  for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
    `    for (let ${t} = 0; ${t} < ${T}; ${t}++) ${wr}[${c} * ${R} + ${k} * ${T} + ${t}] = ${F}[(${k} * ${C} + ${c}) * ${T} + ${t}];`,
    `  }`,
    `}`,
    `${out}.fill(0);`,
    `for (let ${b} = 0; ${b} < ${N}; ${b}++) {`,
    `  ${kernels}.gemm_tn(${pwr}, ${px} + ${b} * ${C * HW * 4}, ${pr}, ${R}, ${HW}, ${C}, ${R}, ${HW}, ${HW}, 0, 1);`,
    // Each row (k, u, v) of R added into the output window at (u, v), in wasm.
    `  ${kernels}.col2im_add(${pr}, ${addr(out)!} + ${b} * ${K * Ho * Wo * 4}, ${K}, ${kh}, ${kw}, ${H}, ${W}, ${Ho}, ${Wo});`,
    `}`,
  ].join("\n");
}

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
    emit: (ctx) => emitGemm(ctx) ?? (ctx.node.attrs.border === "full" ? emitFull(ctx) : emitValid(ctx)),
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
