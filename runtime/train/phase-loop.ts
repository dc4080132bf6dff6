// One phase of training (an entry of the spec's `phases:`): epochs of
// minibatch steps with validation points and early stopping, the images and
// a checkpoint at every epoch end (and mid-epoch when one is due by time), and at the phase's end the switch to the
// best-validation parameters. A resumed run re-enters the phase at the
// checkpoint's epoch and minibatch; nothing here depends on whether it did.
import type { Batch, CompiledModel, PhaseDesc } from "../compiled-model.ts";
import { CHECKPOINT_FILE } from "../checkpoint/state.ts";
import type { PhaseResult } from "../checkpoint/state.ts";
import { BatchIterator } from "../data/batcher.ts";
import type { Split } from "../data/dataset.ts";
import { formatMetric } from "../progress.ts";
import { validationFrequency } from "./early-stopping.ts";
import { finishRecords, recordDraw } from "./records.ts";
import { firstNonFinite, TrainingError } from "./training-error.ts";
import type { TrainingRun } from "./training-run.ts";
import { monitorLoss, planValidation, validate } from "./validation.ts";
import type { PhaseValidation } from "./validation.ts";

/** What the loop takes minibatches from: the train split's batches, or a
 * sampling phase's empty ones. */
type Batches = Pick<BatchIterator, "numBatches" | "setEpoch" | "fill">;

function drawBatches(draws: number): Batches {
  const empty: Batch = {};
  return { numBatches: draws, setEpoch: () => {}, fill: () => empty };
}

/** The train split of each model with its features in the model's memory
 * (placed once, for all phases). */
const residentTrain = new WeakMap<CompiledModel, { readonly src: Split; readonly split: Split }>();

/** The train split's minibatches. A CPU model whose steps read their
 * features where the batch lies (CompiledModel.resident) gets them without
 * a copy: in the data's order as views of the split placed in its memory
 * once, shuffled as rows gathered into buffers in its memory (one copy
 * where there were two). */
function trainBatches(model: CompiledModel, split: Split, shuffle: boolean): BatchIterator {
  const desc = model.desc;
  const resident = model.resident?.bind(model);
  const opts = { shuffle, seed: desc.seed };
  if (resident === undefined || split.named) return new BatchIterator(split, desc.inputs, desc.data.batchSize, opts);
  if (shuffle) return new BatchIterator(split, desc.inputs, desc.data.batchSize, { ...opts, place: (n) => resident(new Float32Array(n)) });
  let placed = residentTrain.get(model);
  if (placed?.src !== split) {
    const x = resident(split.x);
    placed = { src: split, split: x ? { ...split, x } : split };
    residentTrain.set(model, placed);
  }
  return new BatchIterator(placed.split, desc.inputs, desc.data.batchSize, opts);
}

/** Longest stretch (ms) of steps without returning to the event loop. */
const YIELD_EVERY_MS = 200;

/** Runs the rest of the phase run.state.phase, then moves the state to the
 * start of the next phase. Resolves to false when the run was asked to stop
 * inside the phase (it is then checkpointed at that step). */
export async function runPhase(run: TrainingRun): Promise<boolean> {
  const { model, splits, state: st } = run;
  const desc = model.desc;
  const phase = desc.phases[st.phase];
  // A sampling phase reads no data: its `draws` steps get an empty batch.
  const batches: Batches = phase.draws !== undefined ? drawBatches(phase.draws) : trainBatches(model, splits.train, phase.shuffle);
  const nb = batches.numBatches;
  const epochs = run.epochsOf(phase);
  const frequency = validationFrequency(phase.earlyStopping, nb);
  const v = planValidation(run, phase, nb);
  if (st.epoch === 0 && st.batch === 0 && phase.draws !== undefined) {
    run.log.info(`phase ${phase.name}: ${phase.draws} draws${phase.record?.length ? `, recording ${phase.record.map((r) => r.state).join(", ")}` : ""}`);
  } else if (st.epoch === 0 && st.batch === 0) {
    run.log.info(`phase ${phase.name}: ${nb} minibatches of ${desc.data.batchSize} per epoch, up to ${epochs} epochs, ` +
      (v.validating ? `validation every ${frequency} minibatches` : phase.validate === false ? "no validation (the metrics read inputs this phase does not use)" : "no validation"));
  }
  if (!(await runEpochs(run, v, batches, epochs, frequency))) return false;
  await finishPhase(run, v);
  return true;
}

/** The phase's epochs from the current position, until its epoch budget is
 * spent or early stopping ends it; false when stopped on request. */
