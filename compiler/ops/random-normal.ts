// random_normal: a tensor of independent N(0, 1) draws from Philox
// (Box-Muller on pairs: elements 2k and 2k+1 share counter block k).
import { IRError } from "../ir/types.ts";
import { map } from "../ir/tensor.ts";
import { normal } from "../../runtime/rng/philox.ts";
import { defineOp } from "./op.ts";

export const random_normal = defineOp({
  name: "random_normal",
  infer: () => {
    throw new IRError("random_normal nodes carry their own type: build them with Builder.randomNormal");
  },
  vjp: () => [],
  evaluate: (_ins, n, ctx) => map(n.dtype, n.shape, (i) => normal(ctx.seed, n.attrs.salt, ctx.step, ctx.iter, i)),
  ts: {
    kind: "elementwise",
    expr: (_a, n, e) => `${e.rng}.normal(${e.seed}, ${n.attrs.salt}, ${e.step}, ${e.iter}, ${e.index})`,
  },
  wgsl: {
    kind: "elementwise",
    expr: (_a, n, e) => `philox_normal(${e.seed}, ${n.attrs.salt >>> 0}u, ${e.step}, ${e.iter}, ${e.index})`,
  },
});
