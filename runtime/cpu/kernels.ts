// The CPU backend's WebAssembly SIMD kernels over a generated model's memory
// (./arena.ts). Generated code computes every buffer's byte offset at
// compile time and passes offsets, sizes and strides to these kernels as
// constants; elementwise loops read the same buffers as Float32Array views.
// Works in Node and in browsers (synchronous compilation of a module this
// size is allowed in workers; on a browser's main thread await the generated
// model's `prepare()` first).
import { KERNELS_SHARED_WASM, KERNELS_WASM } from "./kernels-wasm.ts";
import { arenaThreads, isShared } from "./arena.ts";
import { twoThreadKernels } from "./threads.ts";

/** Positional signature of the matrix-product exports: byte addresses of A,
 * B, C; m, n, k; leading dimensions of A, B, C in elements; acc ≠ 0 adds to
 * C instead of overwriting it; alpha scales the product. */
export type GemmKernel = (a: number, b: number, c: number, m: number, n: number, k: number, lda: number, ldb: number, ldc: number, acc: number, alpha: number) => void;

/** Positional signature of the list-driven products (compiler/emit/wasm/sparse.ts). */
export type SparseKernel = (list: number, b: number, c: number, m: number, n: number, k: number, ldc: number, acc: number, alpha: number) => void;

/** Whether the list-driven product beats the dense kernel for an op(A) with
 * `nonzeros` of its `size` elements not zero. Either gives the same floats. */
export function sparsePays(nonzeros: number, size: number, binary: boolean): boolean {
  return nonzeros <= size * (binary ? SPARSE_MAX_DENSITY_BINARY : SPARSE_MAX_DENSITY);
}

// Densities above which the dense kernel is faster, measured on this
// machine (one core, listing included) for 20×500×784, 20×784×500,
// 784×500×20 (tn) and 10×1000×1000: the 0/1 sums ran 4.0–4.2× the dense
// kernel at 15 % ones, 1.5–1.7× at 50 %, 1.0–1.2× at 75 %, 0.8–0.9× dense;
// the a·b combinations 2.8–3.4×, 0.9–1.3× and 0.6–0.9×.
const SPARSE_MAX_DENSITY = 0.45;
const SPARSE_MAX_DENSITY_BINARY = 0.8;

/** The kernel module's exports, positional (compiler/emit/wasm/*.ts writes
 * them; ./threads.ts wraps the products). Generated code calls the named
 * forms of `KernelCalls` instead, whose argument names say what each number
 * is. */
