// random_uniform: a tensor of independent U[0, 1) draws from Philox, element
// i from counter (i, salt, step, iter) under the run's seed.
import { IRError } from "../ir/types.ts";
import { map } from "../ir/tensor.ts";
import { uniform } from "../../runtime/rng/philox.ts";
import { defineOp } from "./op.ts";

export const random_uniform = defineOp({
  name: "random_uniform",
  // No operands to infer from: the type is given to Builder.randomUniform.
  infer: () => {
    throw new IRError("random_uniform nodes carry their own type: build them with Builder.randomUniform");
  },
  vjp: () => [],
  evaluate: (_ins, n, ctx) => map(n.dtype, n.shape, (i) => uniform(ctx.seed, n.attrs.salt, ctx.step, ctx.iter, i)),
  ts: {
    kind: "elementwise",
    expr: (_a, n, e) => `${e.rng}.uniform(${e.seed}, ${n.attrs.salt}, ${e.step}, ${e.iter}, ${e.index})`,
  },
  // philox_uniform is compiler/emit/wgsl/philox.ts, included by the module
  // emitter in every module that calls it.
  wgsl: {
    kind: "elementwise",
    expr: (_a, n, e) => `philox_uniform(${e.seed}, ${n.attrs.salt >>> 0}u, ${e.step}, ${e.iter}, ${e.index})`,
  },
});
