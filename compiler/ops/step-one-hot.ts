// step_one_hot: an f32 vector [depth] that is 1 at position (step mod depth)
// and 0 elsewhere — a counter that cycles with the training step. It is
// Theano's shared `bit_i_idx` that the RBM tutorial increments modulo
// n_visible after every update (the pseudo-likelihood's flipped bit), made a
// pure function of the step so that resumed runs see the same sequence.
import { IRError } from "../ir/types.ts";
import { map } from "../ir/tensor.ts";
import { defineOp } from "./op.ts";

export const step_one_hot = defineOp({
  name: "step_one_hot",
  // No operands: the type is given by Builder.stepOneHot.
  infer: () => {
    throw new IRError("step_one_hot nodes carry their own type: build them with Builder.stepOneHot");
  },
  vjp: () => [],
  evaluate: (_ins, n, ctx) => map(n.dtype, n.shape, (i) => (i === ctx.step % n.attrs.depth ? 1 : 0)),
  ts: {
    kind: "elementwise",
    expr: (_a, n, e) => `(${e.index} === ${e.step} % ${n.attrs.depth} ? 1 : 0)`,
  },
  wgsl: {
    kind: "elementwise",
    expr: (_a, n, e) => `select(0.0f, 1.0f, ${e.index} == ${e.step} % ${n.attrs.depth}u)`,
  },
});
