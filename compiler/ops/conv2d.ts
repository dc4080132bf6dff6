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
//          (dw is the primitive conv2d_filter_grad(x, ct): the same sums with
//          no layout copies, ./conv2d-filter-grad.ts)
//   full:  dx = conv_valid(ct, F(T(w)))         dw = conv_valid(T(ct), F(T(x)))
// (the filter gradient treats the batch as the channel axis being summed).
import type { Builder } from "../ir/builder.ts";
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, isFloat } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import { splitsProduct } from "../emit/wasm/split-rule.ts";
import { defineOp, type KernelCtx } from "./op.ts";
import { shown } from "./slice.ts";

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

/** Filter rows up to this width are unrolled in WGSL (no loop iterations). */
export const UNROLL = 64;

/** Row length the valid kernel aims for: enough images side by side that the
 * product's rows run this long (LeNet's 8×8 outputs alone would give 64). */
const TARGET_ROW = 512;

type Ctx = KernelCtx<"conv2d">;

/** Elements of the im2col block the WebAssembly path builds (1 MiB of f32:
 * with the filters' rows it stays in L2 while the kernel sweeps it). */
const GEMM_COLS = 1 << 18;

/** The CPU kernel (f32; every buffer in the model's memory). Valid border:
 * im2col blocks multiplied by the filters with the SIMD matrix kernel
 * (runtime/cpu/kernels.ts). The filters are used as stored — the flip of a true
 * convolution is in how cols is filled: row (c, u, v) holds input tap
 * (kh−1−u, kw−1−v), so cols row c·T + t meets filter element w[k, c, t].
 * A block of nb images (columns: image, output row, output column) and cb
 * channels (rows) is multiplied at a time, channel blocks accumulating;
 * with one image per block the product lands in the output directly. */
function emitGemm(ctx: Ctx): string {
  const { out, ins, inTypes, node, fresh, scratch, addr, kernels } = ctx;
  if (node.dtype !== "f32") throw new Error(`conv2d %${node.id}: the CPU kernels compute f32, not ${node.dtype}`);
  if (node.attrs.border === "full") return paddedPays(inTypes[0]!.shape, inTypes[1]!.shape) ? emitPadded(ctx) : emitGemmFull(ctx);
  const [X, F] = ins as [string, string];
  const [pw, po] = [addr(F), addr(out)];
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const T = kh * kw, HoWo = Ho * Wo;
  if (swappedPays(N, C, H, W, K, kh, kw, Ho, Wo)) return emitSwapped(ctx);
  const nb = Math.max(1, Math.min(N, Math.ceil(TARGET_ROW / HoWo)));
  const L = nb * HoWo;
  const cb = Math.max(1, Math.min(C, Math.floor(GEMM_COLS / (T * L))));
  if (directPays(Wo)) {
    // Straight from the input through a table of its taps' offsets
    // (compiler/emit/wasm/conv-direct.ts), in the channel blocks of cb
    // channels the im2col path below would use: the same floats.
    const tab = scratch("Int32Array", C * T);
    return kernelCall(kernels, "convValid", { x: addr(X), w: pw, y: po, tab: addr(tab), n: N, C, H, W, K, kh, kw, Ho, Wo, cb });
  }
  const cols = scratch("Float32Array", cb * T * L);
  const pcols = addr(cols);
  const direct = nb === 1;
  const acc = direct ? "" : scratch("Float32Array", K * L);
  const [n0, nbb, c0, cbb] = ["n0", "nb", "c0", "cb"].map(fresh) as string[] as [string, string, string, string];
  // Filters [K, C·T] (channel block c0 from column c0·T) times cols, into the
  // output (one image a block; several go through convBlock below).
  const product = {
    a: `${pw} + ${c0} * ${T * 4}`,
    b: pcols,
    c: `${po} + ${n0} * ${K * HoWo * 4}`,
    m: K,
    n: HoWo,
    k: `${cbb} * ${T}`,
    lda: C * T,
    ldb: L,
    ldc: HoWo,
    transA: false,
    transB: false,
    accumulate: `${c0} > 0`,
    alpha: 1,
    // Only the direct form (one image a block) calls this product; a block
    // of images splits by images in convBlock instead.
    split: direct && splitsProduct(K, HoWo, cb * T),
  };
  const lines = [
    `for (let ${n0} = 0; ${n0} < ${N}; ${n0} += ${nb}) {`,
    `  const ${nbb} = Math.min(${nb}, ${N} - ${n0});`,
    `  for (let ${c0} = 0; ${c0} < ${C}; ${c0} += ${cb}) {`,
    `    const ${cbb} = Math.min(${cb}, ${C} - ${c0});`,
    // cols rows (c, u, v): input taps (kh−1−u, kw−1−v) of the block, in
    // wasm; then the product. A block of several images is one call, which
    // two threads split by images (runtime/cpu/threads.ts).
    ...(direct
      ? [
          `    ${kernelCall(kernels, "im2colBlock", { x: addr(X), cols: pcols, C, H, W, kh, kw, Ho, Wo, L, n0, nb: nbb, c0, cb: cbb })}`,
          `    ${kernelCall(kernels, "gemm", product)}`,
        ]
      : [`    ${kernelCall(kernels, "convBlock", { x: addr(X), cols: pcols, C, H, W, kh, kw, Ho, Wo, L, n0, nb: nbb, c0, cb: cbb, w: pw, acc: addr(acc), K, lda: C * T, accumulate: `${c0} > 0` })}`]),
    `  }`,
  ];
  if (!direct) {
    // The block's product [K, image·Ho·Wo] into the output [image, K, Ho·Wo]:
    // runs of Ho·Wo, images apart by Ho·Wo in acc and by K·Ho·Wo in out.
    const copy = { src: addr(acc), dst: `${po} + ${n0} * ${K * HoWo * 4}`, outer: nbb, inner: K, run: HoWo, srcOuter: HoWo, srcInner: L, dstOuter: K * HoWo, dstInner: HoWo };
    lines.push(`  ${kernelCall(kernels, "copyRuns", copy, `${shown(acc)} → ${out}`)}`);
  }
  lines.push(`}`);
  return lines.join("\n");
}

