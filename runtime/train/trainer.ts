// The training loop: runs a CompiledModel's phases in order over minibatches,
// with the tutorial's validation / early stopping / best-model selection,
// NaN detection, a JSON-lines metrics log and atomic checkpoints from which
// `resume` continues bit-exactly.
//
// Resume exactness rests on three facts: (1) the example order of an epoch
// is a pure function of (seed, epoch) (runtime/data/batcher.ts), (2) random
// ops in the generated step key off the global step, saved in the
// checkpoint, and (3) the checkpoint is taken only between steps, after that
// step's validation and patience check, and holds everything that changes
// (params, state, best snapshot, early-stopping state, position). So N steps
// straight and N/2 + resume + N/2 produce identical bits. Checkpoints are
// taken at every epoch end, phase end, requested stop and the run's end,
// and between steps once opts.checkpointEveryMinutes passed since the last.
//
// The parts: phase-loop.ts (epochs, steps), validation.ts (validation
// points, best model, final test), checkpointer.ts (start, resume, save),
// runtime/image/snapshots.ts (the spec's images). This module is
// storage-agnostic (a RunStore, run-store.ts); runtime/node/run.ts binds it
// to a directory.
import type { CompiledModel, ModelDescription } from "../compiled-model.ts";
import type { PhaseResult } from "../checkpoint/state.ts";
import type { Splits } from "../data/dataset.ts";
import { ImageSnapshots } from "../image/snapshots.ts";
import type { ImageEncoder } from "../image/snapshots.ts";
import { silentLogger } from "../progress.ts";
import type { Logger } from "../progress.ts";
import { Checkpointer } from "./checkpointer.ts";
import { Evaluator } from "./model-ops.ts";
import { runPhase } from "./phase-loop.ts";
import { monitorLoss } from "./validation.ts";
import type { RunStore } from "./run-store.ts";
import { TrainingError } from "./training-error.ts";
import type { CostAt, TrainingRun } from "./training-run.ts";
import { testFinalParameters } from "./validation.ts";

// Tests outside runtime/ build their stores from here.
export { MemoryRunStore } from "./run-store.ts";
export type { CostAt } from "./training-run.ts";

/** Minutes between time-based checkpoints unless the caller says. */
export const DEFAULT_CHECKPOINT_MINUTES = 5;

/** How far and how a training run goes: resume, epoch and step caps, stop
 * requests, checkpoint interval, image encoding, progress. */
export interface TrainOptions {
  /** Continue from the store's checkpoint instead of initialising. */
  readonly resume?: boolean;
  /** Caps every phase's epochs. */
  readonly maxEpochs?: number;
  /** Caps a named phase's epochs (overrides maxEpochs for that phase), e.g.
   * a short greedy pretraining followed by a long fine-tuning. */
  readonly phaseEpochs?: Readonly<Record<string, number>>;
  /** Stops (with a checkpoint) once this many global steps are done. */
  readonly maxSteps?: number;
  readonly log?: Logger;
  /** Polled before every step; true stops with a checkpoint (Ctrl-C). */
  readonly shouldStop?: () => boolean;
  /** Millisecond clock (injectable for tests). */
  readonly now?: () => number;
  /** Also checkpoint mid-epoch once this many minutes (of `now`) passed
   * since the last checkpoint (default 5; 0: at epoch ends only). */
  readonly checkpointEveryMinutes?: number;
  /** Encodes the grayscale images of `desc.images` (e.g. as PNG:
   * runtime/image/png.ts in Node). Without it those images are skipped. */
  readonly encodeImage?: ImageEncoder;
}

/** What a training run ended with: best validation value, test value at the
 * best model, epochs, steps, time, and whether it finished. */
export interface TrainSummary {
  /** Best validation value of the monitored metric (last phase that had one). */
  readonly bestValid: number | null;
  /** The metric bestValid and testAtBest are values of ("error" for the
   * tutorial's classifiers). */
  readonly monitor: string | null;
  readonly testAtBest: number | null;
  /** Epochs run, summed over phases (a partial epoch counts). */
  readonly epochs: number;
  /** Global steps done. */
  readonly steps: number;
  readonly seconds: number;
  /** Early stopping ended some phase before its epoch budget. */
  readonly stoppedEarly: boolean;
  /** All phases ran; false when maxSteps or shouldStop interrupted the run. */
  readonly finished: boolean;
  readonly phases: readonly PhaseResult[];
  /** The final parameters' test metrics, when the last phase had no early
   * stopping (so no best-validation snapshot was scored): Newmu's scripts
   * report the last epoch's test accuracy. */
  readonly finalTest?: Readonly<Record<string, number>> | null;
  /** The training cost of this invocation's first step and of its last
   * (null when it ran no step): a smoke test's "does it learn". */
  readonly trainCost: { readonly first: CostAt; readonly last: CostAt } | null;
}

