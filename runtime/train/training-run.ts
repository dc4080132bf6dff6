// What the parts of one training run share: the model and its data, where
// results go, the position that checkpoints save, and the caller's limits.
// runTraining (trainer.ts) builds it; the phase loop and validation read it
// and advance `state`.
import type { CompiledModel, PhaseDesc } from "../compiled-model.ts";
import type { TrainerState } from "../checkpoint/state.ts";
import type { Splits } from "../data/dataset.ts";
import type { ImageSnapshots } from "../image/snapshots.ts";
import type { Logger } from "../progress.ts";
import type { Checkpointer } from "./checkpointer.ts";
import type { Evaluator } from "./model-ops.ts";
import type { RunStore } from "./run-store.ts";

/** A training cost and the global step (1-based: steps done) after which it
 * was measured. */
export interface CostAt {
  readonly phase: string;
  readonly step: number;
  readonly cost: number;
}

export interface TrainingRun {
  readonly model: CompiledModel;
  readonly splits: Splits;
  readonly store: RunStore;
  readonly log: Logger;
  /** Where the run is: mutated in place as it advances, saved by every
   * checkpoint (with the tensors), restored by a resume. */
  readonly state: TrainerState;
  readonly checkpointer: Checkpointer;
  /** Means of the model's metrics over a split. */
  readonly evaluator: Evaluator;
  readonly images: ImageSnapshots;
  /** The first and the latest training cost of this invocation (not saved
   * in checkpoints: a resumed run starts a new trace). */
  readonly costs: { first: CostAt | null; last: CostAt | null };
  /** Millisecond clock (injectable for tests). */
  readonly now: () => number;
  /** Seconds spent training, including those before a resume. */
  elapsed(): number;
  /** The epochs a phase runs: its own count under the caller's caps. */
  epochsOf(phase: PhaseDesc): number;
  /** Whether a time-based checkpoint is due (taken between steps). */
  checkpointDue(): boolean;
  /** Whether to stop, with a checkpoint, before the next step (a step
   * budget reached, or Ctrl-C). */
  shouldStop(): boolean;
}