/** Output rows this wide or wider go through the direct kernel (its 8- and
 * 4-pixel tiles; narrower rows would run mostly in its 1–3-pixel tails,
 * where a lane of work costs a whole vector's). */
const DIRECT_MIN_WIDTH = 8;

function directPays(Wo: number): boolean {
  return Wo >= DIRECT_MIN_WIDTH;
}

/** Whether emitSwapped's layout copies under a quarter of what im2col of
 * x would (C·kh·kw·N·Ho·Wo floats), in at most 4,096 products. */
function swappedPays(N: number, C: number, H: number, W: number, K: number, kh: number, kw: number, Ho: number, Wo: number): boolean {
  const im2col = C * kh * kw * N * Ho * Wo;
  const swapped = C * Ho * Wo * K * H * W + K * C * (H + Ho - 1) * (W + Wo - 1);
  return 4 * swapped < im2col && C * K <= 4096;
}

/** A valid convolution whose windows are larger than its output and whose
 * filters are few: a filter gradient, with the layer's input as the
 * filters, the layer's batch as channels and its filter size as Ho×Wo.
 * im2col of x copies every window (newmu-convnet's first filter gradient:
 * 29 M floats for 33 M multiply-adds, and products of one row), so the
 * roles swap:
 *   out[n, k, i, j] = Σ_c Σ_{p,q} x[n, c, p, q] · f[k, c, p − i, q − j]
 * with f the filters flipped (a true convolution) and zero outside. f,
 * zero-padded by Ho−1 and Wo−1 on every side, goes through im2col as K
 * images with Ho×Wo windows: its flipped taps put f[k, c, p − i, q − j]
 * at row (c, i, j), column (k, p, q). Then per filter and channel one
 * product x[:, c] [N, H·W] · colsᵀ [H·W, Ho·Wo] accumulates into
 * out[:, k]. */
