// What a primitive op is: one unit holding its shape/dtype rule, its
// vector-Jacobian product (written in IR ops through the Builder), its f64
// reference evaluation (the oracle every backend is tested against), and its
// code emitters. The registry in ./registry.ts is typed exhaustively over
// `Prim`, so an op missing any of these does not type-check.

import type { Builder } from "../ir/builder.ts";
import type { Tensor } from "../ir/tensor.ts";
import type { Graph, Node, Prim, TensorType } from "../ir/types.ts";
import type { PrimAttrs } from "./attrs.ts";

/** Cotangent handed to a VJP: one node id, or one per element for the tuple
 * produced by `scan` (null where that output receives no gradient). */
export type Cotangent<P extends Prim> = P extends "scan" ? readonly (number | null)[] : number;

/** What the evaluator hands an op: tensors, except `tuple_get`, which reads a
 * tuple produced by `scan`. */
export type EvalInputs<P extends Prim> = P extends "tuple_get" ? readonly (readonly Tensor[])[] : readonly Tensor[];
export type EvalOutput<P extends Prim> = P extends "scan" ? Tensor[] : Tensor;

export interface EvalCtx {
  /** Seed of the counter-based RNG and the counters that random ops mix in. */
  readonly seed: number;
  readonly step: number;
  readonly iter: number;
  /** Evaluates a sub-graph (a scan body) on the given leaf values. */
  runBody(body: Graph, args: readonly Tensor[], iter: number): Tensor[];
  /** Values of leaves by name (input/param/state). */
  leaf(kind: "input" | "param" | "state", name: string): Tensor;
  /** Value of a `scan_arg` leaf inside a scan body. */
  arg(index: number): Tensor;
}

/** How the TypeScript backend renders an op.
 * - `elementwise`: a scalar expression over the operands' scalar values; the
 *   lowering fuses chains of these into one loop. `index` is the flat output
 *   index (random ops use it as their counter).
 * - `kernel`: statements over whole buffers (flat, row-major, contiguous).
 * - `leaf`: no code; the buffer is provided by the trainer.
 * - `view`: the output aliases the input buffer (reshape of contiguous data).
 * - `structural`: lowered by the scheduler itself (scan, tuple_get, broadcast
 *   as an index map inside fused loops). */
export type TsEmitter<P extends Prim> =
  | { readonly kind: "elementwise"; expr(args: readonly string[], node: Node<P>, e: ScalarCtx): string }
  | { readonly kind: "kernel"; emit(k: KernelCtx<P>): string }
  | { readonly kind: "leaf" }
  | { readonly kind: "view" }
  | { readonly kind: "structural" };

export interface ScalarCtx {
  /** Expression for the flat index of the element being computed. */
  readonly index: string;
  /** Expressions for the RNG seed, the step counter and the scan iteration. */
  readonly seed: string;
  readonly step: string;
  readonly iter: string;
  /** Name under which the runtime's RNG module is imported (e.g. `rng`). */
  readonly rng: string;
}

export interface KernelCtx<P extends Prim> {
  readonly node: Node<P>;
  /** Typed-array variable names of the output and of each input. */
  readonly out: string;
  readonly ins: readonly string[];
  readonly inTypes: readonly TensorType[];
  /** Whether each operand is a data input (pixels: mostly zeros, which a
   * product may skip). Absent: none is. */
  readonly dataInputs?: readonly boolean[];
  /** Whether each operand holds only exact 0s and 1s (a Bernoulli sample):
   * a product needs no multiplications. Absent: none does. */
  readonly binaryInputs?: readonly boolean[];
  /** A fresh local identifier (unique in the emitted function). */
  fresh(base: string): string;
  /** A scratch buffer allocated once with the model (never inside a step). */
  scratch(ctor: "Float32Array" | "Float64Array" | "Int32Array", size: number): string;
  /** Byte address of a buffer (any of `out`, `ins`, or a `scratch`) in the
   * model's memory, where the WebAssembly kernels can reach it: every buffer
   * of a generated model lives there. */
  addr(buffer: string): number;
  /** Expression of the model's kernel object (`Kernels` of
   * runtime/cpu/kernels.ts); calls are written by `kernelCall`
   * (compiler/emit/wasm/calls.ts). */
  readonly kernels: string;
}

