// A run's checkpoints: starting a run afresh or from the store's checkpoint,
// writing checkpoints, and the best-validation snapshot that rides in them.
//
// The snapshot is saved inside every checkpoint (runtime/checkpoint/state.ts)
// so one atomic write commits position, parameters and best together; the
// exported best.safetensors is only rewritten at a checkpoint after the best
// changed. A checkpoint is taken only between steps, after that step's
// validation, so a resumed run continues at exactly the next step.
import type { CompiledModel } from "../compiled-model.ts";
import { CheckpointError } from "../checkpoint/safetensors.ts";
import { BEST_FILE, CHECKPOINT_FILE, decodeCheckpoint, encodeCheckpoint, encodeParams, STATE_VERSION } from "../checkpoint/state.ts";
import type { TrainerState } from "../checkpoint/state.ts";
import type { Logger } from "../progress.ts";
import type { EarlyStopping } from "./early-stopping.ts";
import { allocParams, copyBuffers, initModel } from "./model-ops.ts";
import { allocRecords } from "./records.ts";
import { METRICS_FILE } from "./run-store.ts";
import type { RunStore } from "./run-store.ts";

/** The position of a run that has not taken a step. */
function freshState(): TrainerState {
  return {
    version: STATE_VERSION,
    phase: 0,
    epoch: 0,
    batch: 0,
    stepInPhase: 0,
    globalStep: 0,
    earlyStopping: null,
    costSum: 0,
    costCount: 0,
    testMetrics: null,
    elapsed: 0,
    metricsLines: 0,
    results: [],
    done: false,
  };
}

export class Checkpointer {
  /** Best-validation parameters of the current early-stopping phase (kept
   * through later phases without early stopping); null before the first
   * improvement. */
  best: Record<string, Float32Array> | null = null;
  /** best.safetensors is behind `best`. */
  private bestDirty = false;
  /** JSON describing the best snapshot, stored in best.safetensors. */
  private bestInfo = "{}";
  /** When (the run's millisecond clock) the last checkpoint was written. */
  lastSaved = 0;
  /** Global step of the checkpoint in the store (written or resumed from
   * by this process); null while there is none. */
  savedStep: number | null = null;
  /** A sampling phase's recorded draws (runtime/train/records.ts), saved
   * with every checkpoint. */
  readonly records: Record<string, Float32Array>;

  constructor(
    private readonly model: CompiledModel,
    private readonly store: RunStore,
    private readonly now: () => number = () => Date.now(),
  ) {
    this.records = allocRecords(model.desc);
  }

  /** Initialises the model's parameters and state for a new run and empties
   * the metrics log; returns the position of a run that has not started. */
  async start(trainExamples: number): Promise<TrainerState> {
    initModel(this.model, { trainExamples });
    this.model.upload?.();
    const st = freshState();
    await this.store.truncateLines(METRICS_FILE, 0);
    return st;
  }

  /** Loads the store's checkpoint into the model (and the best snapshot into
   * `best`), cuts the metrics log back to the lines the checkpoint had seen,
   * and returns the checkpoint's position (checked against the model and
   * the `trainExamples` of this run's data). */
  async restore(log: Logger, trainExamples: number): Promise<TrainerState> {
    const { model, store } = this;
    const desc = model.desc;
    const file = store.where(CHECKPOINT_FILE);
    const bytes = await store.read(CHECKPOINT_FILE);
    if (!bytes) throw new CheckpointError(`${file}: no checkpoint to resume from (train without --resume to start)`);
    const nb = Math.floor(trainExamples / desc.data.batchSize);
    const c = decodeCheckpoint(bytes, file, desc, nb > 0 ? { batchesPerEpoch: nb } : {});
    // A run continues with its own seed: another would change the draws
    // from here on, and the continuation would be no run's.
    const seed = c.seed ?? (desc.dataSeed ?? desc.seed);
    if (seed !== desc.seed) {
      const fix = seed === (desc.dataSeed ?? desc.seed) ? "resume without --seed" : `resume with --seed ${seed}`;
      throw new CheckpointError(`error[E061]: ${file} was written by a run with seed ${seed}, this run's seed is ${desc.seed}: ${fix}`);
    }
    if (c.specChanged) log.info(`warning: ${c.specChanged}`);
    copyBuffers(desc.params, c.params, model.params);
    copyBuffers(desc.state, c.state, model.state);
    if (c.best) copyBuffers(desc.params, c.best, (this.best = allocParams(desc)));
    for (const [name, v] of c.records) this.records[name]!.set(v);
    model.upload?.();
    const st = c.trainer;
    this.savedStep = st.globalStep;
    await store.truncateLines(METRICS_FILE, st.metricsLines);
    const where = st.done ? "a finished run" : `phase ${desc.phases[st.phase]?.name ?? "(end)"}, epoch ${st.epoch + 1}, minibatch ${st.batch + 1}`;
    log.info(`resuming ${desc.name} from ${file}: ${where}, global step ${st.globalStep}`);
    return st;
  }

  /** Copies the model's current parameters into the best snapshot. */
  async takeBest(): Promise<void> {
    const desc = this.model.desc;
    this.best ??= allocParams(desc);
    await this.model.download?.();
    copyBuffers(desc.params, this.model.params, this.best);
    this.bestDirty = true;
  }

  /** What best.safetensors says of the snapshot (phase, iter, scores). */
  describeBest(info: object): void {
    this.bestInfo = JSON.stringify(info);
  }

  /** Forgets the snapshot: an early-stopping phase that starts afresh picks
   * its best among its own parameters only. */
  dropBest(): void {
    this.best = null;
  }

  /** Puts the best snapshot's parameters into the model (a phase's end). */
  async restoreBest(): Promise<void> {
    const desc = this.model.desc;
    // Download first: upload() writes state too, which must be current.
    await this.model.download?.();
    copyBuffers(desc.params, this.best!, this.model.params);
    this.model.upload?.();
  }

  /** Writes the checkpoint of position `st` (with the early-stopping state of
   * the phase in progress, if it has one), then best.safetensors if the
   * best changed since the last checkpoint. */
  async save(st: TrainerState, es: EarlyStopping | null, elapsed: number): Promise<void> {
    const { model, store } = this;
    const desc = model.desc;
    if (es) st.earlyStopping = { ...es.state };
    st.elapsed = elapsed;
    await model.download?.();
    await store.writeAtomic(CHECKPOINT_FILE, encodeCheckpoint(desc, model.params, model.state, this.best, st, this.records));
    if (this.best && this.bestDirty) {
      await store.writeAtomic(BEST_FILE, encodeParams(desc, this.best, { "dlt.best": this.bestInfo }));
      this.bestDirty = false;
    }
    this.lastSaved = this.now();
    this.savedStep = st.globalStep;
  }
}
