// A fused loop's expression as the tree compiler/emit/wasm/loops.ts lays out
// as WebAssembly SIMD: constants, f32 buffer reads with their strides, and
// ops that have a wasm form (OpDef.wasm). Undefined when some part has none
// (an op without a wasm form, a non-f32 value), and the renderer writes a
// TypeScript loop instead.

import type { BufferId, Expr, Program } from "../../lower/program.ts";
import { OPS } from "../../ops/registry.ts";
import type { WasmTree } from "../wasm/loops.ts";
import type { CompareKind } from "../../ops/attrs.ts";

/** `addr(b)`: the byte address of buffer b, or undefined if it is not f32.
 * Reads of buffers in `zero` are the constant 0. */
export function toWasmTree(e: Expr, addr: (b: BufferId) => number | undefined, p: Program, zero: ReadonlySet<BufferId>): WasmTree | undefined {
  if (e.kind === "const") return e.dtype === "f32" ? { kind: "const", value: e.value } : undefined;
  if (e.kind === "read") {
    if (zero.has(e.buffer)) return { kind: "const", value: 0 };
    if (p.buffers[e.buffer]!.dtype !== "f32") return undefined;
    const a = addr(e.buffer);
    return a === undefined ? undefined : { kind: "load", addr: a, strides: e.strides };
  }
  if (e.node.op === "cast" && e.node.dtype === "f32" && e.args[0]!.kind === "op" && e.args[0]!.node.op === "compare") {
    // cast(compare(a, b)) to f32, 0 or 1: a Bernoulli sample (uniform <
    // probability), a dropout mask, a step. The comparison's all-ones lanes
    // AND 1.0; a NaN operand compares false (true for ne), as in JS.
    const cmp = e.args[0]!;
    const cmpArgs = cmp.args.map((a) => toWasmTree(a, addr, p, zero));
    if (cmpArgs.some((a) => a === undefined)) return undefined;
    const op = (cmp.node.attrs as { cmp: CompareKind }).cmp;
    return { kind: "op", emit: { expr: ([a, b]) => `(v128.and (f32x4.${op} ${a} ${b}) (v128.const f32x4 1 1 1 1))` }, args: cmpArgs as WasmTree[] };
  }
  if (e.node.op === "select" && e.node.dtype === "f32") {
    // select(c, a, b) as v128.bitselect on the condition's lanes: a
    // comparison of f32 operands (ReLU's gradient, max-pool ties) or an f32
    // value, non-zero (NaN included) choosing a, as the TypeScript `c !== 0`.
    const [c, a, b] = e.args as [Expr, Expr, Expr];
    const branches = [a, b].map((x) => toWasmTree(x, addr, p, zero));
    if (branches.some((x) => x === undefined)) return undefined;
    if (c.kind === "op" && c.node.op === "compare") {
      const cmpArgs = c.args.map((x) => toWasmTree(x, addr, p, zero));
      if (cmpArgs.some((x) => x === undefined)) return undefined;
      const op = (c.node.attrs as { cmp: CompareKind }).cmp;
      return { kind: "op", emit: { expr: ([x, y, l, r]) => `(v128.bitselect ${x} ${y} (f32x4.${op} ${l} ${r}))` }, args: [...branches, ...cmpArgs] as WasmTree[] };
    }
    const cond = toWasmTree(c, addr, p, zero);
    if (!cond) return undefined;
    return { kind: "op", emit: { expr: ([x, y, k]) => `(v128.bitselect ${x} ${y} (f32x4.ne ${k} (v128.const f32x4 0 0 0 0)))` }, args: [...branches, cond] as WasmTree[] };
  }
  const em = OPS[e.node.op].wasm;
  if (!em || e.node.dtype !== "f32" || OPS[e.node.op].ts.kind !== "elementwise") return undefined;
  const args: WasmTree[] = [];
  for (const a of e.args) {
    const t = toWasmTree(a, addr, p, zero);
    if (!t) return undefined;
    args.push(t);
  }
  return { kind: "op", emit: em, args };
}
