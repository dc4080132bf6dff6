// rnnslu.py's learning-rate decay, driven from validation:
//
//   if res_valid['f1'] > best_f1: best_rnn = copy(rnn); be = e
//   if decay and abs(be - ce) >= 10: clr *= 0.5; rnn = best_rnn
//   if clr < 1e-5: break
//
// checked after every validation (once an epoch there). The rate's factor is
// the scalar state tensor `<phase>.lr_scale` that the step multiplies the
// learning rate by (compiler/graph/schedules.ts plateauRate), so a
// checkpoint carries it and a resume continues exactly. Note the tutorial's
// rule fires again at every later epoch until the validation improves: the
// best epoch does not move, so the rate halves once per epoch from then on.
// That is kept as written.
import type { PlateauDesc } from "../compiled-model.ts";
import { copyBuffers } from "./model-ops.ts";
import type { TrainingRun } from "./training-run.ts";
import type { PhaseValidation } from "./validation.ts";

/** After the validation following minibatch `iter` of the phase: decays the
 * rate when the best validation is `patienceEpochs` or more epochs old, and
 * returns whether the phase should end (the rate fell below min_lr). */
export async function plateauAfterValidation(run: TrainingRun, v: PhaseValidation, iter: number): Promise<boolean> {
  const p: PlateauDesc | undefined = v.phase.plateau;
  const es = v.earlyStopping;
  if (p === undefined || es === null || es.state.bestIter < 0) return false;
  const epoch = Math.floor(iter / v.minibatches);
  const bestEpoch = Math.floor(es.state.bestIter / v.minibatches);
  if (epoch - bestEpoch < p.patienceEpochs) return false;
  const { model, checkpointer } = run;
  await model.download?.();
  const scale = model.state[p.scaleState];
  if (scale === undefined || scale.length !== 1) throw new Error(`model has no scalar state "${p.scaleState}" for the on_plateau schedule`);
  scale[0] = Math.fround(scale[0]! * p.factor);
  if (p.restoreBest && checkpointer.best !== null) copyBuffers(model.desc.params, checkpointer.best, model.params);
  model.upload?.();
  const lr = p.lr * scale[0]!;
  const end = lr < p.minLr;
  run.log.info(
    `phase ${v.phase.name}: no better validation for ${epoch - bestEpoch} epochs (best at epoch ${bestEpoch + 1}): ` +
      `learning rate × ${p.factor} → ${lr.toPrecision(4)}${p.restoreBest ? ", best parameters restored" : ""}${end ? `; below ${p.minLr}, the phase ends` : ""}`,
  );
  return end;
}