async function runEpochs(run: TrainingRun, v: PhaseValidation, batches: Batches, epochs: number, frequency: number): Promise<boolean> {
  const { model, state: st } = run;
  const phase = v.phase;
  const es = v.earlyStopping;
  const nb = batches.numBatches;
  const batchSize = model.desc.data.batchSize;
  let lastYield = run.now();
  while (st.epoch < epochs && !(es?.done ?? false)) {
    batches.setEpoch(st.epoch);
    while (st.batch < nb) {
      if (run.shouldStop()) {
        await run.checkpointer.save(st, es, run.elapsed());
        return false;
      }
      // Time-based: between steps like every checkpoint (after the last
      // step's validation and patience check), so a resume is exact.
      if (st.batch > 0 && run.checkpointDue()) await run.checkpointer.save(st, es, run.elapsed());
      // Let the event loop run now and then (a macrotask, not a microtask):
      // signal handlers — Ctrl-C's checkpoint-and-stop — only run there.
      if (run.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise<void>((r) => setTimeout(r, 0));
        lastYield = run.now();
        if (run.shouldStop()) continue;
      }
      const b = st.batch;
      const iter = st.epoch * nb + b;
      const ret = model.trainStep(phase.step, batches.fill(b), st.globalStep);
      // A CPU model answers at once; only a GPU model's promise is awaited
      // (an await per step would cost a microtask turn each).
      const cost = typeof ret === "number" ? ret : await ret;
      if (!Number.isFinite(cost)) throw diverged(run, phase, cost, b, nb);
      if (phase.record) await recordDraw(model, phase, run.checkpointer.records, b);
      st.globalStep++;
      const at = { phase: phase.name, step: st.globalStep, cost };
      run.costs.first ??= at;
      run.costs.last = at;
      st.batch++;
      st.stepInPhase = iter + 1;
      st.costSum += cost;
      st.costCount++;
      run.log.batch({ phase: phase.name, epoch: st.epoch + 1, epochs, batch: b + 1, batches: nb, cost, batchSize });
      if ((iter + 1) % frequency === 0) await validate(run, v, iter, b);
      if (es?.afterMinibatch(iter)) break;
    }
    if (es?.done) break;
    st.epoch++;
    st.batch = 0;
    // Images before the checkpoint that records this epoch's end: a crash in
    // between writes them again on resume instead of losing them.
    await run.images.write("epoch", phase.name, st.epoch);
    await run.checkpointer.save(st, es, run.elapsed());
  }
  return true;
}

/** The error for a non-finite training cost at minibatch b (the state still
 * names the step that produced it). */
function diverged(run: TrainingRun, phase: PhaseDesc, cost: number, b: number, nb: number): TrainingError {
  const st = run.state;
  const saved = run.checkpointer.savedStep;
  const checkpoint =
    saved === null
      ? "No checkpoint was written before it (train again from the start)."
      : `The last checkpoint, ${run.store.where(CHECKPOINT_FILE)} (global step ${saved}), is intact: --resume continues from it.`;
  return new TrainingError(
    `training cost is ${cost} in phase "${phase.name}", epoch ${st.epoch + 1}, minibatch ${b + 1}/${nb} ` +
      `(global step ${st.globalStep})${firstNonFinite(run.model, phase.step)}: training diverged; try a lower learning rate. ${checkpoint}`,
    "E041",
  );
}

/** Phase end: select the best-validation parameters, record the phase's
 * result, write its images and checkpoint at the start of the next phase. */
async function finishPhase(run: TrainingRun, v: PhaseValidation): Promise<void> {
  const st = run.state;
  const phase = v.phase;
  const esState = v.earlyStopping?.state;
  const hasBest = esState !== undefined && esState.bestIter >= 0 && run.checkpointer.best !== null;
  if (hasBest) await run.checkpointer.restoreBest();
  const result: PhaseResult = {
    phase: phase.name,
    // An early stop ends inside an epoch, which counts.
    epochs: esState?.done ? st.epoch + 1 : st.epoch,
    steps: st.stepInPhase,
    bestValid: hasBest ? monitorLoss(run.model.desc, v.monitor ?? "", esState.bestValid) : null,
    testAtBest: hasBest ? esState.testAtBest : null,
    stoppedEarly: esState?.done ?? false,
  };
  st.results.push(result);
  // Before the checkpoint at the next phase's start: a crash in between
  // writes the draws again on resume.
  await finishRecords(run, phase);
  if (hasBest) {
    const fmt = (x: number | null): string => (x === null ? "n/a" : formatMetric(v.monitor ?? "", x));
    run.log.info(`phase ${phase.name} done: best validation ${v.monitor} ${fmt(result.bestValid)} at iter ${esState.bestIter}, ` +
      `test ${fmt(esState.testAtBest)}${result.stoppedEarly ? " (stopped early)" : ""}`);
  }
  await run.images.write("phase", phase.name, st.epoch);
  st.phase++;
  st.epoch = 0;
  st.batch = 0;
  st.stepInPhase = 0;
  st.earlyStopping = null;
  await run.checkpointer.save(st, null, run.elapsed());
}
