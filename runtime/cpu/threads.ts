// Two-thread matrix products: a helper thread instantiates the same kernel
// module over the same shared memory and computes one half of each large
// product (rows of C, or columns when there are few rows) while the calling
// thread computes the other. Each element of C is computed by exactly one
// thread with the same instruction sequence as single-threaded, so results
// are bitwise those of one thread (checkpoints resume identically whatever
// the thread count).
//
// Handshake through a small shared Int32Array (no messages per call):
//   ctl[0] job sequence (caller bumps, helper waits on it)
//   ctl[1] done sequence (helper sets it to the job's sequence)
//   ctl[2] kernel index (0 nn, 1 tn, 2 nt; −1 stops the helper)
//   ctl[3..12] the kernel's first ten arguments (i32), ctl[13] alpha's f32 bits
// Traps: a helper thread must not keep Node alive (unref); Atomics.wait is
// refused on a browser's main thread, so the caller spins there instead.
import type { GemmKernel, Kernels } from "./kernels.ts";

/** Below this many multiply-adds a product runs on the calling thread: a
 * wake-up costs tens of microseconds, about 2^18 multiply-adds' worth. */
const MIN_SPLIT = 1 << 18;

/** Products shallower than this run on one thread. The half of C the helper
 * writes sits dirty in the other core's cache, and whoever reads it next
 * pays for moving it: measured on the build machine, the MLP's weight
 * update after a split 784×500×20 gradient product took 2.0 ms instead of
 * 0.55 ms (about 4 ns per float of C), which outweighs what splitting saves
 * (k/36 ns per element of C at 36 GFLOP/s) unless k is well above 150. */
const MIN_DEPTH = 192;

const NAMES = ["gemm_nn", "gemm_tn", "gemm_nt"] as const;

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
    fns[f](ctl[3], ctl[4], ctl[5], ctl[6], ctl[7], ctl[8], ctl[9], ctl[10], ctl[11], ctl[12], ctlf[13]);
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
  const ctl = new Int32Array(new SharedArrayBuffer(64));
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
  const wrap = (index: number): GemmKernel => {
    const run = single[NAMES[index]!];
    const transA = index === 1, transB = index === 2;
    return (a, b, c, m, n, k, lda, ldb, ldc, acc, alpha) => {
      if (m * n * k < MIN_SPLIT || k < MIN_DEPTH) return run(a, b, c, m, n, k, lda, ldb, ldc, acc, alpha);
      // The helper takes the second half: rows of C (kept in whole 4-row
      // tiles) or, with fewer than 8 rows, columns (whole 8-column tiles).
      let a2 = a, b2 = b, c2 = c, m1 = m, n1 = n, m2 = m, n2 = n;
      if (m >= 8) {
        m1 = Math.ceil(m / 8) * 4;
        m2 = m - m1;
        a2 = a + (transA ? m1 : m1 * lda) * 4;
        c2 = c + m1 * ldc * 4;
      } else {
        n1 = Math.floor(n / 16) * 8;
        if (n1 === 0) return run(a, b, c, m, n, k, lda, ldb, ldc, acc, alpha);
        n2 = n - n1;
        b2 = b + (transB ? n1 * ldb : n1) * 4;
        c2 = c + n1 * 4;
      }
      ctl[2] = index;
      ctl[3] = a2; ctl[4] = b2; ctl[5] = c2; ctl[6] = m2; ctl[7] = n2; ctl[8] = k;
      ctl[9] = lda; ctl[10] = ldb; ctl[11] = ldc; ctl[12] = acc; ctlf[13] = alpha;
      const job = ++seq;
      Atomics.store(ctl, 0, job);
      Atomics.notify(ctl, 0);
      run(a, b, c, m1, n1, k, lda, ldb, ldc, acc, alpha);
      for (let s = 0; s < 100000 && Atomics.load(ctl, 1) !== job; s++);
      while (Atomics.load(ctl, 1) !== job) {
        if (canBlock) Atomics.wait(ctl, 1, job - 1, 1000);
      }
    };
  };
  return { ...single, gemm_nn: wrap(0), gemm_tn: wrap(1), gemm_nt: wrap(2) };
}