export interface KernelExports {
  /** C (+)= α·A·B (acc ≠ 0 adds to C) */
  readonly gemm_nn: GemmKernel;
  /** C (+)= α·Aᵀ·B */
  readonly gemm_tn: GemmKernel;
  /** C (+)= α·A·Bᵀ */
  readonly gemm_nt: GemmKernel;
  /** Products that skip A's zeros (compiler/emit/wasm/sparse.ts): A's
   * non-zeros listed per row of op(A), (a, m, k, lda, ldb, transA, list) →
   * how many; then C (+)= α·op(A)·B from the list, (list, b, c, m, n, k,
   * ldc, acc, alpha), with a·b terms (vx) or, for a 0/1 A, b terms (bx).
   * Bitwise the dense kernels' results. */
  readonly nonzero_rows: (a: number, m: number, k: number, lda: number, ldb: number, transA: number, list: number) => number;
  readonly gemm_vx: SparseKernel;
  readonly gemm_bx: SparseKernel;
  /** A block of a valid convolution's input taps, laid out as rows of a
   * matrix (compiler/emit/wasm/im2col.ts): (x, cols, C, H, W, kh, kw, Ho, Wo,
   * L, n0, nb, c0, cb). */
  readonly im2col: (x: number, cols: number, C: number, H: number, W: number, kh: number, kw: number, Ho: number, Wo: number, L: number, n0: number, nb: number, c0: number, cb: number) => void;
  /** A full convolution's scatter-add of one image: (r, y, K, kh, kw, H, W, Ho, Wo). */
  readonly col2im_add: (r: number, y: number, K: number, kh: number, kw: number, H: number, W: number, Ho: number, Wo: number) => void;
  /** Max over ph×pw windows of P planes H×W (compiler/emit/wasm/pool.ts). */
  readonly max_pool2d: (x: number, y: number, P: number, H: number, W: number, ph: number, pw: number, Ho: number, Wo: number) => void;
  /** out = 0, then each window's g at its (first) maximum. */
  readonly max_pool2d_grad: (x: number, g: number, out: number, P: number, H: number, W: number, ph: number, pw: number, Ho: number, Wo: number) => void;
  /** dst[b, a, :] = src[a, b, :] for blocks of P elements (compiler/emit/wasm/layout.ts). */
  readonly swap01: (src: number, dst: number, A: number, B: number, P: number) => void;
  /** Each of n blocks of P elements reversed. */
  readonly reverse_blocks: (src: number, dst: number, n: number, P: number) => void;
  /** dst[m] = Σ_o Σ_i src[o, m, i] (SumAroundArgs, positional). */
  readonly sum_around: (src: number, dst: number, outer: number, mid: number, inner: number) => void;
  /** dst[r] = max_j src[r, j] (MaxRowsArgs, positional). */
  readonly max_rows: (src: number, dst: number, rows: number, n: number) => void;
  /** Runs of 4-byte elements between strided places (CopyRunsArgs, positional). */
  readonly copy_runs: (src: number, dst: number, outer: number, inner: number, run: number, srcOuter: number, srcInner: number, dstOuter: number, dstInner: number) => void;
  /** im2col of a block of images, then its product with the filters into
   * the block's accumulator: (x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, nb,
   * c0, cb, w, acc, K, lda, accumulate). Not a wasm export: the two calls in
   * JavaScript, so that ./threads.ts can give each thread its own images. */
  readonly im2col_gemm: (...args: Im2colGemmPositional) => void;
  /** A full convolution of images b0..b1 in scatter form, per image a
   * product into the scratch r then its col2im into y: (x, wr, r, r2, y,
   * b0, b1, C, H, W, K, kh, kw, Ho, Wo); r2, a second scratch, is for a
   * helper thread's images (one thread uses r only). JavaScript over two
   * exports, as im2col_gemm, so that two threads can take half the images
   * each. */
  readonly full_conv: (...args: FullConvPositional) => void;
  /** A valid convolution's tap table (compiler/emit/wasm/conv-direct.ts):
   * (tab, C, H, W, kh, kw). */
  readonly conv_taps: (tab: number, C: number, H: number, W: number, kh: number, kw: number) => void;
  /** A valid convolution of images n0..n1 straight from its input, through
   * the tap table: (x, w, y, tab, C, H, W, K, Ho, Wo, P, pblock, n0, n1). */
  readonly conv_valid: (...args: ConvValidPositional) => void;
  /** dst[b, c, r] = src[b, r, c] for n planes rows × cols
   * (compiler/emit/wasm/conv-filter-grad.ts): (src, dst, n, rows, cols). */
  readonly transpose_planes: (src: number, dst: number, n: number, rows: number, cols: number) => void;
  /** A valid convolution's filter gradient for taps p0..p1 from the
   * cotangent g (transposed a block at a time into the scratch gt) and the
   * tap table (compiler/emit/wasm/conv-filter-grad.ts): (x, g, gt, gt2, dw,
   * tab, N, C, H, W, K, Ho, Wo, P, nb, p0, p1); gt2, a second scratch, is
   * for a helper thread's blocks (the wasm export takes one, gt).
   * JavaScript over the export, as full_conv. */
  readonly conv_filter_grad: (...args: ConvFilterGradPositional) => void;
  /** n Philox uniforms into dst, as runtime/rng/philox.ts's `uniform`
   * (compiler/emit/wasm/philox.ts): (dst, n, key0, key1, salt, step, iter). */
  readonly philox_uniform: (dst: number, n: number, key0: number, key1: number, salt: number, step: number, iter: number) => void;
}