/** Trains `model` on `splits`, keeping checkpoints, the metrics log and
 * images in `store`; with opts.resume, continues from the store's
 * checkpoint. Rejects with TrainingError (diverged, inconsistent
 * description) or CheckpointError (no checkpoint, or one of another spec). */
export async function runTraining(model: CompiledModel, splits: Splits, store: RunStore, opts: TrainOptions = {}): Promise<TrainSummary> {
  const desc = model.desc;
  const log = opts.log ?? silentLogger;
  const now = opts.now ?? (() => Date.now());
  const checkpointer = new Checkpointer(model, store, now);
  const state = opts.resume ? await checkpointer.restore(log, splits.train.n) : await checkpointer.start(splits.train.n);
  // Seconds before this (re)start; state.elapsed itself moves on at every
  // checkpoint.
  const before = state.elapsed;
  const started = now();
  const everyMs = (opts.checkpointEveryMinutes ?? DEFAULT_CHECKPOINT_MINUTES) * 60_000;
  if (!(everyMs >= 0)) throw new TrainingError(`checkpointEveryMinutes must be a number ≥ 0, found ${opts.checkpointEveryMinutes}`);
  checkpointer.lastSaved = started;
  const run: TrainingRun = {
    model,
    splits,
    store,
    log,
    state,
    checkpointer,
    evaluator: new Evaluator(model),
    images: new ImageSnapshots(model, store, log, opts.encodeImage),
    costs: { first: null, last: null },
    now,
    elapsed: () => before + (now() - started) / 1000,
    epochsOf: (phase) => Math.min(phase.epochs, opts.phaseEpochs?.[phase.name] ?? opts.maxEpochs ?? Infinity),
    checkpointDue: () => everyMs > 0 && now() - checkpointer.lastSaved >= everyMs,
    shouldStop: () => (opts.maxSteps !== undefined && state.globalStep >= opts.maxSteps) || (opts.shouldStop?.() ?? false),
  };
  checkPhaseNames(desc, opts.phaseEpochs);
  if (state.done) return summarize(run, true);

  while (state.phase < desc.phases.length) {
    if (!(await runPhase(run))) {
      log.close();
      return summarize(run, false);
    }
  }
  await run.images.write("end", desc.phases[desc.phases.length - 1]?.name ?? "", 0);
  state.done = true;
  await checkpointer.save(state, null, run.elapsed());
  const finalTest = await testFinalParameters(run);
  log.close();
  return { ...summarize(run, true), finalTest };
}

/** `phaseEpochs` may only cap phases the model has (a typo would silently
 * cap nothing). */
function checkPhaseNames(desc: ModelDescription, phaseEpochs: Readonly<Record<string, number>> | undefined): void {
  for (const name of Object.keys(phaseEpochs ?? {})) {
    if (!desc.phases.some((p) => p.name === name)) {
      throw new TrainingError(`--epochs names phase "${name}"; the model's phases are [${desc.phases.map((p) => p.name).join(", ")}]`);
    }
  }
}

/** The summary of a run at a checkpoint (every return follows one, so
 * `st.earlyStopping` is the state of the phase in progress, if any). */
function summarize(run: TrainingRun, finished: boolean): TrainSummary {
  const { state: st, costs } = run;
  const desc = run.model.desc;
  const withBest = [...st.results].reverse().find((r) => r.bestValid !== null);
  const current = st.earlyStopping;
  // Epochs of the interrupted phase, counting a started epoch.
  const partial = !st.done && st.phase < desc.phases.length ? st.epoch + (st.batch > 0 ? 1 : 0) : 0;
  const inPhase = current && Number.isFinite(current.bestValid);
  const phaseOf = inPhase ? desc.phases[st.phase] : desc.phases.find((p) => p.name === withBest?.phase);
  const monitor = phaseOf?.monitor ?? null;
  return {
    bestValid: inPhase ? monitorLoss(desc, monitor ?? "", current.bestValid) : (withBest?.bestValid ?? null),
    monitor,
    testAtBest: current && Number.isFinite(current.bestValid) ? current.testAtBest : (withBest?.testAtBest ?? null),
    epochs: st.results.reduce((a, r) => a + r.epochs, 0) + partial,
    steps: st.globalStep,
    seconds: run.elapsed(),
    stoppedEarly: st.results.some((r) => r.stoppedEarly),
    finished,
    phases: st.results,
    trainCost: costs.first && costs.last ? { first: costs.first, last: costs.last } : null,
  };
}
