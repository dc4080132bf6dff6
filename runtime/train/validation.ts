// Validation as the tutorial does it: at a validation point the validation
// split is scored; under early stopping a new best validation score
// snapshots the parameters and scores them on the test split (the "test
// score of the best model"). Every point appends one record to the metrics
// log, with the mean training cost since the previous point. After the
// last phase, a run without early stopping scores its final parameters on
// the test split instead.
import type { ModelDescription, PhaseDesc } from "../compiled-model.ts";
import { formatMetrics } from "../progress.ts";
import type { MetricsRecord } from "../progress.ts";
import { EarlyStopping, initialEarlyStopping } from "./early-stopping.ts";
import { METRICS_FILE } from "./run-store.ts";
import { plateauAfterValidation } from "./plateau.ts";
import { TrainingError } from "./training-error.ts";
import type { TrainingRun } from "./training-run.ts";

/** How a phase validates, settled when it starts (or resumes). */
export interface PhaseValidation {
  readonly phase: PhaseDesc;
  /** Minibatches per epoch, for the metrics records. */
  readonly minibatches: number;
  /** Validation points score the validation split; otherwise they only
   * log the training cost. */
  readonly validating: boolean;
  /** The metric early stopping watches and the best model is chosen by. */
  readonly monitor: string | null;
  /** The phase's early stopping, continuing from the checkpoint's state
   * when the phase was under way. */
  readonly earlyStopping: EarlyStopping | null;
}

/** Settles how `phase` validates; throws TrainingError when its early
 * stopping cannot work (no such metric, nothing to validate on). */
export function planValidation(run: TrainingRun, phase: PhaseDesc, minibatches: number): PhaseValidation {
  const { model, splits, state: st, evaluator } = run;
  const desc = model.desc;
  // A phase may opt out when the metrics read inputs it does not feed (a
  // pretraining phase of a classifier); early stopping needs validation.
  const validating = evaluator.enabled && splits.valid.n > 0 && (phase.validate !== false || phase.earlyStopping !== null);
  const monitor = phase.monitor ?? (desc.metrics.includes("error") ? "error" : (desc.metrics[0] ?? null));
  let earlyStopping: EarlyStopping | null = null;
  if (phase.plateau && !phase.earlyStopping) throw new TrainingError(`phase "${phase.name}": the on_plateau schedule decays from the best validation; it needs early_stopping`);
  if (phase.earlyStopping) {
    if (monitor === null || !desc.metrics.includes(monitor)) {
      throw new TrainingError(`phase "${phase.name}": early stopping monitors "${monitor}", the model's metrics are [${desc.metrics.join(", ")}]`);
    }
    if (!validating) throw new TrainingError(`phase "${phase.name}": early stopping needs a non-empty validation split`);
    // A phase starting afresh drops the previous phase's best snapshot.
    if (!st.earlyStopping) run.checkpointer.dropBest();
    earlyStopping = new EarlyStopping(phase.earlyStopping, minibatches, st.earlyStopping ?? initialEarlyStopping(phase.earlyStopping, minibatches));
  }
  return { phase, minibatches, validating, monitor, earlyStopping };
}

/** The validation point after minibatch `b` of the epoch, the phase's
 * minibatch `iter`: scores, early stopping's verdict, the best snapshot,
 * and the metrics record (logged and appended to the metrics file). */
export async function validate(run: TrainingRun, v: PhaseValidation, iter: number, b: number): Promise<void> {
  const { splits, state: st, evaluator } = run;
  const es = v.earlyStopping;
  const valid = v.validating ? await evaluator.evaluate(splits.valid, "valid split") : null;
  let improved = false;
  if (es && valid && v.monitor !== null) {
    if (es.observe(iter, monitorLoss(run.model.desc, v.monitor, valid[v.monitor]!)).improved) {
      improved = true;
      await run.checkpointer.takeBest();
      st.testMetrics = splits.test.n > 0 ? await evaluator.evaluate(splits.test, "test split") : null;
      if (st.testMetrics) es.setTestScore(st.testMetrics[v.monitor]);
      run.checkpointer.describeBest({ phase: v.phase.name, epoch: st.epoch + 1, iter, globalStep: st.globalStep, valid, test: st.testMetrics });
    }
  }
  const rec: MetricsRecord = {
    phase: v.phase.name,
    epoch: st.epoch + 1,
    minibatch: b + 1,
    minibatches: v.minibatches,
    iter,
    globalStep: st.globalStep,
    trainCost: st.costCount > 0 ? st.costSum / st.costCount : null,
    valid,
    best: improved,
    testAtBest: es ? st.testMetrics : null,
    elapsed: run.elapsed(),
    ...(v.phase.draws !== undefined ? { reported: v.phase.report ?? "" } : {}),
  };
  st.costSum = 0;
  st.costCount = 0;
  await run.store.appendLine(METRICS_FILE, JSON.stringify(rec));
  // Counted in the checkpoint so a resume cuts the log back to its point.
  st.metricsLines++;
  run.log.record(rec);
  if (await plateauAfterValidation(run, v, iter)) es?.stop();
}

/** Early stopping minimises: a metric where higher is better (chunk_f1 or
 * a ratio, percents) is watched as its shortfall 100 − v, a map that is its own
 * inverse (monitorLoss(monitorLoss(v)) = v), so the same function turns the
 * best "loss" back into the metric for reports. */
export function monitorLoss(desc: ModelDescription, monitor: string, v: number): number {
  // Every split metric (chunk_f1, ratio) is a percent where higher is better.
  return desc.splitMetrics?.some((m) => m.name === monitor) ? 100 - v : v;
}

/** The final parameters' test metrics, when the last phase had no early
 * stopping (so no best-validation snapshot was scored): Newmu's scripts
 * report the last epoch's test accuracy. Null when there is nothing to
 * score. Evaluation changes no training state, so this runs after the last
 * checkpoint. */
export async function testFinalParameters(run: TrainingRun): Promise<Record<string, number> | null> {
  const { model, splits, state: st } = run;
  const last = st.results[st.results.length - 1];
  const scored = last !== undefined && last.bestValid === null && model.desc.metrics.length > 0 && splits.test.n > 0;
  if (!scored) return null;
  const finalTest = await run.evaluator.evaluate(splits.test, "test split");
  run.log.info(`final parameters on the test split: ${formatMetrics(finalTest)}`);
  return finalTest;
}