// Named arguments of the kernel calls generated code makes. Addresses are
// byte offsets in the model's memory (compile-time constants, or constant
// plus a loop variable times a stride); sizes, strides and leading
// dimensions are in elements (f32 / i32, 4 bytes).

/** C (+)= α·op(A)·op(B), C m×n, op(A) m×k, op(B) k×n. */
export interface GemmArgs {
  /** Byte addresses of A, B and C. */
  readonly a: number;
  readonly b: number;
  readonly c: number;
  readonly m: number;
  readonly n: number;
  readonly k: number;
  /** Row lengths of A, B and C as stored (A is k×m when transposed, B n×k). */
  readonly lda: number;
  readonly ldb: number;
  readonly ldc: number;
  /** A stored transposed (op(A) = Aᵀ) / B stored transposed; not both. */
  readonly transA: boolean;
  readonly transB: boolean;
  /** Adds the product to C instead of overwriting C. */
  readonly accumulate: boolean;
  /** Scale of the product, used as an f32. */
  readonly alpha: number;
  /** Shared with the helper thread when the model runs two (./threads.ts):
   * decided at compile time from the shape (compiler/emit/wasm/split-rule.ts).
   * Either way each element of C is the same sum, bitwise. */
  readonly split: boolean;
}

/** C (+)= α·op(A)·B skipping A's zeros (a data input's pixels, a corrupted
 * input, a Bernoulli sample): rows of B combined for A's non-zeros
 * (compiler/emit/wasm/sparse.ts), bitwise the dense product for finite B.
 * B is never transposed; `split` halves C by columns only. */
export interface GemmSparseArgs extends Omit<GemmArgs, "transB"> {
  /** A's non-zeros are all exactly 1 (proved by the compiler): rows of B
   * are added, not multiplied. */
  readonly binary: boolean;
  /** Byte address of an Int32 scratch of sparseListSize(m, k) entries: the
   * rows of B each row of op(A) selects, and A's values. */
  readonly list: number;
}

/** Rows (c, u, v) of `cols` (rows of L elements) for a block of nb images
 * from n0 and cb channels from c0 of x [N, C, H, W]: each image's Ho×Wo
 * window at input tap (kh−1−u, kw−1−v), at column b·Ho·Wo. */
export interface Im2colArgs {
  readonly x: number;
  readonly cols: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly kh: number;
  readonly kw: number;
  readonly Ho: number;
  readonly Wo: number;
  readonly L: number;
  readonly n0: number;
  readonly nb: number;
  readonly c0: number;
  readonly cb: number;
}

/** A valid convolution's block: im2col of images n0..n0+nb (channels
 * c0..c0+cb) into cols, then acc [K, L] (+)= filters [K, cb·kh·kw] (from
 * byte address w + c0·kh·kw·4, row stride lda) · cols. Columns of image b
 * of the block are b·Ho·Wo.., so halves of the block's images are
 * independent: each thread builds and multiplies its own (./threads.ts). */
export interface ConvBlockArgs extends Im2colArgs {
  readonly w: number;
  readonly acc: number;
  readonly K: number;
  readonly lda: number;
  readonly accumulate: boolean;
}

/** A full convolution (the data gradient of a valid one) of images 0..n of
 * x [n, C, H, W] with filters re-laid as wr [C, K·kh·kw], into y [n, K, Ho,
 * Wo] (added: y starts at 0): per image, r = wrᵀ · x[b] then col2im_add.
 * `r2` is a second scratch like r, for a helper thread's images. */
export interface FullConvArgs {
  readonly x: number;
  readonly wr: number;
  readonly r: number;
  readonly r2: number;
  readonly y: number;
  readonly n: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly K: number;
  readonly kh: number;
  readonly kw: number;
  readonly Ho: number;
  readonly Wo: number;
}

/** A valid convolution y [n, K, Ho, Wo] = x [n, C, H, W] ⋆ filters w [K,
 * C, kh, kw] computed from x directly, no im2col copy (the taps' byte
 * offsets go in the Int32Array scratch `tab`, C·kh·kw of them, filled by
 * the call). Bitwise the im2col path's floats whose channel blocks are
 * `cb` channels (compiler/emit/wasm/conv-direct.ts). Images are
 * independent: two threads take half each (./threads.ts). */
