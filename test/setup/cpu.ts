// The CPU backend's code run outside a generated model: an op's TypeScript
// kernel with every buffer in a WebAssembly memory (as a generated model
// keeps them, so kernels that call runtime/cpu/kernels.ts run for real),
// elementwise TypeScript expressions, and wasm SIMD expressions (OpDef.wasm)
// laid out by compiler/emit/wasm/loops.ts.

import { type ArrayCtor, ctorOf } from "../../compiler/emit/ts/arena.ts";
import { assemble } from "../../compiler/emit/wasm/assemble.ts";
import { WasmLoops, type WasmTree } from "../../compiler/emit/wasm/loops.ts";
import type { Tensor } from "../../compiler/ir/tensor.ts";
import { type Graph, type Node, numel, strides } from "../../compiler/ir/types.ts";
import type { KernelCtx, ScalarCtx } from "../../compiler/ops/op.ts";
import { OPS } from "../../compiler/ops/registry.ts";
import { createArena } from "../../runtime/cpu/arena.ts";
import { createKernels, type Kernels } from "../../runtime/cpu/kernels.ts";
import { normal, uniform } from "../../runtime/rng/philox.ts";

export type View = Float32Array | Float64Array | Int32Array | Uint8Array;
export type Ctor = ArrayCtor;
/** The typed array a buffer of `dtype` has in generated code. */
export { ctorOf };

const BYTES: Record<Ctor, number> = { Float32Array: 4, Float64Array: 8, Int32Array: 4, Uint8Array: 1 };

/** A model-like memory with the kernels over it: buffers are placed one
 * after another (16-byte aligned, as compiler/emit/ts lays them out). One
 * arena per worker, emptied by `reset` before each run. */
export class Arena {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
  private next = 16;
  private readonly views = new Map<string, View>();
  private readonly addrs = new Map<string, number>();

  constructor(bytes: number) {
    this.memory = createArena(bytes, 1);
    this.kernels = createKernels(this.memory);
  }

  reset(): void {
    this.next = 16;
    this.views.clear();
    this.addrs.clear();
  }

  /** A buffer named `name` of `size` elements, filled with `fill`. */
  place(name: string, ctor: Ctor, size: number, fill: number): View {
    const at = this.next;
    this.next = Math.ceil((at + Math.max(1, size) * BYTES[ctor]) / 16) * 16;
    if (this.next > this.memory.buffer.byteLength) throw new Error(`test arena full (${this.next} bytes)`);
    const view = new globalThis[ctor](this.memory.buffer, at, size).fill(fill);
    this.views.set(name, view);
    this.addrs.set(name, at);
    return view;
  }

  addr(name: string): number {
    const a = this.addrs.get(name);
    if (a === undefined) throw new Error(`${name} is not in the arena`);
    return a;
  }

  /** Names and views of every buffer placed since the last reset. */
  buffers(): [string, View][] {
    return [...this.views];
  }
}

let shared: Arena | undefined;
/** The worker's arena (64 MiB), emptied. */
export function arena(): Arena {
  shared ??= new Arena(64 << 20);
  shared.reset();
  return shared;
}

