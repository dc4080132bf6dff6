// Two-thread kernels: a helper thread instantiates the same kernel module
// over the same shared memory and computes one half of each product the
// compiler marked `split` (rows of C, or columns when there are few rows;
// compiler/emit/wasm/split-rule.ts says which and why) and of each
// convolution block (by images), while the calling thread computes the
// other. Each element of C is computed by exactly one thread with the same
// instruction sequence as single-threaded, so results are bitwise those of
// one thread (checkpoints resume identically whatever the thread count).
//
// Handshake through a small shared Int32Array (no messages per call):
//   ctl[0] job sequence (caller bumps, helper waits on it)
//   ctl[1] done sequence (helper sets it to the job's sequence)
//   ctl[2] kernel index (0 nn, 1 tn, 2 nt, 3 a convolution block's im2col +
//          product, 4 a full convolution's images, 5 and 6 the columns of
//          a product that skips A's zeros (gemm_bx, gemm_vx), 7 a direct
//          convolution's images (conv_valid), 8 a filter gradient's taps
//          (conv_filter_grad), 9 and 10 max-pooling's planes and its
//          gradient's (max_pool2d, max_pool2d_grad); −1 stops the helper)
//   ctl[3..12] a product's first ten arguments (i32), ctl[13] alpha's f32
//   bits; for a convolution block ctl[3..21] its nineteen arguments, for a
//   full convolution ctl[3..16] its fourteen; for a product that skips A's
//   zeros ctl[3..10] its eight i32 arguments and ctl[13] alpha; for a
//   direct convolution ctl[3..16] its fourteen, for a filter gradient
//   ctl[3..18] the export's sixteen (the helper's scratch as gt), for pooling ctl[3..11] its nine and for its
//   gradient ctl[3..12] its ten
// A product that skips A's zeros is split by columns only: the calling
// thread lists A's non-zeros (nonzero_rows) and both threads combine their
// own columns of B from that list.
// Convolution blocks are split by images, not by rows of the product: each
// thread builds the im2col columns of its own images and multiplies them,
// so the columns (the product's large operand) never cross between cores.
// Split by rows, the helper read every column the main thread had just
// written, ~4 ns a float here, as long as its half of the product took.
// Traps: a helper thread must not keep Node alive (unref); Atomics.wait is
// refused on a browser's main thread, so the caller spins there instead.
import { type Kernels, sparsePays } from "./kernels.ts";

const NAMES = ["gemm_nn", "gemm_tn", "gemm_nt"] as const;

/** Below this many multiply-adds a convolution block runs on the calling
 * thread: a wake-up costs tens of microseconds, about 2^18 multiply-adds'
 * worth. (Products are split or not by the compiler, ./kernels.ts GemmArgs.) */
const MIN_IMAGE_SPLIT = 1 << 18;

/** How long the helper thread keeps polling for the next product before it
 * sleeps (it spins on its own core, as OpenMP runtimes do by default).
 * Interpolated into HELPER_SOURCE: the worker cannot import it. */
const SPIN_MS = 20;

