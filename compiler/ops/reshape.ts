// reshape: the same row-major data under another shape of equal size.
import { IRError, fmtShape, numel } from "../ir/types.ts";
import { defineOp } from "./op.ts";

export const reshape = defineOp({
  name: "reshape",
  infer: ([x], { shape }) => {
    if (shape.some((d) => !Number.isInteger(d) || d < 0) || numel(shape) !== numel(x!.shape)) {
      throw new IRError(`cannot reshape ${fmtShape(x!.shape)} to ${fmtShape(shape)}`, undefined, "E031");
    }
    return { shape: [...shape], dtype: x!.dtype };
  },
  vjp: (b, n, ct) => [b.reshape(ct, b.shape(n.inputs[0]!))],
  // A copy in the oracle (values are never mutated, but a shared array
  // under two shapes would be a trap for anyone who does).
  evaluate: ([x], n) => ({ shape: [...n.shape], dtype: n.dtype, data: x!.data.slice() }),
  // Contiguous buffers make a reshape free: the output aliases the input.
  ts: { kind: "view" },
  wgsl: { kind: "view" },
});