export interface ConvValidArgs {
  readonly x: number;
  readonly w: number;
  readonly y: number;
  readonly tab: number;
  readonly n: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly K: number;
  readonly kh: number;
  readonly kw: number;
  readonly Ho: number;
  readonly Wo: number;
  readonly cb: number;
}

export type ConvValidPositional = [x: number, w: number, y: number, tab: number, C: number, H: number, W: number, K: number, Ho: number, Wo: number, P: number, pblock: number, n0: number, n1: number];

/** dw [K, C, kh, kw] = the filter gradient of a valid convolution of x [N,
 * C, H, W] whose output's cotangent is g [N, K, Ho, Wo]
 * (compiler/ops/conv2d-filter-grad.ts), images summed in blocks of `nb`.
 * Scratch: gt and gt2 (nb·Ho·Wo·K floats each: a block of g with each
 * pixel's K values adjacent, one per thread) and tab (C·kh·kw i32, the
 * taps' offsets), all filled by the call. Taps are independent: two
 * threads take half each (./threads.ts), the helper with gt2. */
export interface ConvFilterGradArgs {
  readonly x: number;
  readonly g: number;
  readonly gt: number;
  readonly gt2: number;
  readonly tab: number;
  readonly dw: number;
  readonly N: number;
  readonly C: number;
  readonly H: number;
  readonly W: number;
  readonly K: number;
  readonly Ho: number;
  readonly Wo: number;
  readonly kh: number;
  readonly kw: number;
  readonly nb: number;
}

export type ConvFilterGradPositional = [x: number, g: number, gt: number, gt2: number, dw: number, tab: number, N: number, C: number, H: number, W: number, K: number, Ho: number, Wo: number, P: number, nb: number, p0: number, p1: number];

export type FullConvPositional = [x: number, wr: number, r: number, r2: number, y: number, b0: number, b1: number, C: number, H: number, W: number, K: number, kh: number, kw: number, Ho: number, Wo: number];

export type Im2colGemmPositional = [x: number, cols: number, C: number, H: number, W: number, kh: number, kw: number, Ho: number, Wo: number, L: number, n0: number, nb: number, c0: number, cb: number, w: number, acc: number, K: number, lda: number, accumulate: number];

/** y [K, Ho, Wo] += each H×W plane of r at row (k, u, v), placed at (u, v)
 * of y[k]: a full convolution's scatter of one image. */
export interface Col2imAddArgs {
  readonly r: number;
  readonly y: number;
  readonly K: number;
  readonly kh: number;
  readonly kw: number;
  readonly H: number;
  readonly W: number;
  readonly Ho: number;
  readonly Wo: number;
}

/** Pooling geometry: `planes` planes of H×W (N·C of NCHW), ph×pw windows,
 * Ho×Wo outputs a plane. */
interface PoolGeometry {
  readonly planes: number;
  readonly H: number;
  readonly W: number;
  readonly ph: number;
  readonly pw: number;
  readonly Ho: number;
  readonly Wo: number;
}

/** y[p, i, j] = max of the ph×pw window at (i·ph, j·pw) of plane p of x. */
export interface MaxPool2dArgs extends PoolGeometry {
  readonly x: number;
  readonly y: number;
}

/** out (shaped like x) = 0, then each window's g at its first maximum. */
export interface MaxPool2dGradArgs extends PoolGeometry {
  readonly x: number;
  readonly g: number;
  readonly out: number;
}

/** dst[j, i, :] = src[i, j, :] for src [rows, cols, block] (4-byte elements). */
export interface Swap01Args {
  readonly src: number;
  readonly dst: number;
  readonly rows: number;
  readonly cols: number;
  readonly block: number;
}

/** dst[i] = uniform(seed, salt, step, iter, i) for i < n (f32, as
 * runtime/rng/philox.ts draws it). */
export interface UniformFillArgs {
  readonly dst: number;
  readonly n: number;
  readonly seed: number;
  readonly salt: number;
  readonly step: number;
  readonly iter: number;
}

