// scan: a loop with carried state, per-step slices of sequences, and loop
// constants (Theano's scan). It yields a tuple, read through tuple_get:
//   [final carries (nCarry), stacked per-step outputs (nStepOut),
//    stacked carry *inputs* of every step (nCarry)]
// The last group is the history the gradient needs (backpropagation through
// time re-runs the body at step t on the carry it saw then). A reverse scan
// (t = L-1 .. 0) stores step t's outputs at index t, so stacked values always
// line up with the forward sequence.

import { Builder } from "../ir/builder.ts";
import { cloneInto } from "../ir/clone.ts";
import { alloc, type Tensor } from "../ir/tensor.ts";
import { type DType, type Graph, IRError, type Node, type Shape, type TensorType, fmtShape, isFloat, numel, shapeEq } from "../ir/types.ts";
import { vjpGraph } from "../autodiff/grad.ts";
import type { ScanAttrs } from "./attrs.ts";
import { carriedOf, planConstGrad, stepOutputsOf, sumOf } from "./scan-const-grads.ts";
import { defineOp } from "./op.ts";

/** Types of the body's arguments (scan_arg k) in order carries, seqs, consts. */
export function bodyArgTypes(body: Graph): TensorType[] {
  const out: TensorType[] = [];
  for (const n of body.nodes) if (n.op === "scan_arg") out[(n as Node<"scan_arg">).attrs.index] = n;
  return out;
}

/** Types of the scan's tuple elements. */
export function scanOutTypes(a: ScanAttrs): TensorType[] {
  const outs = [...a.body.outputs.values()].map((id) => a.body.nodes[id]!);
  const args = bodyArgTypes(a.body);
  const stack = (t: TensorType): TensorType => ({ shape: [a.length, ...t.shape], dtype: t.dtype });
  return [
    ...outs.slice(0, a.nCarry),
    ...outs.slice(a.nCarry, a.nCarry + a.nStepOut).map(stack),
    ...args.slice(0, a.nCarry).map(stack),
  ];
}

/** The operand giving a counted scan's number of steps (index in inputs). */
export function countOperand(a: ScanAttrs): number | undefined {
  return a.counted ? a.nCarry + a.nSeq + a.nConst : undefined;
}

function check(ins: readonly TensorType[], a: ScanAttrs): void {
  const args = bodyArgTypes(a.body);
  const nIn = a.nCarry + a.nSeq + a.nConst;
  if (ins.length !== nIn + (a.counted ? 1 : 0) || args.length !== nIn) throw new IRError(`scan: ${ins.length} operands for a body of ${args.length} arguments`);
  const c = countOperand(a);
  if (c !== undefined && (ins[c]!.dtype !== "i32" || ins[c]!.shape.length > 1)) {
    throw new IRError(`scan: the step count is ${ins[c]!.dtype}[${ins[c]!.shape.join(", ")}], not an i32 scalar or vector`, undefined, "E032");
  }
  if (a.body.outputs.size !== a.nCarry + a.nStepOut) throw new IRError(`scan: body has ${a.body.outputs.size} outputs, expected ${a.nCarry + a.nStepOut}`);
  const outs = [...a.body.outputs.values()].map((id) => a.body.nodes[id]!);
  ins.slice(0, nIn).forEach((t, k) => {
    const isSeq = k >= a.nCarry && k < a.nCarry + a.nSeq;
    const want: Shape = isSeq ? [a.length, ...args[k]!.shape] : args[k]!.shape;
    if (!shapeEq(t.shape, want) || t.dtype !== args[k]!.dtype) {
      throw new IRError(`scan operand ${k}: ${fmtShape(t.shape)} ${t.dtype}, the body expects ${fmtShape(want)} ${args[k]!.dtype}`, undefined, "E031");
    }
    if (k < a.nCarry && (!shapeEq(outs[k]!.shape, t.shape) || outs[k]!.dtype !== t.dtype)) {
      throw new IRError(`scan carry ${k}: starts as ${fmtShape(t.shape)} but the body returns ${fmtShape(outs[k]!.shape)}`, undefined, "E031");
    }
  });
}

/** Element k of a scan's tuple (its type comes from the scan's body). */
function tupleGet(b: Builder, scan: number, k: number, t: TensorType): number {
  const nid = b.graph.nodes.length;
  b.graph.nodes.push({ id: nid, op: "tuple_get", inputs: [scan], attrs: { index: k }, shape: [...t.shape], dtype: t.dtype, loc: b.loc });
  return nid;
}

/** How many steps a counted scan runs: its count (the largest, for a
 * vector of per-example counts) clamped to 0..length. */
export function stepsToRun(count: ArrayLike<number>, length: number): number {
  let most = 0;
  for (let i = 0; i < count.length; i++) most = Math.max(most, Math.trunc(count[i]!));
  return Math.max(0, Math.min(length, most));
}