// The helper's code: plain JavaScript with no imports, so it runs as an
// eval'd worker in Node and from a Blob URL in browsers. Fixed text: nothing
// from a spec or a user reaches it (SPIN_MS is the constant above).
const HELPER_SOURCE = `
const SPIN_MS = ${SPIN_MS};
function start(d) {
  const inst = new WebAssembly.Instance(d.module, { env: { memory: d.memory } });
  const fns = [inst.exports.gemm_nn, inst.exports.gemm_tn, inst.exports.gemm_nt];
  const sparse = [inst.exports.gemm_bx, inst.exports.gemm_vx];
  const convValid = inst.exports.conv_valid, filterGrad = inst.exports.conv_filter_grad;
  const pool = inst.exports.max_pool2d, poolGrad = inst.exports.max_pool2d_grad;
  const im2col = inst.exports.im2col, gemmNN = inst.exports.gemm_nn, gemmTN = inst.exports.gemm_tn, col2im = inst.exports.col2im_add;
  const ctl = d.ctl;
  const ctlf = new Float32Array(ctl.buffer);
  let seen = 0;
  for (;;) {
    // Spin for up to SPIN_MS before sleeping: the next product usually
    // follows within a millisecond, and waking a sleeping thread took
    // 0.3–1 ms on the (virtualised) build machine — longer than a product.
    const until = performance.now() + SPIN_MS;
    while (Atomics.load(ctl, 0) === seen) {
      for (let s = 0; s < 1000 && Atomics.load(ctl, 0) === seen; s++);
      if (performance.now() > until) { Atomics.wait(ctl, 0, seen); break; }
    }
    seen = Atomics.load(ctl, 0);
    const f = ctl[2];
    if (f < 0) return;
    if (f === 3) {
      // im2col_gemm (kernels.ts im2colGemm): the helper's images of the block.
      const c = ctl;
      im2col(c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15], c[16]);
      gemmNN(c[17] + c[15] * c[8] * c[9] * 4, c[4], c[18], c[19], c[14] * c[10] * c[11], c[16] * c[8] * c[9], c[20], c[12], c[12], c[21], 1);
    } else if (f === 4) {
      // full_conv (kernels.ts fullConv): the helper's images, its own scratch.
      const c = ctl;
      const R = c[12] * c[13] * c[14], HW = c[10] * c[11];
      for (let b = c[7]; b < c[8]; b++) {
        gemmTN(c[4], c[3] + b * c[9] * HW * 4, c[5], R, HW, c[9], R, HW, HW, 0, 1);
        col2im(c[5], c[6] + b * c[12] * c[15] * c[16] * 4, c[12], c[13], c[14], c[10], c[11], c[15], c[16]);
      }
    } else if (f === 7) {
      const c = ctl;
      convValid(c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15], c[16]);
    } else if (f === 8) {
      const c = ctl;
      filterGrad(c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12], c[13], c[14], c[15], c[16], c[17], c[18]);
    } else if (f === 9) {
      const c = ctl;
      pool(c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11]);
    } else if (f === 10) {
      const c = ctl;
      poolGrad(c[3], c[4], c[5], c[6], c[7], c[8], c[9], c[10], c[11], c[12]);
    } else if (f === 5 || f === 6) {
      sparse[f - 5](ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], ctlf[13]);
    } else fns[f](ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], ctl[12], ctlf[13]);
    Atomics.store(ctl, 1, seen);
    Atomics.notify(ctl, 1);
  }
}
if (typeof require === "function") start(require("node:worker_threads").workerData);
else self.onmessage = (e) => start(e.data);
`;

interface HelperThread {
  readonly ctl: Int32Array;
}

type WorkerThreadsModule = {
  Worker: new (src: string, opts: { eval: boolean; workerData: unknown }) => { unref(): void };
};

function startHelper(module: WebAssembly.Module, memory: WebAssembly.Memory): HelperThread | undefined {
  const ctl = new Int32Array(new SharedArrayBuffer(128));
  const data = { module, memory, ctl };
  const proc = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process;
  if (proc?.getBuiltinModule) {
    const wt = proc.getBuiltinModule("node:worker_threads") as WorkerThreadsModule;
    new wt.Worker(HELPER_SOURCE, { eval: true, workerData: data }).unref();
    return { ctl };
  }
  if (typeof Worker !== "undefined" && typeof Blob !== "undefined") {
    const w = new Worker(URL.createObjectURL(new Blob([HELPER_SOURCE], { type: "text/javascript" })));
    w.postMessage(data);
    return { ctl };
  }
  return undefined;
}

/** Whether this thread may block in Atomics.wait (not a browser's main thread). */
const canBlock = typeof (globalThis as { window?: unknown }).window === "undefined";

/** Wraps single-thread kernels so large products are shared with a helper
 * thread; `undefined` when no helper thread can be started here. */
