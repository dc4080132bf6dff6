// slice: the box [starts, ends) of every axis (no steps, no negatives).
import { alloc } from "../ir/tensor.ts";
import { IRError, type Shape, fmtShape, strides } from "../ir/types.ts";
import { kernelCall } from "../emit/wasm/calls.ts";
import type { DType } from "../ir/types.ts";
import { defineOp, type KernelCtx } from "./op.ts";
import { indexExpr, loopNest } from "./broadcast.ts";
import { remap } from "./wgsl.ts";

/** Calls f(outFlat, inFlat) for every element of the box of `inner` placed
 * at `offset` inside `outer` (row-major in the box). Shared by slice/pad. */
export function forEachInBox(outer: Shape, offset: readonly number[], inner: Shape, f: (boxFlat: number, outerFlat: number) => void): void {
  const st = strides(outer);
  const c = new Array<number>(inner.length).fill(0);
  const n = inner.reduce((a, d) => a * d, 1);
  let at = offset.reduce((a, o, k) => a + o * st[k]!, 0);
  for (let i = 0; i < n; i++) {
    f(i, at);
    for (let k = c.length - 1; k >= 0; k--) {
      c[k]!++;
      at += st[k]!;
      if (c[k]! < inner[k]!) break;
      at -= st[k]! * c[k]!;
      c[k] = 0;
    }
  }
}

/** A buffer as comments name it: a scratch buffer's expression
 * (`this.step0_scratch0`) without its `this.`. */
export const shown = (buffer: string): string => buffer.replace(/^this\./, "");

/** The copy of a `box` between two row-major tensors, `from` (shape, the
 * box's corner in it) and `to` (likewise), as one call of the runtime's
 * `copyRuns` kernel: the box's axes coalesced where both tensors lay them
 * out contiguously, at most three left (outer, inner, the contiguous run).
 * Undefined when more axes stay apart, or for elements of other than four
 * bytes (bool, f64): the caller writes index loops. Shared by slice, pad
 * and concat, whose moves are these boxes. */
export function boxCopy(
  ctx: Pick<KernelCtx<"slice">, "addr" | "kernels">,
  dtype: DType,
  from: { readonly buffer: string; readonly shape: Shape; readonly at: readonly number[] },
  to: { readonly buffer: string; readonly shape: Shape; readonly at: readonly number[] },
  box: Shape,
): string | undefined {
  if ((dtype !== "f32" && dtype !== "i32") || box.some((d) => d === 0)) return undefined;
  const [fs, ts] = [strides(from.shape), strides(to.shape)];
  // Axes of extent 1 move nothing; adjacent axes merge when each tensor
  // steps over the inner one's whole extent.
  const axes = box.map((d, k) => ({ d, f: fs[k]!, t: ts[k]! })).filter((a) => a.d > 1);
  const merged: { d: number; f: number; t: number }[] = [];
  for (const a of axes) {
    const last = merged[merged.length - 1];
    if (last && last.f === a.f * a.d && last.t === a.t * a.d) merged[merged.length - 1] = { d: last.d * a.d, f: a.f, t: a.t };
    else merged.push({ ...a });
  }
  // The run is the last axis when both tensors hold it contiguously; else
  // (a column: the box's last axis has extent 1) runs of one element.
  const lastAxis = merged[merged.length - 1];
  if (!lastAxis || lastAxis.f !== 1 || lastAxis.t !== 1) merged.push({ d: 1, f: 1, t: 1 });
  if (merged.length > 3) return undefined;
  const runAxis = merged[merged.length - 1]!;
  const [outer, inner] = merged.length === 3 ? [merged[0]!, merged[1]!] : merged.length === 2 ? [merged[0]!, { d: 1, f: 0, t: 0 }] : [{ d: 1, f: 0, t: 0 }, { d: 1, f: 0, t: 0 }];
  const offset = (at: readonly number[], st: readonly number[]) => at.reduce((a, c, k) => a + c * st[k]!, 0);
  return kernelCall(ctx.kernels, "copyRuns", {
    src: ctx.addr(from.buffer) + 4 * offset(from.at, fs),
    dst: ctx.addr(to.buffer) + 4 * offset(to.at, ts),
    outer: outer.d,
    inner: inner.d,
    run: runAxis.d,
    srcOuter: outer.f,
    srcInner: inner.f,
    dstOuter: outer.t,
    dstInner: inner.t,
  }, `${shown(from.buffer)} → ${shown(to.buffer)}`);
}

export const slice = defineOp({
  name: "slice",
  infer: ([x], { starts, ends }) => {
    const s = x!.shape;
    const ok = starts.length === s.length && ends.length === s.length &&
      s.every((d, k) => Number.isInteger(starts[k]) && Number.isInteger(ends[k]) && 0 <= starts[k]! && starts[k]! <= ends[k]! && ends[k]! <= d);
    if (!ok) throw new IRError(`slice [${starts.join(", ")}]..[${ends.join(", ")}] does not fit ${fmtShape(s)}`, undefined, "E031");
    return { shape: s.map((_, k) => ends[k]! - starts[k]!), dtype: x!.dtype };
  },
  // The cut-away elements did not contribute: pad the cotangent with zeros.
  vjp: (b, n, ct) => {
    const s = b.shape(n.inputs[0]!);
    const { starts, ends } = n.attrs;
    return [b.op("pad", [ct], { before: [...starts], after: s.map((d, k) => d - ends[k]!) })];
  },
  evaluate: ([x], n) => {
    const out = alloc(n.shape, n.dtype);
    forEachInBox(x!.shape, n.attrs.starts, n.shape, (o, i) => (out.data[o] = x!.data[i]!));
    return out;
  },
  ts: {
    kind: "kernel",
    emit: (ctx) => {
      const { node, out, ins, inTypes, fresh } = ctx;
      const zero = node.shape.map(() => 0);
      const call = boxCopy(ctx, node.dtype, { buffer: ins[0]!, shape: inTypes[0]!.shape, at: node.attrs.starts }, { buffer: out, shape: node.shape, at: zero }, node.shape);
      if (call) return call;
      const st = strides(inTypes[0]!.shape);
      const off = node.attrs.starts.reduce((a, s, k) => a + s * st[k]!, 0);
      const o = fresh("o");
      return `let ${o} = 0;\n` + loopNest(node.shape, fresh, (cs) => [`${out}[${o}++] = ${ins[0]}[${indexExpr(cs, st, off)}];`]);
    },
  },
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins, inTypes }) => {
      const st = strides(inTypes[0]!.shape);
      const off = node.attrs.starts.reduce((a, s, k) => a + s * st[k]!, 0);
      return `${out}[i] = ${ins[0]}[${remap("i", node.shape, st, off)}];`;
    },
  },
});
