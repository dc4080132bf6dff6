// select: elementwise cond ? a : b (Theano's switch); cond is nonzero-true.
import { map } from "../ir/tensor.ts";
import { IRError } from "../ir/types.ts";
import { defineOp } from "./op.ts";
import { inferSame } from "./elementwise.ts";

export const select = defineOp({
  name: "select",
  infer: (ins) => {
    const t = inferSame("select", ins, 3);
    if (ins[1]!.dtype !== ins[2]!.dtype) throw new IRError(`select: branches have dtypes ${ins[1]!.dtype} and ${ins[2]!.dtype}`, undefined, "E032");
    return { shape: t.shape, dtype: ins[1]!.dtype };
  },
  // Each branch gets the cotangent where it was chosen and 0 elsewhere. A
  // select, not a multiply by the mask: an Inf/NaN cotangent in the
  // unchosen branch must not leak as 0 * Inf = NaN.
  vjp: (b, n, ct) => {
    const c = n.inputs[0]!;
    const zero = b.fill(0, ct);
    return [null, b.select(c, ct, zero), b.select(c, zero, ct)];
  },
  evaluate: ([c, x, y], n) => {
    const cd = c!.data, xd = x!.data, yd = y!.data;
    return map(n.dtype, n.shape, (i) => (cd[i] !== 0 ? xd[i]! : yd[i]!));
  },
  ts: { kind: "elementwise", expr: ([c, a, b]) => `(${c} !== 0 ? ${a} : ${b})` },
  // `0` is an abstract int: it takes the condition's type (u32 for bool).
  wgsl: { kind: "elementwise", expr: ([c, a, b]) => `select(${b}, ${a}, ${c} != 0)` },
});
