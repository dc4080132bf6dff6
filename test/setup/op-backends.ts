// The op harness: one case (an op, its attributes and inputs, or a small
// graph) runs on every backend that has code for it, against the f64
// reference `evaluate` of the ops (compiler/ir/interpret.ts) on the same
// inputs rounded to the backend's float type. test/ops-backends.test.ts
// holds the table of cases and runs it with describe.each over BACKENDS.
//
// Backends:
// - ts-f64: the TypeScript emitter (elementwise expression or kernel) on
//   f64 buffers: the exact algorithm, to 1e-12. Kernels that are WebAssembly
//   calls have no f64 form.
// - ts: the TypeScript emitter on f32 buffers in a kernel arena, calling the
//   WebAssembly kernels (runtime/cpu/kernels.ts) as generated models do.
// - wasm: the SIMD expressions of OpDef.wasm in one loop of
//   compiler/emit/wasm/loops.ts (f32 graphs whose every op has one).
// - wgsl: the WGSL emitter (fused expression, kernel or tiled entry) on
//   Dawn, f32 (i32, bool as u32).

import { expect } from "vitest";
import { Builder } from "../../compiler/ir/builder.ts";
import { interpret } from "../../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../../compiler/ir/tensor.ts";
import type { DType, Graph, Node, Prim } from "../../compiler/ir/types.ts";
import type { PrimAttrs } from "../../compiler/ops/attrs.ts";
import { OPS } from "../../compiler/ops/registry.ts";
import { ALLOCATES, runTsElementwise, runTsKernel, runWasmElementwise } from "./cpu.ts";
import { runWgslFused, runWgslKernel } from "./gpu.ts";
import { Gen } from "./tensors.ts";

export type BackendName = "ts-f64" | "ts" | "wasm" | "wgsl";
export type Float = "f32" | "f64";

export interface Tol {
  readonly rel: number;
  readonly abs: number;
  /** "magnitude": rel scales the reference evaluated on the operands'
   * absolute values (Σ|a||b| for a product), the bound of a sum's rounding
   * error; otherwise rel scales |reference|. */
  readonly scale?: "magnitude";
}
/** Bitwise equal to the reference rounded to the output type (−0 ≠ +0). */
export type Tolerance = Tol | "bitwise";

export interface Backend {
  readonly name: BackendName;
  readonly float: Float;
  /** Default tolerance for float outputs (integer and bool outputs: exact). */
  readonly tol: Tol;
}

export const BACKENDS: readonly Backend[] = [
  { name: "ts-f64", float: "f64", tol: { rel: 1e-12, abs: 1e-12 } },
  { name: "ts", float: "f32", tol: { rel: 1e-6, abs: 1e-7 } },
  { name: "wasm", float: "f32", tol: { rel: 2e-6, abs: 1e-7 } },
  { name: "wgsl", float: "f32", tol: { rel: 1e-5, abs: 1e-6 } },
];

/** Seed, step and iteration the random ops and step_one_hot see. */
export const RUN = { seed: 7, step: 3, iter: 2 } as const;

/** Builds a case's graph: `xs` are input leaves for the case's inputs (float
 * ones of type `float`); returns the output node. */
export type Build = (b: Builder, xs: readonly number[], float: Float) => number;

export interface OpCase {
  readonly name: string;
  /** The op under test (the output node's op, for single-op cases). */
  readonly op: Prim;
  /** Inputs: float tensors hold values (rounded to each backend's float
   * type), i32 and bool ones are used as they are. */
  readonly inputs: (g: Gen) => Tensor[];
  readonly build: Build;
  /** Per backend, or per float type, over the backend's default. */
  readonly tol?: Partial<Record<BackendName | Float, Tolerance>>;
  /** Backends this case does not run on, with the reason. */
  readonly skip?: Partial<Record<BackendName, string>>;
  /** What the emitted code must (RegExp) look like, per backend. */
  readonly code?: Partial<Record<BackendName, RegExp>>;
}

type Attrs<P extends Prim> = PrimAttrs[P] | ((float: Float) => PrimAttrs[P]);

/** A case applying one op to input leaves. */
export function op<P extends Prim>(name: string, p: P, attrs: Attrs<P>, inputs: (g: Gen) => Tensor[], more: Partial<Omit<OpCase, "name" | "op" | "inputs" | "build">> = {}): OpCase {
  const at = (f: Float) => (typeof attrs === "function" ? (attrs as (f: Float) => PrimAttrs[P])(f) : attrs);
  return { name, op: p, inputs, build: (b, xs, f) => b.op(p, xs, at(f)), ...more };
}

/** A case over a graph built by `build` (chains, leaves-free ops). */
export function graph(name: string, p: Prim, inputs: (g: Gen) => Tensor[], build: Build, more: Partial<Omit<OpCase, "name" | "op" | "inputs" | "build">> = {}): OpCase {
  return { name, op: p, inputs, build, ...more };
}

