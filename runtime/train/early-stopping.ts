// The Deep Learning Tutorial's early stopping (logistic_sgd.py, mlp.py),
// as pure logic so it can be unit-tested and its state checkpointed:
//
//   validation_frequency = min(n_train_batches, patience // 2)
//   for each minibatch, iter = (epoch - 1) * n_train_batches + minibatch_index:
//     train
//     if (iter + 1) % validation_frequency == 0:
//       this = mean validation loss
//       if this < best:
//         if this < best * improvement_threshold:
//           patience = max(patience, iter * patience_increase)
//         best = this; best_iter = iter; test_score = test loss
//     if patience <= iter: stop
//
// `iter` is the 0-based minibatch counter within the phase. A spec's
// `patience_epochs: N` (instead of `patience:`) starts patience at
// N × n_train_batches (patienceIterations). The trainer owns
// the side effects (snapshotting parameters, computing the test score); this
// class only decides.
import type { EarlyStoppingDesc } from "../compiled-model.ts";

export interface EarlyStoppingState {
  /** Current patience in minibatch iterations (grows on significant gains). */
  patience: number;
  /** Best validation loss so far; Infinity before the first validation. */
  bestValid: number;
  /** iter of the best validation, -1 before the first. */
  bestIter: number;
  /** Test score of the best model, null until one was computed. */
  testAtBest: number | null;
  /** Set once patience <= iter: the phase stops. */
  done: boolean;
}

/** The initial patience in minibatch iterations: `patience` as given, or
 * `patienceEpochs` × the phase's minibatches per epoch. */
export function patienceIterations(desc: EarlyStoppingDesc, nTrainBatches: number): number {
  return desc.patienceEpochs !== undefined ? desc.patienceEpochs * nTrainBatches : (desc.patience ?? 0);
}

export function initialEarlyStopping(desc: EarlyStoppingDesc, nTrainBatches: number): EarlyStoppingState {
  return { patience: patienceIterations(desc, nTrainBatches), bestValid: Infinity, bestIter: -1, testAtBest: null, done: false };
}

/** How often (in minibatches) to validate. The tutorial's default is
 * min(n_train_batches, patience // 2); it is clamped to at least 1 so a
 * patience of 1 does not divide by zero. Without early stopping the trainer
 * validates once per epoch. */
export function validationFrequency(desc: EarlyStoppingDesc | null, nTrainBatches: number): number {
  if (desc === null) return nTrainBatches;
  const f = desc.validationFrequency ?? Math.min(nTrainBatches, Math.floor(patienceIterations(desc, nTrainBatches) / 2));
  return Math.max(1, f);
}

export interface ValidationOutcome {
  /** A new best: the caller snapshots parameters and computes the test score. */
  readonly improved: boolean;
  /** The gain passed improvement_threshold, so patience was extended. */
  readonly significant: boolean;
}

export class EarlyStopping {
  readonly frequency: number;
  private readonly s: EarlyStoppingState;

  constructor(
    private readonly desc: EarlyStoppingDesc,
    nTrainBatches: number,
    state?: EarlyStoppingState,
  ) {
    this.frequency = validationFrequency(desc, nTrainBatches);
    // Copy: the caller's object (e.g. a restored checkpoint) stays untouched.
    this.s = { ...(state ?? initialEarlyStopping(desc, nTrainBatches)) };
  }

  get state(): Readonly<EarlyStoppingState> {
    return this.s;
  }

  get done(): boolean {
    return this.s.done;
  }

  /** Whether the minibatch with this iter is followed by a validation. */
  isValidationIter(iter: number): boolean {
    return (iter + 1) % this.frequency === 0;
  }

  /** Records a validation loss measured after minibatch `iter`. */
  observe(iter: number, loss: number): ValidationOutcome {
    if (!(loss < this.s.bestValid)) return { improved: false, significant: false };
    const significant = loss < this.s.bestValid * this.desc.improvementThreshold;
    if (significant) this.s.patience = Math.max(this.s.patience, iter * this.desc.patienceIncrease);
    this.s.bestValid = loss;
    this.s.bestIter = iter;
    return { improved: true, significant };
  }

  /** Ends the phase at the next minibatch check (the on_plateau schedule's
   * rate fell below its minimum). */
  stop(): void {
    this.s.done = true;
  }

  /** The test score of the model that just became best. */
  setTestScore(score: number): void {
    this.s.testAtBest = score;
  }

  /** The tutorial's `if patience <= iter: done_looping = True`, checked after
   * every minibatch (validated or not). Returns whether the phase stops. */
  afterMinibatch(iter: number): boolean {
    if (this.s.patience <= iter) this.s.done = true;
    return this.s.done;
  }
}

/** Runs the algorithm over a whole sequence of validation losses, one per
 * validation point, returning the final state and the iter it stopped at
 * (null if it never stopped within `maxIters`). For tests and docs. */
export function traceEarlyStopping(
  desc: EarlyStoppingDesc,
  nTrainBatches: number,
  losses: readonly number[],
  maxIters: number,
): { readonly state: EarlyStoppingState; readonly stoppedAt: number | null; readonly validatedAt: number[] } {
  const es = new EarlyStopping(desc, nTrainBatches);
  const validatedAt: number[] = [];
  let next = 0;
  for (let iter = 0; iter < maxIters; iter++) {
    if (es.isValidationIter(iter) && next < losses.length) {
      validatedAt.push(iter);
      if (es.observe(iter, losses[next++]).improved) es.setTestScore(losses[next - 1]);
    }
    if (es.afterMinibatch(iter)) return { state: { ...es.state }, stoppedAt: iter, validatedAt };
  }
  return { state: { ...es.state }, stoppedAt: null, validatedAt };
}