/** Each of `blocks` runs of `block` 4-byte elements copied reversed. */
export interface ReverseBlocksArgs {
  readonly src: number;
  readonly dst: number;
  readonly blocks: number;
  readonly block: number;
}

/** For o < outer and i < inner: `run` 4-byte elements from src + o·srcOuter
 * + i·srcInner to dst + o·dstOuter + i·dstInner (addresses in bytes,
 * strides in elements; the places do not overlap). */
export interface CopyRunsArgs {
  readonly src: number;
  readonly dst: number;
  readonly outer: number;
  readonly inner: number;
  readonly run: number;
  readonly srcOuter: number;
  readonly srcInner: number;
  readonly dstOuter: number;
  readonly dstInner: number;
}

/** dst[m] = Σ_o Σ_i src[o, m, i] over an f32 src [outer, mid, inner] (byte
 * addresses; dst holds mid floats): a bias gradient. With inner = 1 the
 * rows are added in order in f32 (the TypeScript loop's floats); else each
 * run is summed in f64 first (compiler/emit/wasm/sums.ts). */
export interface SumAroundArgs {
  readonly src: number;
  readonly dst: number;
  readonly outer: number;
  readonly mid: number;
  readonly inner: number;
}

/** dst[r] = max_j src[r, j] over `rows` rows of n > 0 f32 (byte
 * addresses): a softmax's max over its classes; Math.max's floats
 * (compiler/emit/wasm/sums.ts). */
export interface MaxRowsArgs {
  readonly src: number;
  readonly dst: number;
  readonly rows: number;
  readonly n: number;
}

/** The kernels as generated code calls them: one method per kernel, one
 * object of named arguments per call, an object literal at the call site.
 * Measured (Node 20, a 2×2×2 product, 2M calls): V8 inlines these wrappers
 * and drops the object, ~21 ns a call as for the positional export; with
 * inlining disabled the object and the extra call add 8–25 ns, against the
 * microseconds a kernel of a model runs. A frozen object hoisted to a field
 * measured no faster (a field load instead of constants), and calls inside
 * emitted loops need per-call values anyway. */
export interface KernelCalls {
  gemm(p: GemmArgs): void;
  gemmSparse(p: GemmSparseArgs): void;
  im2colBlock(p: Im2colArgs): void;
  col2imAdd(p: Col2imAddArgs): void;
  maxPool2d(p: MaxPool2dArgs): void;
  maxPool2dGrad(p: MaxPool2dGradArgs): void;
  swap01Blocks(p: Swap01Args): void;
  reverseBlocks(p: ReverseBlocksArgs): void;
  copyRuns(p: CopyRunsArgs): void;
  sumAround(p: SumAroundArgs): void;
  maxRows(p: MaxRowsArgs): void;
  uniformFill(p: UniformFillArgs): void;
  convBlock(p: ConvBlockArgs): void;
  fullConv(p: FullConvArgs): void;
  convValid(p: ConvValidArgs): void;
  convFilterGrad(p: ConvFilterGradArgs): void;
}

/** A model's kernels: the named calls over the module's exports. */
export interface Kernels extends KernelExports, KernelCalls {}

/** The named calls, dispatching through `this` to the exports: spreading a
 * `Kernels` and replacing some exports (./threads.ts) reroutes the named
 * calls too. */
