// Optimizers as update graphs: each returns the parameter's next value and the
// next value of any state it keeps (momentum's velocity). No gradient code:
// they consume the derived gradient node.

import type { Builder } from "../ir/builder.ts";
import type { OptimizerSpec } from "../spec/types.ts";

export interface StateTensor {
  /** Unique state name, e.g. `velocity.W1`. */
  readonly name: string;
  readonly shape: readonly number[];
  /** The state's leaf node and its value after the step. */
  readonly leaf: number;
  readonly next: number;
}

export interface Update {
  readonly param: number;
  readonly state: StateTensor[];
}

export function applyOptimizer(b: Builder, opt: OptimizerSpec, name: string, p: number, g: number, phase: string): Update {
  const lr = (v: number) => b.scalarLike(v, p);
  if ("sgd" in opt) {
    // p ← p − lr·g
    return { param: b.sub(p, b.mul(lr(opt.sgd.lr), g)), state: [] };
  }
  // Classical momentum: v ← μv − lr·g, p ← p + v. Nesterov: p ← p + μv' − lr·g.
  const { lr: rate, momentum: mu, nesterov } = opt.momentum;
  const sname = `${phase}.velocity.${name}`;
  const v = b.leaf("state", sname, b.shape(p), b.dtype(p));
  const step = b.mul(lr(rate), g);
  const v2 = b.sub(b.mul(lr(mu), v), step);
  const param = nesterov ? b.add(p, b.sub(b.mul(lr(mu), v2), step)) : b.add(p, v2);
  return { param, state: [{ name: sname, shape: b.shape(p), leaf: v, next: v2 }] };
}