export function twoThreadKernels(single: Kernels, module: WebAssembly.Module, memory: WebAssembly.Memory): Kernels | undefined {
  const helper = startHelper(module, memory);
  if (!helper) return undefined;
  const ctl = helper.ctl;
  const ctlf = new Float32Array(ctl.buffer);
  let seq = 0;
  /** Hands the helper a job (kernel index, its i32 arguments from ctl[3],
   * a product's α as f32 bits in ctl[13]); returns its sequence number. */
  const post = (kind: number, ints: readonly number[], alpha?: number): number => {
    ctl[2] = kind;
    for (let i = 0; i < ints.length; i++) ctl[3 + i] = ints[i]!;
    if (alpha !== undefined) ctlf[13] = alpha;
    const job = ++seq;
    Atomics.store(ctl, 0, job);
    Atomics.notify(ctl, 0);
    return job;
  };
  const waitFor = (job: number): void => {
    for (let s = 0; s < 100000 && Atomics.load(ctl, 1) !== job; s++);
    while (Atomics.load(ctl, 1) !== job) {
      if (canBlock) Atomics.wait(ctl, 1, job - 1, 1000);
    }
  };
  // The named product call: a product marked `split` by the compiler is
  // halved, anything else runs here as on one thread.
  const gemm: Kernels["gemm"] = (p) => {
    if (!p.split) return single.gemm(p);
    if (p.transA && p.transB) throw new Error("gemm: A and B both transposed (no kernel; transpose one first)");
    const index = p.transA ? 1 : p.transB ? 2 : 0;
    const run = single[NAMES[index]!];
    const { a, b, c, m, n, k, lda, ldb, ldc, alpha } = p;
    const acc = p.accumulate ? 1 : 0;
    // The helper takes the second half: columns of C (whole 8-column tiles)
    // when C has few rows, so that each thread reads half of B, the large
    // operand of a minibatch's product (a batch of 20 split by rows gave
    // 12 and 8 rows, both threads streaming all of B); else rows (whole
    // 4-row tiles).
    let a2 = a, b2 = b, c2 = c, m1 = m, n1 = n, m2 = m, n2 = n;
    if (m >= 64 || (n < 16 && m >= 8)) {
      m1 = Math.ceil(m / 8) * 4;
      m2 = m - m1;
      a2 = a + (p.transA ? m1 : m1 * lda) * 4;
      c2 = c + m1 * ldc * 4;
    } else {
      n1 = Math.floor(n / 16) * 8;
      if (n1 === 0) return run(a, b, c, m, n, k, lda, ldb, ldc, acc, alpha);
      n2 = n - n1;
      b2 = b + (p.transB ? n1 * ldb : n1) * 4;
      c2 = c + n1 * 4;
    }
    const job = post(index, [a2, b2, c2, m2, n2, k, lda, ldb, ldc, acc], alpha);
    run(a, b, c, m1, n1, k, lda, ldb, ldc, acc, alpha);
    waitFor(job);
  };
  // A product that skips A's zeros, marked split: the list once, here;
  // then, when A is sparse enough for it, the helper takes the columns from
  // n1 (whole 32-column strips), else the dense kernel splits as above.
  const gemmSparse: Kernels["gemmSparse"] = (p) => {
    const n1 = Math.floor(p.n / 64) * 32;
    if (!p.split || n1 === 0) return single.gemmSparse(p);
    const acc = p.accumulate ? 1 : 0;
    const nonzeros = single.nonzero_rows(p.a, p.m, p.k, p.lda, p.ldb, p.transA ? 1 : 0, p.list);
    if (!sparsePays(nonzeros, p.m * p.k, p.binary)) return gemm({ ...p, transB: false });
    const job = post(p.binary ? 5 : 6, [p.list, p.b + n1 * 4, p.c + n1 * 4, p.m, p.n - n1, p.k, p.ldc, acc], p.alpha);
    (p.binary ? single.gemm_bx : single.gemm_vx)(p.list, p.b, p.c, p.m, n1, p.k, p.ldc, acc, p.alpha);
    waitFor(job);
  };
  const conv: Kernels["im2col_gemm"] = (x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, nb, c0, cb, w, acc, K, lda, accumulate) => {
    const run = single.im2col_gemm;
    if (nb < 2 || K * nb * Ho * Wo * cb * kh * kw < MIN_IMAGE_SPLIT) return run(x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, nb, c0, cb, w, acc, K, lda, accumulate);
    // The helper takes the second half of the images: their columns start
    // at h·Ho·Wo in cols and in the accumulator (row stride L for both).
    const h = nb >> 1;
    const off = h * Ho * Wo * 4;
    const job = post(3, [x, cols + off, C, H, W, kh, kw, Ho, Wo, L, n0 + h, nb - h, c0, cb, w, acc + off, K, lda, accumulate]);
    run(x, cols, C, H, W, kh, kw, Ho, Wo, L, n0, h, c0, cb, w, acc, K, lda, accumulate);
    waitFor(job);
  };
  // The full convolution by images: the helper takes the second half with
  // the second scratch r2.
  const full: Kernels["full_conv"] = (x, wr, r, r2, y, b0, b1, C, H, W, K, kh, kw, Ho, Wo) => {
    const run = single.full_conv;
    const n = b1 - b0;
    if (n < 2 || K * kh * kw * H * W * C < MIN_IMAGE_SPLIT) return run(x, wr, r, r2, y, b0, b1, C, H, W, K, kh, kw, Ho, Wo);
    const h = b0 + (n >> 1);
    const job = post(4, [x, wr, r2, y, h, b1, C, H, W, K, kh, kw, Ho, Wo]);
    run(x, wr, r, r2, y, b0, h, C, H, W, K, kh, kw, Ho, Wo);
    waitFor(job);
  };
  // A direct convolution by images, the helper taking the second half (the
  // tap table is filled before the call and only read here).
  const direct: Kernels["conv_valid"] = (x, w, y, tab, C, H, W, K, Ho, Wo, P, pblock, n0, n1) => {
    const run = single.conv_valid;
    const n = n1 - n0;
    if (n < 2 || n * K * Ho * Wo * P < MIN_IMAGE_SPLIT) return run(x, w, y, tab, C, H, W, K, Ho, Wo, P, pblock, n0, n1);
    const h = n0 + (n >> 1);
    const job = post(7, [x, w, y, tab, C, H, W, K, Ho, Wo, P, pblock, h, n1]);
    run(x, w, y, tab, C, H, W, K, Ho, Wo, P, pblock, n0, h);
    waitFor(job);
  };
  // A filter gradient by taps, the helper taking the second half (whole
  // 4-tap tiles) with its own scratch gt2 for the blocks of g it
  // transposes (the tap table is filled before the call and only read).
  const filterGrad: Kernels["conv_filter_grad"] = (x, g, gt, gt2, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, p0, p1) => {
    const run = single.conv_filter_grad;
    const h = p0 + 4 * ((p1 - p0) >> 3);
    if (h === p0 || N * (p1 - p0) * K * Ho * Wo < MIN_IMAGE_SPLIT) return run(x, g, gt, gt2, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, p0, p1);
    const job = post(8, [x, g, gt2, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, h, p1]);
    run(x, g, gt, gt2, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, p0, h);
    waitFor(job);
  };
  // Max-pooling and its gradient by planes (each plane's windows, and its
  // slice of the gradient, are the plane's own): the helper takes the
  // second half. Pooling moves memory more than it computes, so a plane
  // counts as its H·W elements against the split threshold.
  const planeBytes = (H: number, W: number) => H * W * 4;
  const maxPool: Kernels["max_pool2d"] = (x, y, P, H, W, ph, pw, Ho, Wo) => {
    const h = P >> 1;
    if (h === 0 || P * H * W < MIN_IMAGE_SPLIT) return single.max_pool2d(x, y, P, H, W, ph, pw, Ho, Wo);
    const job = post(9, [x + h * planeBytes(H, W), y + h * planeBytes(Ho, Wo), P - h, H, W, ph, pw, Ho, Wo]);
    single.max_pool2d(x, y, h, H, W, ph, pw, Ho, Wo);
    waitFor(job);
  };
  const maxPoolGrad: Kernels["max_pool2d_grad"] = (x, g, out, P, H, W, ph, pw, Ho, Wo) => {
    const h = P >> 1;
    if (h === 0 || P * H * W < MIN_IMAGE_SPLIT) return single.max_pool2d_grad(x, g, out, P, H, W, ph, pw, Ho, Wo);
    const job = post(10, [x + h * planeBytes(H, W), g + h * planeBytes(Ho, Wo), out + h * planeBytes(H, W), P - h, H, W, ph, pw, Ho, Wo]);
    single.max_pool2d_grad(x, g, out, h, H, W, ph, pw, Ho, Wo);
    waitFor(job);
  };
  return { ...single, gemm, gemmSparse, im2col_gemm: conv, full_conv: full, conv_valid: direct, conv_filter_grad: filterGrad, max_pool2d: maxPool, max_pool2d_grad: maxPoolGrad };
}