/** How the WebGPU backend renders an op (compiler/emit/wgsl). Values in WGSL
 * expressions are typed by dtype: f32 → f32, i32 → i32, bool → u32 (0 or 1;
 * WGSL has no bool storage). f64 graphs never reach WGSL.
 * - `elementwise`: a WGSL expression over the operands' values; fused into
 *   loops exactly as for TypeScript (same fusion analysis).
 * - `kernel`: one invocation per element of `threads` (default: the output's
 *   element count); `body` is WGSL statements using the thread index `i`
 *   (u32), reading `ins[k]` and writing `out` (storage arrays, flat, row-major).
 * - `tiled`: a whole entry point (the matrix product's shared-memory tiles).
 * - `leaf` / `view` / `structural`: as for TypeScript.
 * Kernels and tiled entries say how many loop iterations one invocation runs
 * (`loopTrips`: every loop's trips, nested ones counted in full, 0 with no
 * loop), which the planner holds to WGSL_LOOP_BUDGET (./wgsl-loops.ts). */
export type WgslEmitter<P extends Prim> =
  | { readonly kind: "elementwise"; expr(args: readonly string[], node: Node<P>, e: WgslScalarCtx): string }
  | {
      readonly kind: "kernel";
      threads?(node: Node<P>, inTypes: readonly TensorType[]): number;
      body(k: WgslKernelCtx<P>): string;
      loopTrips(node: Node<P>, inTypes: readonly TensorType[]): number;
    }
  | { readonly kind: "tiled"; entry(k: WgslKernelCtx<P>): WgslEntry; loopTrips(node: Node<P>, inTypes: readonly TensorType[]): number }
  | { readonly kind: "leaf" }
  | { readonly kind: "view" }
  | { readonly kind: "structural" };

export interface WgslScalarCtx {
  /** u32 expression of the flat output index. */
  readonly index: string;
  /** u32 expressions of the RNG seed, step counter and scan iteration. */
  readonly seed: string;
  readonly step: string;
  readonly iter: string;
}

export interface WgslKernelCtx<P extends Prim> {
  readonly node: Node<P>;
  /** Names of the output's and each input's storage arrays. */
  readonly out: string;
  readonly ins: readonly string[];
  readonly inTypes: readonly TensorType[];
  /** A fresh local identifier. */
  fresh(base: string): string;
  /** WGSL element type of a dtype: f32, i32 or u32 (bool). */
  elem(dtype: TensorType["dtype"]): string;
}

/** A custom entry point: its statements (with `lid`, `wid`, `gid` builtins
 * available as vec3u), module-scope declarations (workgroup arrays), the
 * workgroup size and the number of workgroups to dispatch. */
export interface WgslEntry {
  readonly decls: string;
  readonly body: string;
  readonly workgroupSize: readonly [number, number, number];
  readonly workgroups: readonly [number, number, number];
}

/** Optional WebAssembly SIMD form of an elementwise op on f32 (the CPU
 * backend's fused loops run in wasm when every op of a chain has one): a WAT
 * expression of type v128 (f32x4) over the operands' v128 expressions. It
 * may call the helpers of compiler/emit/wasm/mathf.ts (`(call $tanh4 …)`),
 * which compiler/emit/wasm/inline-math.ts inlines. */
export interface WasmEmitter {
  expr(args: readonly string[]): string;
}

export interface OpDef<P extends Prim> {
  readonly name: P;
  /** Shape and dtype rule; throws IRError when operands do not fit. */
  infer(inputs: readonly TensorType[], attrs: PrimAttrs[P]): TensorType;
  /** Cotangents of the inputs given the output's cotangent (null: none). */
  vjp(b: Builder, node: Node<P>, ct: Cotangent<P>): readonly (number | null)[];
  /** Reference evaluation in f64 (i32/bool as Int32Array). */
  evaluate(inputs: EvalInputs<P>, node: Node<P>, ctx: EvalCtx): EvalOutput<P>;
  readonly ts: TsEmitter<P>;
  readonly wgsl: WgslEmitter<P>;
  readonly wasm?: WasmEmitter;
}

export function defineOp<P extends Prim>(def: OpDef<P>): OpDef<P> {
  return def;
}
