// Optimizers as update graphs: each returns the parameter's next value and the
// next value of any state it keeps (momentum's velocity). No gradient code:
// they consume the derived gradient node.

import type { Builder } from "../ir/builder.ts";
import type { OptimizerSpec } from "../frontend/types.ts";
import { commonOptions } from "./schedules.ts";

export interface StateTensor {
  /** Unique state name, e.g. `velocity.W1`. */
  readonly name: string;
  readonly shape: readonly number[];
  /** The state's leaf node and its value after the step. */
  readonly leaf: number;
  readonly next: number;
  /** How the trainer initialises it (default zeros); `steps_per_epoch`: the
   * train split's minibatches per epoch (an epoch schedule's epoch length,
   * never updated by the step); `one`: 1 (on_plateau's rate scale, which
   * the trainer changes). */
  readonly init?: "steps_per_epoch" | "one";
}

export interface Update {
  readonly param: number;
  readonly state: StateTensor[];
}

/** `rate`: the learning rate of this step as a scalar node (a schedule,
 * compiler/graph/schedules.ts); default the optimizer's constant `lr`. */
export function applyOptimizer(b: Builder, opt: OptimizerSpec, name: string, p: number, g: number, phase: string, rate?: number): Update {
  const k = (v: number) => b.scalarLike(v, p);
  // Built where it is used, so that constant-rate graphs keep their node order.
  const lr = () => rate ?? k(commonOptions(opt).lr);
  const state: StateTensor[] = [];
  /** A zero-initialised slot of the parameter's shape, kept in the checkpoint. */
  const slot = (kind: string, shape: readonly number[] = b.shape(p)) => {
    const sname = `${phase}.${kind}.${name}`;
    const leaf = b.leaf("state", sname, shape, b.dtype(p));
    return { sname, leaf, shape };
  };
  const keep = (s: { sname: string; leaf: number; shape: readonly number[] }, next: number) => state.push({ name: s.sname, shape: s.shape, leaf: s.leaf, next });
  /** An exponential moving average: rho·avg + (1 − rho)·x. */
  const ema = (avg: number, rho: number, x: number) => b.add(b.mul(k(rho), avg), b.mul(k(1 - rho), x));

  if ("sgd" in opt) {
    // p ← p − lr·g
    return { param: b.sub(p, b.mul(lr(), g)), state };
  }
  if ("momentum" in opt) {
    // Classical momentum: v ← μv − lr·g, p ← p + v. Nesterov: p ← p + μv' − lr·g.
    const { momentum: mu, nesterov } = opt.momentum;
    const v = slot("velocity");
    const step = b.mul(lr(), g);
    const v2 = b.sub(b.mul(k(mu), v.leaf), step);
    keep(v, v2);
    return { param: nesterov ? b.add(p, b.sub(b.mul(k(mu), v2), step)) : b.add(p, v2), state };
  }
  if ("rmsprop" in opt) {
    // Newmu's RMSprop: acc ← ρ·acc + (1−ρ)·g², p ← p − lr·g/√(acc + ε).
    const { rho = 0.9, eps: epsilon = 1e-6 } = opt.rmsprop;
    const acc = slot("rms");
    const acc2 = ema(acc.leaf, rho, b.mul(g, g));
    keep(acc, acc2);
    return { param: b.sub(p, b.mul(lr(), b.div(g, b.unary("sqrt", b.add(acc2, k(epsilon)))))), state };
  }
  if ("adadelta" in opt) {
    // Zeiler's Adadelta (dnn.py): Eg² ← ρEg² + (1−ρ)g²; Δ = −√(EΔ² + ε)/√(Eg² + ε)·g;
    // EΔ² ← ρEΔ² + (1−ρ)Δ²; p ← p + lr·Δ.
    const { rho = 0.95, eps: epsilon = 1e-6 } = opt.adadelta;
    const eg = slot("adadelta_g2");
    const ed = slot("adadelta_dx2");
    const eg2 = ema(eg.leaf, rho, b.mul(g, g));
    const dx = b.neg(b.mul(b.div(b.unary("sqrt", b.add(ed.leaf, k(epsilon))), b.unary("sqrt", b.add(eg2, k(epsilon)))), g));
    keep(eg, eg2);
    keep(ed, ema(ed.leaf, rho, b.mul(dx, dx)));
    return { param: b.add(p, rate === undefined && commonOptions(opt).lr === 1 ? dx : b.mul(lr(), dx)), state };
  }
  // Adam with bias correction; the step count t is a (per-parameter) state
  // scalar so the correction resumes exactly.
  const { beta1 = 0.9, beta2 = 0.999, eps: epsilon = 1e-8 } = opt.adam;
  const m = slot("adam_m");
  const v = slot("adam_v");
  const t = slot("adam_t", []);
  const one = b.scalarLike(1, t.leaf);
  const t2 = b.add(t.leaf, one);
  const m2 = ema(m.leaf, beta1, g);
  const v2 = ema(v.leaf, beta2, b.mul(g, g));
  keep(m, m2);
  keep(v, v2);
  keep(t, t2);
  const bc = (beta: number) => b.sub(one, b.pow(b.scalarLike(beta, t.leaf), t2));
  const mhat = b.div(m2, b.broadcastTo(bc(beta1), b.shape(p)));
  const vhat = b.div(v2, b.broadcastTo(bc(beta2), b.shape(p)));
  return { param: b.sub(p, b.mul(lr(), b.div(mhat, b.add(b.unary("sqrt", vhat), k(epsilon))))), state };
}