/** Code a kernel must not contain: it runs every step, allocating nothing. */
export const ALLOCATES = /new |\.slice\(|\.subarray\(|\.map\(/;

/** Runs `node`'s TypeScript kernel on `inputs` (one per operand, of the
 * operands' dtypes) with every buffer in the arena: the output starts as
 * garbage (77) and scratch buffers as NaN / −99, so a kernel that relies on
 * either fails. */
export function runTsKernel(node: Node, inputs: readonly Tensor[]): { got: View; code: string } {
  const em = OPS[node.op].ts;
  if (em.kind !== "kernel") throw new Error(`${node.op} has no TypeScript kernel`);
  const a = arena();
  inputs.forEach((t, q) => a.place(`in${q}`, ctorOf(t.dtype), t.data.length, 0).set(t.data));
  const out = a.place("out", ctorOf(node.dtype), Math.max(1, numel(node.shape)), 77);
  let n = 0;
  const k: KernelCtx<never> = {
    node: node as never,
    out: "out",
    ins: inputs.map((_, q) => `in${q}`),
    inTypes: inputs.map((t) => ({ shape: t.shape, dtype: t.dtype })),
    fresh: (s) => `${s}${n++}`,
    scratch: (ctor, size) => {
      const name = `w${n++}`;
      a.place(name, ctor, size, ctor === "Int32Array" ? -99 : NaN);
      return name;
    },
    addr: (b) => a.addr(b),
    kernels: "K",
  };
  const code = (em.emit as (k: KernelCtx<never>) => string)(k);
  const bufs = a.buffers();
  new Function("K", ...bufs.map(([name]) => name), code)(a.kernels, ...bufs.map(([, v]) => v));
  return { got: out.slice(0, numel(node.shape)), code };
}

const SCALAR: ScalarCtx = { index: "i", seed: "seed", step: "step", iter: "iter", rng: "rng" };
const RNG = { uniform, normal };

/** The TypeScript expression of a graph of elementwise nodes over its input
 * leaves (all of the output's shape), `x<k>` naming leaf k. */
export function tsExpression(g: Graph, out: number, leafName: (n: Node) => string): string {
  const expr = (id: number): string => {
    const n = g.nodes[id]!;
    if (n.op === "input") return `${leafName(n)}[i]`;
    const em = OPS[n.op].ts;
    if (em.kind !== "elementwise") throw new Error(`${n.op} is not elementwise`);
    return (em.expr as (a: readonly string[], n: Node, e: ScalarCtx) => string)(n.inputs.map(expr), n, SCALAR);
  };
  return expr(out);
}

/** Runs a graph of elementwise nodes as one fused TypeScript loop, storing
 * through the output's typed array as generated code does. */
export function runTsElementwise(g: Graph, out: number, leaves: ReadonlyMap<string, Tensor>, run: { seed: number; step: number; iter: number }): { got: View; code: string } {
  const names = new Map<string, string>();
  const leafName = (n: Node) => {
    const key = (n as Node<"input">).attrs.name;
    if (!names.has(key)) names.set(key, `a${names.size}`);
    return names.get(key)!;
  };
  const body = tsExpression(g, out, leafName);
  const node = g.nodes[out]!;
  const size = numel(node.shape);
  const got = new globalThis[ctorOf(node.dtype)](size);
  const code = `for (let i = 0; i < ${size}; i++) out[i] = ${body};`;
  const args = [...names].map(([key]) => {
    const t = leaves.get(key)!;
    return new globalThis[ctorOf(t.dtype)](t.data);
  });
  new Function("out", "rng", "seed", "step", "iter", ...names.values(), code)(got, RNG, run.seed, run.step, run.iter, ...args);
  return { got, code };
}

/** Runs a graph of elementwise f32 nodes that all have a wasm SIMD form as
 * one loop of compiler/emit/wasm/loops.ts over the arena. */
export function runWasmElementwise(g: Graph, out: number, leaves: ReadonlyMap<string, Tensor>): { got: Float32Array; code: string } {
  const a = arena();
  const node = g.nodes[out]!;
  const size = numel(node.shape);
  const st = strides(node.shape);
  const placed = new Map<string, number>();
  const tree = (id: number): WasmTree => {
    const n = g.nodes[id]!;
    if (n.op === "input") {
      const key = (n as Node<"input">).attrs.name;
      if (!placed.has(key)) {
        const t = leaves.get(key)!;
        a.place(key, "Float32Array", t.data.length, 0).set(t.data);
        placed.set(key, a.addr(key));
      }
      return { kind: "load", addr: placed.get(key)!, strides: st };
    }
    if (n.op === "const") return { kind: "const", value: (n as Node<"const">).attrs.value };
    const emit = OPS[n.op].wasm;
    if (!emit) throw new Error(`${n.op} has no wasm form`);
    return { kind: "op", emit, args: n.inputs.map(tree) };
  };
  const t = tree(out);
  const view = a.place("out", "Float32Array", size, 77) as Float32Array;
  const w = new WasmLoops();
  if (!w.elementwise("f", "test", t, a.addr("out"), node.shape)) throw new Error("the wasm loop refused the layout");
  // Arenas are shared wherever SharedArrayBuffer exists (runtime/cpu/arena.ts).
  const shared = a.memory.buffer instanceof SharedArrayBuffer;
  const wat = w.module("", shared);
  const inst = new WebAssembly.Instance(new WebAssembly.Module(assemble("t.wat", wat, !shared) as Uint8Array<ArrayBuffer>), { env: { memory: a.memory } });
  (inst.exports.f as () => void)();
  return { got: view.slice(0, size), code: wat };
}
