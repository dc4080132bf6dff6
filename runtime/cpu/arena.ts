// The memory a generated CPU model keeps its buffers in (its arena), how many
// threads its kernels use, and data placed in it for good.
//
// An arena is one WebAssembly memory: the buffers the compiler laid out
// (generated/<model>/model.ts has their byte offsets as constants) and,
// above them, data the trainer places there once (`residentCopy`: a
// training split). A batch whose rows lie in the arena is multiplied where
// it lies: the generated step asks `inputAddress` for an input that only
// matrix products read (compiler/emit/ts/in-place-inputs.ts) and passes
// that address to the kernels, instead of copying the batch into the
// input's own buffer first. On logistic regression that copy was a quarter
// of the step (0.11 of 0.43 ms: 600 × 784 floats, written and read again).
//
// Trap: growing a memory detaches every view of a plain (unshared)
// memory's buffer, and the model's fields are such views. A shared memory's
// old buffers stay valid when it grows (each keeps its length), so arenas
// are shared wherever SharedArrayBuffer exists (Node, cross-origin-isolated
// pages), whatever the thread count, and only a shared arena takes resident
// data. Other threads see the grown pages at once: V8 checks wasm bounds
// with guard pages of one mapping, not with a per-thread length (tested in
// test/resident-batches.test.ts with the helper thread running).

const PAGE = 65536;

/** The most an arena may grow to: 2 GiB (full MNIST's training split as
 * f32 is 157 MB). A shared memory must declare a maximum; V8 reserves
 * address space for it, not memory. */
const MAX_PAGES = 32768;

/** Threads each arena's kernels use (`createKernels` reads it). */
const threadsOf = new WeakMap<WebAssembly.Memory, number>();

/** The arena each of its buffers (one per size it has had) belongs to. */
const arenaOf = new WeakMap<ArrayBufferLike, WebAssembly.Memory>();

/** Threads the CPU kernels use: `DLT_THREADS` (1 or 2) where shared memory
 * is available, otherwise 1. Unset, 2 for a model that has work to share
 * (`splits`: generated code passes true when the compiler marked a product
 * `split` or the model has convolutions that split by images,
 * compiler/emit/wasm/split-rule.ts) on a machine of two cores or more, else
 * 1: a model with nothing to split never starts the helper thread. */
export function cpuThreads(splits = false): number {
  const g = globalThis as { process?: { env?: Record<string, string | undefined>; getBuiltinModule?: (id: string) => unknown }; navigator?: { hardwareConcurrency?: number } };
  if (typeof SharedArrayBuffer === "undefined") return 1;
  const env = g.process?.env?.DLT_THREADS;
  if (env === undefined || env === "") return splits && cores(g) >= 2 ? 2 : 1;
  const n = Number(env);
  if (!Number.isInteger(n) || n < 1 || n > 2) throw new Error(`DLT_THREADS must be 1 or 2, got "${env}"`);
  return n;
}

/** Cores of this machine (Node's os.availableParallelism, a browser's
 * hardwareConcurrency), 1 when neither says. */
function cores(g: { process?: { getBuiltinModule?: (id: string) => unknown }; navigator?: { hardwareConcurrency?: number } }): number {
  const os = g.process?.getBuiltinModule?.("node:os") as { availableParallelism?: () => number } | undefined;
  return os?.availableParallelism?.() ?? g.navigator?.hardwareConcurrency ?? 1;
}

export const isShared = (memory: WebAssembly.Memory): boolean => typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer;

/** A memory of at least `bytes` bytes for a model's buffers, whose kernels
 * use `threads` threads: shared (and able to grow for resident data)
 * wherever SharedArrayBuffer exists, plain otherwise. */
export function createArena(bytes: number, threads = cpuThreads()): WebAssembly.Memory {
  const pages = Math.max(1, Math.ceil(bytes / PAGE));
  let memory: WebAssembly.Memory;
  if (typeof SharedArrayBuffer === "undefined") memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
  else {
    try {
      memory = new WebAssembly.Memory({ initial: pages, maximum: Math.max(pages, MAX_PAGES), shared: true });
    } catch {
      // A browser that cannot reserve 2 GiB: no room to grow, still shared.
      memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
    }
  }
  threadsOf.set(memory, threads);
  arenaOf.set(memory.buffer, memory);
  return memory;
}

/** Threads an arena's kernels use (a memory not made by createArena: two
 * when shared, as before arenas recorded it). */
export function arenaThreads(memory: WebAssembly.Memory): number {
  return threadsOf.get(memory) ?? (isShared(memory) ? 2 : 1);
}

/** A copy of `data` placed in the arena for good (above the model's
 * buffers, 64-byte aligned), or undefined where the arena cannot take it:
 * a plain memory (growing it would detach the model's views) or one at its
 * maximum. Batches made of its rows are read in place (`inputAddress`). */
export function residentCopy<T extends Float32Array | Int32Array>(memory: WebAssembly.Memory, data: T): T | undefined {
  if (!isShared(memory) || data.length === 0) return undefined;
  const at = memory.buffer.byteLength;
  try {
    memory.grow(Math.ceil(data.byteLength / PAGE));
  } catch {
    return undefined;
  }
  const buffer = memory.buffer;
  arenaOf.set(buffer, memory);
  const copy = (data instanceof Float32Array ? new Float32Array(buffer, at, data.length) : new Int32Array(buffer, at, data.length)) as T;
  copy.set(data);
  return copy;
}

/** Whether `view` lies in `memory` (one of the arena's buffers). */
export function inArena(memory: WebAssembly.Memory, view: ArrayBufferView): boolean {
  return arenaOf.get(view.buffer) === memory;
}

/** The byte address a kernel reads a batch's input from: the batch's own
 * array where it lies in this arena with the input's length (read in
 * place), else `own` (the input's buffer in the arena) after copying the
 * batch into it — which throws a RangeError for a batch longer than the
 * input, as copying always did. */
export function inputAddress(memory: WebAssembly.Memory, batch: Float32Array, own: Float32Array): number {
  if (batch.length === own.length && arenaOf.get(batch.buffer) === memory) return batch.byteOffset;
  own.set(batch);
  return own.byteOffset;
}