const CALLS: KernelCalls & ThisType<KernelExports> = {
  gemm(p) {
    if (p.transA && p.transB) throw new Error("gemm: A and B both transposed (no kernel; transpose one first)");
    const f = p.transA ? this.gemm_tn : p.transB ? this.gemm_nt : this.gemm_nn;
    f(p.a, p.b, p.c, p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.accumulate ? 1 : 0, p.alpha);
  },
  gemmSparse(p) {
    const acc = p.accumulate ? 1 : 0;
    const nonzeros = this.nonzero_rows(p.a, p.m, p.k, p.lda, p.ldb, p.transA ? 1 : 0, p.list);
    if (!sparsePays(nonzeros, p.m * p.k, p.binary)) return (p.transA ? this.gemm_tn : this.gemm_nn)(p.a, p.b, p.c, p.m, p.n, p.k, p.lda, p.ldb, p.ldc, acc, p.alpha);
    (p.binary ? this.gemm_bx : this.gemm_vx)(p.list, p.b, p.c, p.m, p.n, p.k, p.ldc, acc, p.alpha);
  },
  im2colBlock(p) {
    this.im2col(p.x, p.cols, p.C, p.H, p.W, p.kh, p.kw, p.Ho, p.Wo, p.L, p.n0, p.nb, p.c0, p.cb);
  },
  col2imAdd(p) {
    this.col2im_add(p.r, p.y, p.K, p.kh, p.kw, p.H, p.W, p.Ho, p.Wo);
  },
  maxPool2d(p) {
    this.max_pool2d(p.x, p.y, p.planes, p.H, p.W, p.ph, p.pw, p.Ho, p.Wo);
  },
  maxPool2dGrad(p) {
    this.max_pool2d_grad(p.x, p.g, p.out, p.planes, p.H, p.W, p.ph, p.pw, p.Ho, p.Wo);
  },
  swap01Blocks(p) {
    this.swap01(p.src, p.dst, p.rows, p.cols, p.block);
  },
  reverseBlocks(p) {
    this.reverse_blocks(p.src, p.dst, p.blocks, p.block);
  },
  copyRuns(p) {
    this.copy_runs(p.src, p.dst, p.outer, p.inner, p.run, p.srcOuter, p.srcInner, p.dstOuter, p.dstInner);
  },
  sumAround(p) {
    this.sum_around(p.src, p.dst, p.outer, p.mid, p.inner);
  },
  maxRows(p) {
    this.max_rows(p.src, p.dst, p.rows, p.n);
  },
  convBlock(p) {
    this.im2col_gemm(p.x, p.cols, p.C, p.H, p.W, p.kh, p.kw, p.Ho, p.Wo, p.L, p.n0, p.nb, p.c0, p.cb, p.w, p.acc, p.K, p.lda, p.accumulate ? 1 : 0);
  },
  fullConv(p) {
    this.full_conv(p.x, p.wr, p.r, p.r2, p.y, 0, p.n, p.C, p.H, p.W, p.K, p.kh, p.kw, p.Ho, p.Wo);
  },
  convValid(p) {
    const T = p.kh * p.kw;
    this.conv_taps(p.tab, p.C, p.H, p.W, p.kh, p.kw);
    this.conv_valid(p.x, p.w, p.y, p.tab, p.C, p.H, p.W, p.K, p.Ho, p.Wo, p.C * T, p.cb * T, 0, p.n);
  },
  convFilterGrad(p) {
    const P = p.C * p.kh * p.kw;
    this.conv_taps(p.tab, p.C, p.H, p.W, p.kh, p.kw);
    this.conv_filter_grad(p.x, p.g, p.gt, p.gt2, p.dw, p.tab, p.N, p.C, p.H, p.W, p.K, p.Ho, p.Wo, P, p.nb, 0, P);
  },
  uniformFill(p) {
    // The key words as runtime/rng/philox.ts's draw() makes them: a seed
    // past 32 bits puts its high part in the second word.
    this.philox_uniform(p.dst, p.n, p.seed >>> 0, (0x9e3779b9 ^ Math.floor(p.seed / 4294967296)) >>> 0, p.salt, p.step, p.iter);
  },
};

/** Compiled modules by their base64 text (each is compiled once per page or process). */
const compiled = new Map<string, WebAssembly.Module>();