/** Builds a scan node and its tuple_get projections. */
export function buildScan(b: Builder, inputs: readonly number[], a: ScanAttrs): { finals: number[]; stepOuts: number[]; history: number[] } {
  const id = b.op("scan", inputs, a);
  const types = scanOutTypes(a);
  const get = (k: number) => tupleGet(b, id, k, types[k]!);
  const range = (s: number, n: number) => Array.from({ length: n }, (_, i) => get(s + i));
  return { finals: range(0, a.nCarry), stepOuts: range(a.nCarry, a.nStepOut), history: range(a.nCarry + a.nStepOut, a.nCarry) };
}

/** Removes body arguments `ids` (unused: an accumulator the plan does not
 * carry): each becomes a dead constant (dce drops it; scan_args are never
 * dropped) and the remaining arguments are renumbered in order. */
function dropArgs(bb: Builder, ids: readonly number[]): void {
  if (ids.length === 0) return;
  const nodes = bb.graph.nodes;
  for (const id of ids) nodes[id] = { id, op: "const", inputs: [], attrs: { value: 0 }, shape: nodes[id]!.shape, dtype: nodes[id]!.dtype, loc: nodes[id]!.loc } as Node;
  const args = nodes.filter((n): n is Node<"scan_arg"> => n.op === "scan_arg").sort((x, y) => x.attrs.index - y.attrs.index);
  args.forEach((n, k) => (nodes[n.id] = { ...n, attrs: { index: k } }));
}

function zeros(b: Builder, shape: Shape, dtype: DType): number {
  return b.constant(0, shape, dtype);
}

/** Slice t of a stacked tensor, copied into a new tensor. */
function sliceAt(x: Tensor, t: number): Tensor {
  const inner = x.shape.slice(1);
  const m = numel(inner);
  const out = alloc(inner, x.dtype);
  out.data.set(x.data.subarray(t * m, (t + 1) * m));
  return out;
}

