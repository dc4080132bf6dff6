// Shared pieces of elementwise ops: the shape rule (operands of one shape; the
// Builder inserts broadcasts) and reference evaluation by a scalar function.

import { map, type Tensor } from "../ir/tensor.ts";
import { type DType, IRError, type TensorType, fmtShape, isFloat, shapeEq } from "../ir/types.ts";

/** Operands must share a shape; the result has that shape and `dtype` (the
 * first operand's when omitted). Float ops reject integer operands. */
export function inferSame(op: string, inputs: readonly TensorType[], arity: number, opts: { float?: boolean; dtype?: DType } = {}): TensorType {
  if (inputs.length !== arity) throw new IRError(`${op} takes ${arity} operand(s), got ${inputs.length}`);
  const first = inputs[0]!;
  for (const t of inputs) {
    if (!shapeEq(t.shape, first.shape)) {
      throw new IRError(`${op}: operand shapes ${fmtShape(first.shape)} and ${fmtShape(t.shape)} differ`, undefined, "E031");
    }
  }
  if (opts.float && !isFloat(first.dtype)) throw new IRError(`${op} needs a float operand, got ${first.dtype}`, undefined, "E032");
  return { shape: first.shape, dtype: opts.dtype ?? first.dtype };
}

export function evalUnary(x: Tensor, f: (a: number) => number, dtype: DType = x.dtype): Tensor {
  const d = x.data;
  return map(dtype, x.shape, (i) => f(d[i]!));
}

export function evalBinary(x: Tensor, y: Tensor, f: (a: number, b: number) => number, dtype: DType = x.dtype): Tensor {
  const a = x.data;
  const b = y.data;
  return map(dtype, x.shape, (i) => f(a[i]!, b[i]!));
}