function emitSwapped(ctx: Ctx): string {
  const { out, ins, inTypes, node, fresh, scratch, addr, kernels } = ctx;
  const [X, F] = ins as [string, string];
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const Hp = H + Ho - 1, Wp = W + Wo - 1, HW = H * W, HoWo = Ho * Wo, L = K * HW;
  // The filters flipped and padded (zeroed each call: the border is read).
  const padded = scratch("Float32Array", K * C * Hp * Wp);
  const cols = scratch("Float32Array", C * HoWo * L);
  const [kc, r, q, k, c, sr, dr] = ["kc", "r", "q", "k", "c", "sr", "dr"].map(fresh) as string[] as [string, string, string, string, string, string, string];
  const product = {
    a: `${addr(X)} + ${c} * ${HW * 4}`,
    b: `${addr(cols)} + ${c} * ${HoWo * L * 4} + ${k} * ${HW * 4}`,
    c: `${addr(out)} + ${k} * ${HoWo * 4}`,
    m: N,
    n: HoWo,
    k: HW,
    lda: C * HW,
    ldb: L,
    ldc: K * HoWo,
    transA: false,
    transB: true,
    accumulate: `${c} > 0`,
    alpha: 1,
    split: splitsProduct(N, HoWo, HW),
  };
  return [
    `${padded}.fill(0);`,
    `for (let ${kc} = 0; ${kc} < ${K * C}; ${kc}++) {`,
    `  for (let ${r} = 0; ${r} < ${kh}; ${r}++) {`,
    `    const ${sr} = (${kc} * ${kh} + ${kh - 1} - ${r}) * ${kw} + ${kw - 1}, ${dr} = (${kc} * ${Hp} + ${r} + ${Ho - 1}) * ${Wp} + ${Wo - 1};`,
    `    for (let ${q} = 0; ${q} < ${kw}; ${q}++) ${padded}[${dr} + ${q}] = ${F}[${sr} - ${q}];`,
    `  }`,
    `}`,
    kernelCall(kernels, "im2colBlock", { x: addr(padded), cols: addr(cols), C, H: Hp, W: Wp, kh: Ho, kw: Wo, Ho: H, Wo: W, L, n0: 0, nb: K, c0: 0, cb: C }, `f[k, c, p − i, q − j] at row (c, i, j), column (k, p, q)`),
    `for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `  for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
    `    ${kernelCall(kernels, "gemm", product)}`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Shallowest scatter-form product (the input's channels) worth keeping
 * for a full convolution: newmu-convnet's first layer (one channel, 3×3)
 * took 20.7 ms a step in scatter form, an outer product per image written
 * out and added back (R: 288 × 784 floats an image for 7,056 multiply-adds'
 * worth of output). */
const FULL_MIN_CHANNELS = 16;

/** Whether a full convolution goes through a zero-padded copy of its input
 * and the valid path: few channels (the scatter form's products would be
 * that shallow), and padding that adds under half again to the work (the
 * valid form multiplies the padding's zeros too: LeNet's 8×8 data gradient
 * through 5×5 filters would do 2.25× the multiply-adds). */
function paddedPays(x: readonly number[], w: readonly number[]): boolean {
  const [, C, H, W] = x as [number, number, number, number];
  const [, , kh, kw] = w as [number, number, number, number];
  return C < FULL_MIN_CHANNELS && (H + kh - 1) * (W + kw - 1) < 1.5 * H * W;
}

/** A full convolution as a valid one of the input zero-padded by kh−1 and
 * kw−1 on every side (the padding zeroed each call, the images copied in
 * by copyRuns). */
function emitPadded(ctx: Ctx): string {
  const { ins, inTypes, node, scratch, addr, kernels } = ctx;
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [Hp, Wp] = [H + 2 * (kh - 1), W + 2 * (kw - 1)];
  const padded = scratch("Float32Array", N * C * Hp * Wp);
  // Rows of W floats: (image, channel) planes Hp·Wp apart, rows Wp apart.
  const copy = { src: addr(ins[0]!), dst: addr(padded) + 4 * ((kh - 1) * Wp + (kw - 1)), outer: N * C, inner: H, run: W, srcOuter: H * W, srcInner: W, dstOuter: Hp * Wp, dstInner: Wp };
  const valid: Ctx = {
    ...ctx,
    node: { ...node, attrs: { ...node.attrs, border: "valid" } },
    ins: [padded, ins[1]!],
    inTypes: [{ ...inTypes[0]!, shape: [N, C, Hp, Wp] }, inTypes[1]!],
  };
  return [`${padded}.fill(0);`, kernelCall(kernels, "copyRuns", copy, `${ins[0]} → ${shown(padded)}, zero-padded`), emitGemm(valid)].join("\n");
}

/** Full border (the data gradient of a valid convolution) in scatter form,
 * which does no work on the zero padding a full convolution implies: per
 * image, R[(k,u,v), pixel] = Σ_c w[k,c,u,v] · x[c, pixel] is one product
 * (filters re-laid [C, K·kh·kw] once per call, then Aᵀ·B), and each row of R
 * is added into the output window it lands on (col2im). */
function emitGemmFull(ctx: Ctx): string {
  const { out, ins, inTypes, node, fresh, scratch, kernels, addr } = ctx;
  const [X, F] = ins as [string, string];
  const px = addr(X);
  const [N, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
  const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
  const [, , Ho, Wo] = node.shape as [number, number, number, number];
  const T = kh * kw, R = K * T, HW = H * W;
  const wr = scratch("Float32Array", C * R);
  const r = scratch("Float32Array", R * HW);
  const r2 = scratch("Float32Array", R * HW);
  const [pwr, pr] = [addr(wr), addr(r)];
  const [c, k, t] = ["c", "k", "t"].map(fresh) as string[] as [string, string, string];
  return [
    `for (let ${k} = 0; ${k} < ${K}; ${k}++) {`,
    `  for (let ${c} = 0; ${c} < ${C}; ${c}++) {`,
    `    for (let ${t} = 0; ${t} < ${T}; ${t}++) ${wr}[${c} * ${R} + ${k} * ${T} + ${t}] = ${F}[(${k} * ${C} + ${c}) * ${T} + ${t}];`,
    `  }`,
    `}`,
    `${out}.fill(0);`,
    // Per image: R [K·T, H·W] = wrᵀ [K·T, C] · image b of x [C, H·W], then
    // each row (k, u, v) of R added into the output window at (u, v). Two
    // threads take half the images each, the helper with scratch r2.
    kernelCall(kernels, "fullConv", { x: px, wr: pwr, r: pr, r2: addr(r2), y: addr(out), n: N, C, H, W, K, kh, kw, Ho, Wo }),
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
      // T(F(conv_valid(T(x), F(T(ct))))) as one op (./conv2d-filter-grad.ts).
      const dw = b.op("conv2d_filter_grad", [x, ct], {});
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
    emit: emitGemm,
  },
  // One invocation per output element: loops over channels and filter rows,
  // each filter row unrolled (so an invocation runs C·kh loop iterations).
  wgsl: {
    kind: "kernel",
    // C channels, kh filter rows each, and kw taps each when not unrolled.
    loopTrips: (_n, [x, w]) => {
      const [C, kh, kw] = [x!.shape[1]!, w!.shape[2]!, w!.shape[3]!];
      return C + C * kh + (kw <= UNROLL ? 0 : C * kh * kw);
    },
    body: ({ node, out, ins, inTypes, fresh }) => {
      const [, C, H, W] = inTypes[0]!.shape as [number, number, number, number];
      const [K, , kh, kw] = inTypes[1]!.shape as [number, number, number, number];
      const [, , Ho, Wo] = node.shape as [number, number, number, number];
      const [X, F] = ins as [string, string];
      const full = node.attrs.border === "full";
      const unrolled = kw <= UNROLL;
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