function bytesOf(b64: string): Uint8Array<ArrayBuffer> {
  const s = atob(b64);
  const out = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function moduleOf(b64: string): WebAssembly.Module {
  let m = compiled.get(b64);
  if (!m) {
    m = new WebAssembly.Module(bytesOf(b64));
    compiled.set(b64, m);
  }
  return m;
}

/** Compiles modules ahead, asynchronously. A browser's main thread refuses
 * to compile modules over 4 KB synchronously, so there a generated model's
 * `prepare()` (which calls this) must be awaited before `new Model()`;
 * Node and workers can skip it. */
export async function precompileModules(...b64s: readonly string[]): Promise<void> {
  const shared = typeof SharedArrayBuffer !== "undefined";
  for (const b64 of [KERNELS_WASM, ...(shared ? [KERNELS_SHARED_WASM] : []), ...b64s]) {
    if (!compiled.has(b64)) compiled.set(b64, await WebAssembly.compile(bytesOf(b64)));
  }
}

/** A generated model's own module (its fused loops, compiled by dlt-compile
 * into generated/<model>/loops-wasm.ts) over the model's memory. */
export function instantiateLoops<T>(memory: WebAssembly.Memory, plain: string, shared: string): T {
  return new WebAssembly.Instance(moduleOf(isShared(memory) ? shared : plain), { env: { memory } }).exports as unknown as T;
}

/** One thread's im2col + product of a convolution block (ConvBlockArgs). */
export function im2colGemm(im2col: KernelExports["im2col"], gemmNN: GemmKernel): KernelExports["im2col_gemm"] {
  return (x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, nb, c0, cb, w, acc, K, lda, accumulate) => {
    im2col(x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, nb, c0, cb);
    gemmNN(w + c0 * kh * kw * 4, cols, acc, K, nb * Ho * Wo, cb * kh * kw, lda, L, L, accumulate, 1);
  };
}

/** One thread's images of a full convolution (FullConvArgs). */
export function fullConv(gemmTN: GemmKernel, col2im: KernelExports["col2im_add"]): KernelExports["full_conv"] {
  return (x, wr, r, _r2, y, b0, b1, C, H, W, K, kh, kw, Ho, Wo) => {
    const R = K * kh * kw, HW = H * W;
    for (let b = b0; b < b1; b++) {
      gemmTN(wr, x + b * C * HW * 4, r, R, HW, C, R, HW, HW, 0, 1);
      col2im(r, y + b * K * Ho * Wo * 4, K, kh, kw, H, W, Ho, Wo);
    }
  };
}

/** One thread's filter gradient: the export with the first scratch. */
function filterGrad(f: (...args: number[]) => void): KernelExports["conv_filter_grad"] {
  return (x, g, gt, _gt2, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, p0, p1) => f(x, g, gt, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, p0, p1);
}

/** The runtime's WebAssembly kernels (matrix products, convolutions, pooling)
 * over a model's memory; two threads where its arena was made for two
 * (./arena.ts: cpuThreads) and a helper thread can start. */
export function createKernels(memory: WebAssembly.Memory): Kernels {
  const shared = isShared(memory);
  const mod = moduleOf(shared ? KERNELS_SHARED_WASM : KERNELS_WASM);
  const inst = new WebAssembly.Instance(mod, { env: { memory } });
  const e = inst.exports as unknown as KernelExports;
  const single: Kernels = {
    gemm_nn: e.gemm_nn, gemm_tn: e.gemm_tn, gemm_nt: e.gemm_nt, nonzero_rows: e.nonzero_rows, gemm_vx: e.gemm_vx, gemm_bx: e.gemm_bx, im2col: e.im2col, col2im_add: e.col2im_add,
    max_pool2d: e.max_pool2d, max_pool2d_grad: e.max_pool2d_grad, swap01: e.swap01, reverse_blocks: e.reverse_blocks, copy_runs: e.copy_runs, sum_around: e.sum_around, max_rows: e.max_rows, philox_uniform: e.philox_uniform,
    conv_taps: e.conv_taps, conv_valid: e.conv_valid, conv_filter_grad: filterGrad(inst.exports.conv_filter_grad as (...args: number[]) => void), transpose_planes: e.transpose_planes,
    im2col_gemm: im2colGemm(e.im2col, e.gemm_nn),
    full_conv: fullConv(e.gemm_tn, e.col2im_add),
    ...CALLS,
  };
  return (shared && arenaThreads(memory) > 1 && twoThreadKernels(single, mod, memory)) || single;
}