export const scan = defineOp({
  name: "scan",
  infer: (ins, a) => {
    check(ins, a);
    // A scan's own value is a tuple; its elements are typed by tuple_get.
    return { shape: [], dtype: "f32" };
  },
  // Backpropagation through time, as a reverse scan whose body re-runs the
  // forward body on the recorded carry and differentiates it:
  //   carries:  cotangent of each carry, accumulated gradient of each float const
  //   seqs:     recorded carry inputs, the forward sequences, step-output cotangents
  //   consts:   the forward constants
  vjp: (b, node, cts) => {
    const a = node.attrs;
    // A reverse scan is only ever a forward scan's VJP (BPTT): reaching its
    // own VJP means a gradient through a scan is differentiated again.
    if (a.reverse) {
      throw new IRError(
        "scan: a gradient through this scan is differentiated again (grad() of a value the scan computes, then trained or differentiated once more): second-order BPTT is not supported",
        node.loc,
        "E049",
      );
    }
    const count = countOperand(a);
    const ins = count === undefined ? node.inputs : node.inputs.slice(0, count);
    const args = bodyArgTypes(a.body);
    const types = scanOutTypes(a);
    const seqBase = a.nCarry, constBase = a.nCarry + a.nSeq;
    const floatConsts = [...Array(a.nConst).keys()].filter((k) => isFloat(args[constBase + k]!.dtype));
    const hist = Array.from({ length: a.nCarry }, (_, j) => tupleGet(b, node.id, a.nCarry + a.nStepOut + j, types[a.nCarry + a.nStepOut + j]!));
    const ctFinal = Array.from({ length: a.nCarry }, (_, j) => cts[j] ?? zeros(b, types[j]!.shape, types[j]!.dtype));
    const ctStep = Array.from({ length: a.nStepOut }, (_, m) => cts[a.nCarry + m] ?? zeros(b, types[a.nCarry + m]!.shape, types[a.nCarry + m]!.dtype));

    // The backward body.
    const bb = new Builder();
    bb.loc = node.loc;
    let k = 0;
    const ctCarry = Array.from({ length: a.nCarry }, (_, j) => bb.scanArg(k++, args[j]!.shape, args[j]!.dtype));
    const acc = floatConsts.map((c) => bb.scanArg(k++, args[constBase + c]!.shape, args[constBase + c]!.dtype));
    const histArg = Array.from({ length: a.nCarry }, (_, j) => bb.scanArg(k++, args[j]!.shape, args[j]!.dtype));
    const seqArg = Array.from({ length: a.nSeq }, (_, i) => bb.scanArg(k++, args[seqBase + i]!.shape, args[seqBase + i]!.dtype));
    const outIds = [...a.body.outputs.values()];
    const ctStepArg = Array.from({ length: a.nStepOut }, (_, m) => {
      const t = a.body.nodes[outIds[a.nCarry + m]!]!;
      return bb.scanArg(k++, t.shape, t.dtype);
    });
    const constArg = Array.from({ length: a.nConst }, (_, c) => bb.scanArg(k++, args[constBase + c]!.shape, args[constBase + c]!.dtype));
    const fwd = cloneInto(bb, a.body, [...histArg, ...seqArg, ...constArg]);
    const seeds: [number, number][] = [
      ...ctCarry.map((c, j): [number, number] => [fwd[outIds[j]!]!, c]),
      ...ctStepArg.map((c, m): [number, number] => [fwd[outIds[a.nCarry + m]!]!, c]),
    ];
    const gs = vjpGraph(bb, seeds, [...histArg, ...seqArg, ...constArg]);
    // Each constant's gradient summed over the steps: carried, or handed
    // out per step and summed after the loop (scan-const-grads.ts).
    const plans = floatConsts.map((c) => planConstGrad(bb, gs[a.nCarry + a.nSeq + c]));
    const carried = plans.map(carriedOf);
    const outs: number[] = [
      ...histArg.map((h, j) => gs[j] ?? bb.fill(0, h)),
      ...floatConsts.flatMap((_, i) => (carried[i] === null ? [] : [bb.add(acc[i]!, carried[i]!)])),
      ...seqArg.map((s, i) => gs[a.nCarry + i] ?? bb.fill(0, s)),
      ...plans.flatMap(stepOutputsOf),
    ];
    outs.forEach((id, i) => bb.graph.outputs.set(String(i), id));
    // Accumulators nothing carries are dropped from the body's arguments.
    const keptAcc = floatConsts.map((_, i) => carried[i] !== null);
    dropArgs(bb, acc.filter((_, i) => !keptAcc[i]));

    const res = buildScan(
      b,
      [
        ...ctFinal,
        ...floatConsts.filter((_, i) => keptAcc[i]).map((c) => zeros(b, args[constBase + c]!.shape, args[constBase + c]!.dtype)),
        ...hist,
        ...ins.slice(seqBase, constBase),
        ...ctStep,
        ...ins.slice(constBase),
        // The same steps, backwards.
        ...(count === undefined ? [] : [node.inputs[count]!]),
      ],
      {
        body: bb.graph,
        nCarry: a.nCarry + keptAcc.filter(Boolean).length,
        nSeq: a.nCarry + a.nSeq + a.nStepOut,
        nConst: a.nConst,
        nStepOut: a.nSeq + plans.reduce((n, p) => n + stepOutputsOf(p).length, 0),
        length: a.length,
        reverse: true,
        ...(a.counted ? { counted: true } : {}),
      },
    );
    const result: (number | null)[] = node.inputs.map(() => null);
    for (let j = 0; j < a.nCarry; j++) result[j] = res.finals[j]!;
    let carry = a.nCarry;
    let extra = a.nSeq;
    floatConsts.forEach((c, i) => {
      const n = stepOutputsOf(plans[i]!).length;
      const final = keptAcc[i] ? res.finals[carry++]! : null;
      result[constBase + c] = sumOf(b, plans[i]!, res.stepOuts.slice(extra, extra + n), final);
      extra += n;
    });
    for (let i = 0; i < a.nSeq; i++) result[seqBase + i] = isFloat(args[seqBase + i]!.dtype) ? res.stepOuts[i]! : null;
    return result;
  },
  evaluate: (ins, node, ctx) => {
    const a = node.attrs;
    const types = scanOutTypes(a);
    let carries = ins.slice(0, a.nCarry) as Tensor[];
    const seqs = ins.slice(a.nCarry, a.nCarry + a.nSeq);
    const consts = ins.slice(a.nCarry + a.nSeq, a.nCarry + a.nSeq + a.nConst);
    const c = countOperand(a);
    const n = c === undefined ? a.length : stepsToRun((ins[c] as Tensor).data, a.length);
    // Steps not run leave their stacked slots 0 (alloc zero-fills).
    const stacked = types.slice(a.nCarry).map((t) => alloc(t.shape, t.dtype));
    const put = (dst: Tensor, t: number, v: Tensor) => dst.data.set(v.data, t * v.data.length);
    for (let s = 0; s < n; s++) {
      const t = a.reverse ? n - 1 - s : s;
      const outs = ctx.runBody(a.body, [...carries, ...seqs.map((x) => sliceAt(x!, t)), ...(consts as Tensor[])], t);
      carries.forEach((c, j) => put(stacked[a.nStepOut + j]!, t, c));
      for (let m = 0; m < a.nStepOut; m++) put(stacked[m]!, t, outs[a.nCarry + m]!);
      carries = outs.slice(0, a.nCarry);
    }
    return [...carries, ...stacked];
  },
  ts: { kind: "structural" },
  wgsl: { kind: "structural" },
});
