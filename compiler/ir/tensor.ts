// Dense tensors for the reference evaluator: f32/f64 values are held in f64,
// i32 and bool (0/1) in Int32Array. Row-major, contiguous.

import { type DType, type Shape, numel } from "./types.ts";

export interface Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  readonly data: Float64Array | Int32Array;
}

export function alloc(shape: Shape, dtype: DType): Tensor {
  const n = numel(shape);
  const data = dtype === "i32" || dtype === "bool" ? new Int32Array(n) : new Float64Array(n);
  return { shape: [...shape], dtype, data };
}

export function fromArray(shape: Shape, dtype: DType, values: ArrayLike<number>): Tensor {
  const t = alloc(shape, dtype);
  if (values.length !== t.data.length) {
    throw new Error(`fromArray: ${values.length} values for shape [${shape.join(", ")}]`);
  }
  t.data.set(values);
  return t;
}

export function full(shape: Shape, dtype: DType, value: number): Tensor {
  const t = alloc(shape, dtype);
  t.data.fill(value);
  return t;
}

/** Elementwise map producing a tensor of the given dtype. */
export function map(dtype: DType, shape: Shape, f: (i: number) => number): Tensor {
  const t = alloc(shape, dtype);
  const d = t.data;
  for (let i = 0; i < d.length; i++) d[i] = f(i);
  return t;
}
