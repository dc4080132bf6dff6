// A fused loop's expression as the tree compiler/emit/wasm/loops.ts lays out
// as WebAssembly SIMD: constants, f32 buffer reads with their strides, and
// ops that have a wasm form (OpDef.wasm). Undefined when some part has none
// (an op without a wasm form, a non-f32 value), and the renderer writes a
// TypeScript loop instead.

import type { BufferId, Expr, Program } from "../../lower/program.ts";
import { OPS } from "../../ops/registry.ts";
import type { WasmTree } from "../wasm/loops.ts";

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
