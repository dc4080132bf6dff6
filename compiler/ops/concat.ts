// concat: joins N operands along {axis}; all other dims must agree.
import { alloc } from "../ir/tensor.ts";
import { IRError, fmtShape, numel } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { aroundAxis, checkAxis } from "./argmax.ts";
import { boxCopy } from "./slice.ts";

export const concat = defineOp({
  name: "concat",
  infer: (ins, { axis }) => {
    const first = ins[0];
    if (!first) throw new IRError("concat needs at least one operand");
    const a = checkAxis("concat", axis, first.shape.length);
    let total = 0;
    for (const t of ins) {
      const fits = t.shape.length === first.shape.length && t.shape.every((d, k) => k === a || d === first.shape[k]);
      if (!fits) throw new IRError(`concat along axis ${a}: ${fmtShape(first.shape)} and ${fmtShape(t.shape)} do not fit`, undefined, "E031");
      if (t.dtype !== first.dtype) throw new IRError(`concat: dtypes ${first.dtype} and ${t.dtype} differ`, undefined, "E032");
      total += t.shape[a]!;
    }
    return { shape: first.shape.map((d, k) => (k === a ? total : d)), dtype: first.dtype };
  },
  // Each operand's cotangent is its own stretch of the output's.
  vjp: (b, n, ct) => {
    const a = checkAxis("concat", n.attrs.axis, n.shape.length);
    let off = 0;
    return n.inputs.map((id) => {
      const s = b.shape(id);
      const starts = s.map((_, k) => (k === a ? off : 0));
      const ends = s.map((d, k) => (k === a ? off + d : d));
      off += s[a]!;
      return n.inputs.length === 1 ? ct : b.op("slice", [ct], { starts, ends });
    });
  },
  evaluate: (ins, n) => {
    const a = checkAxis("concat", n.attrs.axis, n.shape.length);
    const { outer, n: total, inner } = aroundAxis(n.shape, a);
    const out = alloc(n.shape, n.dtype);
    let off = 0;
    for (const t of ins) {
      // Row o of operand t is one contiguous run of len*inner values.
      const run = t.shape[a]! * inner;
      for (let o = 0; o < outer; o++) out.data.set(t.data.subarray(o * run, (o + 1) * run), (o * total + off) * inner);
      off += t.shape[a]!;
    }
    return out;
  },
  ts: {
    kind: "kernel",
    emit: (ctx) => {
      const { node, out, ins, inTypes, fresh } = ctx;
      const a = checkAxis("concat", node.attrs.axis, node.shape.length);
      const { outer, n: total, inner } = aroundAxis(node.shape, a);
      const lines: string[] = [];
      let off = 0;
      inTypes.forEach((t, q) => {
        const run = t.shape[a]! * inner;
        // Each operand is a box of the output, at its offset along the axis.
        const at = node.shape.map((_, k) => (k === a ? off : 0));
        const call = numel(t.shape) > 0 ? boxCopy(ctx, node.dtype, { buffer: ins[q]!, shape: t.shape, at: t.shape.map(() => 0) }, { buffer: out, shape: node.shape, at }, t.shape) : undefined;
        if (call) lines.push(call);
        else if (numel(t.shape) > 0) {
          const o = fresh("o"), k = fresh("k");
          lines.push(
            `for (let ${o} = 0; ${o} < ${outer}; ${o}++) {`,
            `  for (let ${k} = 0; ${k} < ${run}; ${k}++) ${out}[${o} * ${total * inner} + ${off * inner} + ${k}] = ${ins[q]}[${o} * ${run} + ${k}];`,
            `}`,
          );
        }
        off += t.shape[a]!;
      });
      return lines.join("\n");
    },
  },
  // One thread per output element: its position along the axis picks the
  // operand (an if-chain over the static offsets).
  wgsl: {
    kind: "kernel",
    loopTrips: () => 0, // no loop: one read per invocation
    body: ({ node, out, ins, inTypes, fresh }) => {
      const a = checkAxis("concat", node.attrs.axis, node.shape.length);
      const { outer, n: total, inner } = aroundAxis(node.shape, a);
      const o = fresh("o"), p = fresh("p"), j = fresh("j");
      // Coordinates of i in [outer, total, inner]; o and j only when needed.
      const lines = [`let ${p} = ${outer === 1 ? (inner === 1 ? "i" : `i / ${inner}u`) : inner === 1 ? `i % ${total}u` : `(i / ${inner}u) % ${total}u`};`];
      if (outer !== 1) lines.push(`let ${o} = i / ${total * inner}u;`);
      if (inner !== 1) lines.push(`let ${j} = i % ${inner}u;`);
      const live = inTypes.map((t, q) => ({ len: t.shape[a]!, q })).filter((x, q) => x.len > 0 && numel(inTypes[q]!.shape) > 0);
      let off = 0;
      const offs = inTypes.map((t) => { const s = off; off += t.shape[a]!; return s; });
      live.forEach(({ len, q }, r) => {
        // (o * len + p - off) * inner + j, without the terms that are zero.
        let at = offs[q] === 0 ? p : `${p} - ${offs[q]}u`;
        if (outer !== 1) at = `${o} * ${len}u + ${at}`;
        if (inner !== 1) at = `(${at}) * ${inner}u + ${j}`;
        const src = `${ins[q]}[${at}]`;
        const head = r === live.length - 1 ? (r === 0 ? "{" : "} else {") : `${r === 0 ? "if" : "} else if"} (${p} < ${offs[q]! + len}u) {`;
        lines.push(head, `  ${out}[i] = ${src};`);
      });
      if (live.length) lines.push("}");
      return lines.join("\n");
    },
  },
});
