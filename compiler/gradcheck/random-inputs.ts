// The data a gradient check feeds a spec's inputs: integer labels uniform in
// [0, classes), float inputs uniform in [0, 1) (they look like pixels and
// keep probabilities and logs valid). Shared by the loss check
// (gradcheck.ts) and the check of the spec's own grad() calls (grad-calls.ts).
import { alloc, type Tensor } from "../ir/tensor.ts";
import type { Shape } from "../ir/types.ts";
import { uniform } from "../../runtime/rng/philox.ts";

/** Salt `salt` draws the labels, `salt + 1` the floats. */
export function randomInput(shape: Shape, int: boolean, classes: number, seed: number, salt: number): Tensor {
  const t = alloc(shape, int ? "i32" : "f64");
  for (let i = 0; i < t.data.length; i++) t.data[i] = int ? Math.floor(uniform(seed, salt, 7, 0, i) * classes) : uniform(seed, salt + 1, 9, 0, i);
  return t;
}
