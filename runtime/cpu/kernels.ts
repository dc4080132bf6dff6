// The CPU backend's WebAssembly SIMD kernels and the memory a generated model
// keeps its buffers in. Generated code computes every buffer's byte offset at
// compile time and passes offsets, sizes and strides to these kernels as
// constants; elementwise loops read the same buffers as Float32Array views.
// Works in Node and in browsers (synchronous compilation of a module this
// size is allowed in workers; on a browser's main thread await the generated
// model's `prepare()` first).
import { KERNELS_SHARED_WASM, KERNELS_WASM } from "./kernels-wasm.ts";
import { twoThreadKernels } from "./threads.ts";

/** Arguments: byte addresses of A, B, C; m, n, k; leading dimensions of A,
 * B, C in elements; acc ≠ 0 adds to C instead of overwriting it. */
export type GemmKernel = (a: number, b: number, c: number, m: number, n: number, k: number, lda: number, ldb: number, ldc: number, acc: number, alpha: number) => void;

export interface Kernels {
  /** C (+)= α·A·B (acc ≠ 0 adds to C) */
  readonly gemm_nn: GemmKernel;
  /** C (+)= α·Aᵀ·B */
  readonly gemm_tn: GemmKernel;
  /** C (+)= α·A·Bᵀ */
  readonly gemm_nt: GemmKernel;
  /** gemm_nn / gemm_tn for a mostly-zero A (a data input): skips A's zeros
   * when under 40 % are non-zero, else the dense kernel (compiler/emit/wasm/sparse.ts). */
  readonly gemm_nn_sx: GemmKernel;
  readonly gemm_tn_sx: GemmKernel;
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
}

const PAGE = 65536;
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

/** Threads the CPU kernels use: `DLT_THREADS` (1 or 2) where shared memory
 * is available, otherwise 1. The default is 1: on the 2-core build machine a
 * second thread made LeNet's step 7 % faster but the MLP's 45 % slower —
 * moving cache lines between its cores costs ~4 ns per float, and a product
 * split across threads leaves its operands and result in both caches for
 * the next (single-threaded) loop to pull back (docs/performance.md). */
export function cpuThreads(): number {
  const g = globalThis as { process?: { env?: Record<string, string | undefined> } };
  if (typeof SharedArrayBuffer === "undefined") return 1;
  const env = g.process?.env?.DLT_THREADS;
  if (env === undefined || env === "") return 1;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 2) throw new Error(`DLT_THREADS must be 1 or 2, got "${env}"`);
  return n;
}

/** A memory of at least `bytes` bytes for a model's buffers: shared when the
 * kernels will use two threads. */
export function createArena(bytes: number, threads = cpuThreads()): WebAssembly.Memory {
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  return new WebAssembly.Memory({ initial: pages, maximum: pages, ...(threads > 1 ? { shared: true } : {}) });
}

const isShared = (memory: WebAssembly.Memory) => typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;

/** A generated model's own module (its fused loops, compiled by dlt-compile
 * into generated/<model>/loops-wasm.ts) over the model's memory. */
export function instantiateLoops<T>(memory: WebAssembly.Memory, plain: string, shared: string): T {
  return new WebAssembly.Instance(moduleOf(isShared(memory) ? shared : plain), { env: { memory } }).exports as unknown as T;
}

export function createKernels(memory: WebAssembly.Memory): Kernels {
  const shared = isShared(memory);
  const mod = moduleOf(shared ? KERNELS_SHARED_WASM : KERNELS_WASM);
  const inst = new WebAssembly.Instance(mod, { env: { memory } });
  const e = inst.exports as unknown as Kernels;
  const single: Kernels = { gemm_nn: e.gemm_nn, gemm_tn: e.gemm_tn, gemm_nt: e.gemm_nt, gemm_nn_sx: e.gemm_nn_sx, gemm_tn_sx: e.gemm_tn_sx, im2col: e.im2col, col2im_add: e.col2im_add, max_pool2d: e.max_pool2d, max_pool2d_grad: e.max_pool2d_grad, swap01: e.swap01, reverse_blocks: e.reverse_blocks };
  return (shared && twoThreadKernels(single, mod, memory)) || single;
}
