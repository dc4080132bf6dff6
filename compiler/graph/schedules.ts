// Learning-rate schedules and decoupled weight decay, as graph nodes of the
// training step. Nothing is mutated on the host: the rate of step t is a pure
// function of the phase's step counter, a scalar state tensor
// `<phase>.step` (steps done in this phase before this one) that the step
// itself advances (t ← t + 1) and that checkpoints carry, so the CPU and
// WebGPU steps and a resumed run compute the same rate. A per-phase counter
// rather than the global step (which random ops use): a phase starts at a
// global step that depends on the data size and on early stopping, and a
// schedule (like Adam's bias correction) restarts with its phase.
//
// Epoch-based schedules also need the epoch length, which depends on the
// data (the embedded 8,000 digits or --data's 50,000): it is a second scalar
// state, `<phase>.steps_per_epoch`, that the trainer fills at initialisation
// with ⌊n_train / batch_size⌋ (runtime/train/model-ops.ts) and that is
// never updated. The epoch is then ⌊t / steps_per_epoch⌋, computed exactly
// (see floorDiv), so the counter in f32 is exact up to 2²⁴ steps.

import type { Builder } from "../ir/builder.ts";
import type { OptimizerSpec, ScheduleSpec } from "../frontend/types.ts";
import type { StateTensor } from "./optimizers.ts";

/** The options every optimizer takes (schedule, weight decay). */
export function commonOptions(opt: OptimizerSpec): { lr: number; schedule: ScheduleSpec; weightDecay: number } {
  const o = Object.values(opt)[0] as { lr?: number; schedule?: ScheduleSpec; weight_decay?: number };
  const lr = o.lr ?? ("adadelta" in opt ? 1 : "adam" in opt ? 0.001 : NaN);
  return { lr, schedule: o.schedule ?? "constant", weightDecay: o.weight_decay ?? 0 };
}

/** Whether a schedule reads the phase's step counter. */
export function needsCounter(s: ScheduleSpec): boolean {
  return s !== "constant" && !("on_plateau" in s);
}

/** on_plateau's rate: lr times a scalar state `<phase>.lr_scale` that starts
 * at 1 and that the trainer, not the step, multiplies by the factor after a
 * validation too far past the best (runtime/train/plateau.ts); the step only
 * reads it, and checkpoints carry it. */
export function plateauRate(b: Builder, phase: string, lr: number, dtype: "f32" | "f64"): { rate: number; state: StateTensor } {
  const name = `${phase}.lr_scale`;
  const scale = b.leaf("state", name, [], dtype);
  return { rate: b.mul(b.constant(lr, [], dtype), scale), state: { name, shape: [], leaf: scale, next: scale, init: "one" } };
}

/** ⌊a / d⌋ for non-negative integer-valued float scalars. The f32 quotient
 * may round up to the next integer when a is just below a multiple of d
 * (a = k·d − 1 with large k·d), so the truncated quotient q is corrected:
 * q·d > a means q is one too many. Products and comparisons of integers
 * below 2²⁴ are exact. */
export function floorDiv(b: Builder, a: number, d: number): number {
  const q = b.cast(b.cast(b.div(a, d), "i32"), b.dtype(a));
  const over = b.compare("gt", b.mul(q, d), a);
  return b.sub(q, b.cast(over, b.dtype(a)));
}

export interface PhaseCounter {
  /** Steps done in this phase before this one (a float scalar). */
  readonly t: number;
  /** State tensors to declare: the counter (advanced by the step) and, for
   * epoch schedules, the epoch length (filled by the trainer). */
  readonly state: StateTensor[];
  /** Epochs completed in this phase, when the schedule counts epochs. */
  readonly epoch?: number;
}

/** The counter state of phase `phase`, in the dtype of `like`. */
export function phaseCounter(b: Builder, phase: string, schedule: ScheduleSpec, dtype: "f32" | "f64"): PhaseCounter {
  const tName = `${phase}.step`;
  const t = b.leaf("state", tName, [], dtype);
  const state: StateTensor[] = [{ name: tName, shape: [], leaf: t, next: b.add(t, b.constant(1, [], dtype)) }];
  if (schedulePer(schedule) !== "epoch") return { t, state };
  const sName = `${phase}.steps_per_epoch`;
  const spe = b.leaf("state", sName, [], dtype);
  state.push({ name: sName, shape: [], leaf: spe, next: spe, init: "steps_per_epoch" });
  return { t, state, epoch: floorDiv(b, t, spe) };
}

function schedulePer(s: ScheduleSpec): "epoch" | "step" | undefined {
  if (s === "constant" || "on_plateau" in s) return undefined;
  const v = Object.values(s)[0] as { per?: "epoch" | "step" };
  return v.per ?? "epoch";
}

/** The learning rate of this step: a float scalar node. */
export function scheduledRate(b: Builder, lr: number, schedule: ScheduleSpec, counter: PhaseCounter | undefined, dtype: "f32" | "f64"): number {
  const c = (v: number) => b.constant(v, [], dtype);
  if (schedule === "constant" || "on_plateau" in schedule || counter === undefined) return c(lr);
  const n = schedulePer(schedule) === "epoch" ? counter.epoch! : counter.t;
  if ("exponential" in schedule) {
    // lr·decay^n (the tutorials' learning_rate * decay ** epoch).
    return b.mul(c(lr), b.pow(c(schedule.exponential.decay), n));
  }
  if ("step_decay" in schedule) {
    // lr·factor^⌊n/every⌋.
    const { factor, every } = schedule.step_decay;
    return b.mul(c(lr), b.pow(c(factor), floorDiv(b, n, c(every))));
  }
  // lr + (end_lr − lr)·min(n/over, 1).
  const { end_lr, over } = schedule.linear;
  return b.add(c(lr), b.mul(c(end_lr - lr), b.minimum(b.div(n, c(over)), c(1))));
}

/** Decoupled weight decay (Loshchilov & Hutter): the optimizer's new value
 * of p minus lr_t·wd·p (p before the step), for every trained parameter. */
export function decayWeights(b: Builder, next: number, p: number, rate: number, wd: number): number {
  if (wd === 0) return next;
  return b.sub(next, b.mul(b.mul(rate, b.scalarLike(wd, p)), p));
}