export interface Prepared {
  readonly g: Graph;
  readonly out: number;
  readonly leaves: Map<string, Tensor>;
  /** Operands of the output node, in order (kernels). */
  readonly operands: Tensor[];
  /** Ops of the non-leaf nodes. */
  readonly ops: Set<Prim>;
}

function asFloat(t: Tensor, float: Float): Tensor {
  if (t.dtype !== "f32" && t.dtype !== "f64") return t;
  return fromArray(t.shape, float, float === "f32" ? [...t.data].map(Math.fround) : [...t.data]);
}

/** The case's graph with its float inputs of type `float`. */
export function prepare(c: OpCase, float: Float, inputs?: readonly Tensor[]): Prepared {
  const ts = (inputs ?? c.inputs(new Gen(c.name))).map((t) => asFloat(t, float));
  const b = new Builder();
  const leaves = new Map<string, Tensor>();
  const xs = ts.map((t, k) => {
    leaves.set(`x${k}`, t);
    return b.leaf("input", `x${k}`, t.shape, t.dtype);
  });
  const out = c.build(b, xs, float);
  const g = b.graph;
  const ops = new Set(g.nodes.filter((n) => n.op !== "input").map((n) => n.op));
  const operands = g.nodes[out]!.inputs.map((id) => {
    const n = g.nodes[id]!;
    return n.op === "input" ? leaves.get((n as Node<"input">).attrs.name)! : (undefined as never);
  });
  return { g, out, leaves, operands, ops };
}

// ---- which backend runs what --------------------------------------------------

const LEAF = "leaf: no code (the trainer provides its buffer)";
const VIEW = "view: aliases its operand's buffer, no code";
const STRUCTURAL = "structural: lowered by the scheduler; run in whole graphs (test/emit-agreement.test.ts, test/webgpu-executor.test.ts)";
const NO_SIMD = "no SIMD form (OpDef.wasm): fused loops containing it run in TypeScript";
const KERNEL = "not elementwise: its TypeScript kernel runs on the ts backends";
const WASM_ONLY = "its TypeScript kernel is a WebAssembly kernel call, f32 only";

const leaf = { "ts-f64": LEAF, ts: LEAF, wasm: LEAF, wgsl: LEAF };
const view = { "ts-f64": VIEW, ts: VIEW, wasm: VIEW, wgsl: VIEW };
const structural = { "ts-f64": STRUCTURAL, ts: STRUCTURAL, wasm: STRUCTURAL, wgsl: STRUCTURAL };

/** Backends an op has no code on (or no code for that float type), with the
 * reason; every other backend must run at least one case of the op. Typed
 * over every primitive, so a new op must be entered here. */
export const NOT_APPLICABLE: { readonly [P in Prim]: Partial<Record<BackendName, string>> } = {
  input: leaf,
  param: leaf,
  state: leaf,
  scan_arg: leaf,
  const: { wasm: "a literal in the wasm loop's tree, not an op (compiler/emit/wasm/loops.ts); covered by chains that use one" },
  add: {},
  sub: {},
  mul: {},
  div: {},
  maximum: {},
  minimum: {},
  pow: { wasm: NO_SIMD },
  neg: {},
  exp: {},
  log: { wasm: NO_SIMD },
  tanh: {},
  sigmoid: {},
  softplus: { wasm: NO_SIMD },
  abs: {},
  sqrt: {},
  compare: { wasm: NO_SIMD },
  select: { wasm: NO_SIMD },
  cast: { wasm: NO_SIMD },
  stop_gradient: view,
  reduce_sum: { wasm: KERNEL },
  reduce_max: { wasm: KERNEL },
  argmax: { wasm: KERNEL },
  one_hot: { wasm: KERNEL },
  gather: { wasm: KERNEL },
  scatter_add: { wasm: KERNEL },
  broadcast: { wasm: KERNEL },
  reshape: view,
  transpose: { wasm: KERNEL },
  slice: { wasm: KERNEL },
  pad: { wasm: KERNEL },
  concat: { wasm: KERNEL },
  matmul: { "ts-f64": WASM_ONLY, wasm: KERNEL },
  conv2d: { "ts-f64": WASM_ONLY, wasm: KERNEL },
  conv2d_filter_grad: { "ts-f64": WASM_ONLY, wasm: KERNEL },
  flip: { wasm: KERNEL },
  max_pool2d: { "ts-f64": WASM_ONLY, wasm: KERNEL },
  max_pool2d_grad: { "ts-f64": WASM_ONLY, wasm: KERNEL },
  random_uniform: { wasm: NO_SIMD },
  random_normal: { wasm: NO_SIMD },
  step_one_hot: { wasm: NO_SIMD },
  scan: structural,
  tuple_get: structural,
};

/** Why `c` does not run on `backend` (undefined: it runs). */
export function whyNot(backend: Backend, c: OpCase, p: Prepared = prepare(c, backend.float)): string | undefined {
  const skip = c.skip?.[backend.name];
  if (skip) return skip;
  for (const o of p.ops) {
    const na = NOT_APPLICABLE[o][backend.name];
    if (na) return `${o}: ${na}`;
  }
  if (backend.name === "wasm" && p.g.nodes.some((n) => n.dtype !== "f32")) return "the wasm loops compute f32 only";
  return undefined;
}

// ---- running and comparing ------------------------------------------------------

export interface Outcome {
  readonly got: ArrayLike<number>;
  /** The reference on the same inputs. */
  readonly want: Tensor;
  readonly dtype: DType;
  readonly code: string;
  /** Allowed error per element (NaN: bitwise). */
  readonly bound: (k: number) => number;
}

function tolerance(backend: Backend, c: OpCase): Tolerance {
  return c.tol?.[backend.name] ?? c.tol?.[backend.float] ?? backend.tol;
}

/** Runs `c` on `backend` and evaluates the reference on the same inputs. */
export async function runCase(backend: Backend, c: OpCase, p: Prepared = prepare(c, backend.float)): Promise<Outcome> {
  const node = p.g.nodes[p.out]!;
  const want = interpret(p.g, { input: p.leaves }, RUN)[p.out] as Tensor;
  let got: ArrayLike<number>, code: string;
  if (backend.name === "wgsl") {
    ({ got, code } = OPS[node.op].wgsl.kind === "elementwise" ? await runWgslFused(p.g, p.out, p.leaves, RUN) : await runWgslKernel(p.g, p.out, p.leaves));
  } else if (backend.name === "wasm") {
    ({ got, code } = runWasmElementwise(p.g, p.out, p.leaves));
  } else if (OPS[node.op].ts.kind === "elementwise") {
    ({ got, code } = runTsElementwise(p.g, p.out, p.leaves, RUN));
  } else {
    ({ got, code } = runTsKernel(node, p.operands));
  }
  const tol = tolerance(backend, c);
  let bound: (k: number) => number;
  if (tol === "bitwise") bound = () => NaN;
  else if (tol.scale === "magnitude") {
    const abs = new Map([...p.leaves].map(([k, t]) => [k, t.dtype === "f32" || t.dtype === "f64" ? fromArray(t.shape, t.dtype, [...t.data].map(Math.abs)) : t]));
    const mag = interpret(p.g, { input: abs }, RUN)[p.out] as Tensor;
    bound = (k) => tol.abs + tol.rel * Math.abs(mag.data[k]!);
  } else bound = (k) => tol.abs + tol.rel * Math.abs(want.data[k]!);
  return { got, want, dtype: node.dtype, code, bound };
}

/** Elements of `got` off the reference (at most 8, for the message): float
 * outputs within the bound of the reference rounded to the output type
 * (equal when either is not finite: the same infinity, or both NaN; a NaN
 * bound: bitwise), integer and bool outputs exact. */
export function mismatches(o: Outcome): string[] {
  const bad: string[] = [];
  if (o.got.length !== o.want.data.length) return [`${o.got.length} elements, want ${o.want.data.length}`];
  for (let k = 0; k < o.want.data.length && bad.length < 8; k++) {
    const g = o.got[k]!;
    let r = o.want.data[k]!;
    let ok: boolean;
    if (o.dtype === "f32" || o.dtype === "f64") {
      if (o.dtype === "f32") r = Math.fround(r);
      const b = o.bound(k);
      if (Number.isNaN(b)) ok = Object.is(g, r);
      else if (!Number.isFinite(r) || !Number.isFinite(g)) ok = Object.is(r, g) || (Number.isNaN(r) && Number.isNaN(g));
      else ok = Math.abs(g - r) <= b;
    } else ok = g === r;
    if (!ok) bad.push(`[${k}] got ${g}, want ${r}`);
  }
  return bad;
}

/** Runs `c` on `backend` and asserts: the output matches the reference,
 * the code matches the case's expectation, and a TypeScript kernel
 * allocates nothing per call. */
export async function checkCase(backend: Backend, c: OpCase): Promise<void> {
  const p = prepare(c, backend.float);
  const o = await runCase(backend, c, p);
  expect(mismatches(o), `${c.name} on ${backend.name}\n${o.code}`).toEqual([]);
  const want = c.code?.[backend.name];
  if (want) expect(o.code).toMatch(want);
  if ((backend.name === "ts" || backend.name === "ts-f64") && OPS[p.g.nodes[p.out]!.op].ts.kind === "kernel") {
    expect(o.code, "a kernel runs every step: nothing allocated per call").not.toMatch(ALLOCATES);
  }
}
