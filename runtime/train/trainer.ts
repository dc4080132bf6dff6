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
// straight and N/2 + resume + N/2 produce identical bits.
//
// This module is storage-agnostic (a RunStore); runtime/node/run.ts binds
// it to a directory.
import type { CompiledModel, ImageWhen } from "../compiled-model.ts";
import type { Splits } from "../data/dataset.ts";
import { BatchIterator } from "../data/batcher.ts";
import { CheckpointError } from "../checkpoint/safetensors.ts";
import { BEST_FILE, CHECKPOINT_FILE, decodeCheckpoint, encodeCheckpoint, encodeParams, STATE_VERSION } from "../checkpoint/state.ts";
import type { PhaseResult, TrainerState } from "../checkpoint/state.ts";
import { silentLogger } from "../progress.ts";
import type { Logger, MetricsRecord } from "../progress.ts";
import { EarlyStopping, initialEarlyStopping, validationFrequency } from "./early-stopping.ts";
import { allocParams, copyBuffers, Evaluator, initModel } from "./model-ops.ts";
import { imageFileName, renderImage } from "../image/images.ts";

export const METRICS_FILE = "metrics.jsonl";

// Where a run keeps its files (checkpoints, best model, metrics log). The
// trainer only sees this interface so it runs unchanged in Node (files in
// outDir, runtime/node/run.ts) and in the browser (memory, IndexedDB, OPFS).
// Methods are async because browser storage is.

export interface RunStore {
  /** Human-readable location of a file, for messages (e.g. a path). */
  where(name: string): string;
  /** The file's bytes, or null when it does not exist. */
  read(name: string): Promise<Uint8Array | null>;
  /** Replaces the file all at once: a reader (or a crash) sees either the
   * old or the new contents, never a mix. */
  writeAtomic(name: string, bytes: Uint8Array): Promise<void>;
  /** Appends one line (a newline is added) to a text log. */
  appendLine(name: string, line: string): Promise<void>;
  /** Keeps only the first `lines` lines of a text log (creating it empty
   * when missing): a resumed run drops lines written after its checkpoint. */
  truncateLines(name: string, lines: number): Promise<void>;
}

/** In-memory store: tests and the browser's default. */
export class MemoryRunStore implements RunStore {
  readonly files = new Map<string, Uint8Array>();
  private readonly logs = new Map<string, string[]>();

  where(name: string): string {
    return `memory:${name}`;
  }

  async read(name: string): Promise<Uint8Array | null> {
    const log = this.logs.get(name);
    if (log) return new TextEncoder().encode(log.map((l) => l + "\n").join(""));
    const f = this.files.get(name);
    return f ? f.slice() : null;
  }

  async writeAtomic(name: string, bytes: Uint8Array): Promise<void> {
    this.files.set(name, bytes.slice());
  }

  async appendLine(name: string, line: string): Promise<void> {
    const log = this.logs.get(name) ?? [];
    log.push(line);
    this.logs.set(name, log);
  }

  async truncateLines(name: string, lines: number): Promise<void> {
    this.logs.set(name, (this.logs.get(name) ?? []).slice(0, lines));
  }

  /** Lines of a text log (for tests). */
  lines(name: string): readonly string[] {
    return this.logs.get(name) ?? [];
  }
}

/** Training cannot go on (diverged, inconsistent description). */
export class TrainingError extends Error {
  override readonly name = "TrainingError";
}

/** ", first non-finite value from exp %12 at specs/x.yaml:16:16 (...)", read
 * from the model's probe of the step that just ran. */
export function firstNonFinite(model: CompiledModel, stepFn: number): string {
  const probes = model.probe?.(stepFn) ?? [];
  if (probes.length === 0) {
    // GPU buffers are not host-visible (and are reused within a step); the
    // CPU backend resumes the same checkpoint and names the op.
    return "; to find the op that produced it, resume from the last checkpoint with --backend cpu (same checkpoint format)";
  }
  for (const [what, values] of probes) {
    for (let i = 0; i < values.length; i++) {
      if (!Number.isFinite(values[i]!)) return `; the first non-finite value (${values[i]}) came from ${what}`;
    }
  }
  return "";
}

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
  /** Encodes the grayscale images of `desc.images` (e.g. as PNG:
   * runtime/image/png.ts in Node). Without it those images are skipped. */
  readonly encodeImage?: (pixels: Uint8Array, width: number, height: number) => Uint8Array;
}

export interface TrainSummary {
  /** Best validation value of the monitored metric (last phase that had one). */
  readonly bestValid: number | null;
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
}

function freshState(model: CompiledModel): TrainerState {
  return {
    version: STATE_VERSION,
    model: model.desc.name,
    specHash: model.desc.specHash,
    phase: 0,
    epoch: 0,
    batch: 0,
    stepInPhase: 0,
    globalStep: 0,
    rngCounter: 0,
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

export async function runTraining(model: CompiledModel, splits: Splits, store: RunStore, opts: TrainOptions = {}): Promise<TrainSummary> {
  const desc = model.desc;
  const log = opts.log ?? silentLogger;
  const now = opts.now ?? (() => Date.now());
  let st: TrainerState;
  let best: Record<string, Float32Array> | null = null;
  if (opts.resume) {
    const file = store.where(CHECKPOINT_FILE);
    const bytes = await store.read(CHECKPOINT_FILE);
    if (!bytes) throw new CheckpointError(`${file}: no checkpoint to resume from (train without --resume to start)`);
    const c = decodeCheckpoint(bytes, file, desc);
    copyBuffers(desc.params, c.params, model.params);
    copyBuffers(desc.state, c.state, model.state);
    if (c.best) copyBuffers(desc.params, c.best, (best = allocParams(desc)));
    model.upload?.();
    st = c.trainer;
    await store.truncateLines(METRICS_FILE, st.metricsLines);
    const where = st.done ? "a finished run" : `phase ${desc.phases[st.phase]?.name ?? "(end)"}, epoch ${st.epoch + 1}, minibatch ${st.batch + 1}`;
    log.info(`resuming ${desc.name} from ${file}: ${where}, global step ${st.globalStep}`);
  } else {
    initModel(model, { trainExamples: splits.train.n });
    model.upload?.();
    st = freshState(model);
    await store.truncateLines(METRICS_FILE, 0);
  }

  const baseElapsed = st.elapsed;
  const started = now();
  const elapsed = (): number => baseElapsed + (now() - started) / 1000;
  const evaluator = new Evaluator(model);
  let es: EarlyStopping | null = null;
  let bestDirty = false;
  /** JSON describing the best snapshot, stored in best.safetensors. */
  let bestInfo = "{}";

  const checkpoint = async (): Promise<void> => {
    if (es) st.earlyStopping = { ...es.state };
    st.elapsed = elapsed();
    st.rngCounter = st.globalStep;
    await model.download?.();
    await store.writeAtomic(CHECKPOINT_FILE, encodeCheckpoint(desc, model.params, model.state, best, st));
    if (best && bestDirty) {
      await store.writeAtomic(BEST_FILE, encodeParams(desc, best, { "dlt.best": bestInfo }));
      bestDirty = false;
    }
  };

  // The spec's images (filters), written atomically next to the checkpoint
  // and before the checkpoint that records the point they show, so a run
  // resumed after a crash writes them again.
  let imagesSkipped = false;
  const writeImages = async (when: ImageWhen, phaseName: string, epoch: number): Promise<void> => {
    const list = (desc.images ?? []).filter((i) => i.when === when);
    if (list.length === 0) return;
    if (!opts.encodeImage) {
      if (!imagesSkipped) log.info(`images: not written (no image encoder given to the trainer): ${list.map((i) => i.name).join(", ")}`);
      imagesSkipped = true;
      return;
    }
    await model.download?.();
    for (const img of list) {
      const file = imageFileName(img, desc.phases.length, phaseName, epoch);
      const tiled = (() => {
        try {
          return renderImage(desc, img, img.source === "param" ? model.params : model.state);
        } catch (e) {
          throw e instanceof RangeError ? new TrainingError(e.message) : e;
        }
      })();
      await store.writeAtomic(file, opts.encodeImage(tiled.pixels, tiled.width, tiled.height));
      log.info(`image ${img.name}: ${store.where(file)} (${img.tiles[0]}×${img.tiles[1]} tiles of ${img.imageShape[0]}×${img.imageShape[1]} from ${img.tensor}${img.transpose ? ".T" : ""})`);
    }
  };

  const summary = (finished: boolean): TrainSummary => {
    const withBest = [...st.results].reverse().find((r) => r.bestValid !== null);
    const current = es?.state;
    // Epochs of the interrupted phase, counting a started epoch.
    const partial = !st.done && st.phase < desc.phases.length ? st.epoch + (st.batch > 0 ? 1 : 0) : 0;
    return {
      bestValid: current && Number.isFinite(current.bestValid) ? current.bestValid : (withBest?.bestValid ?? null),
      testAtBest: current && Number.isFinite(current.bestValid) ? current.testAtBest : (withBest?.testAtBest ?? null),
      epochs: st.results.reduce((a, r) => a + r.epochs, 0) + partial,
      steps: st.globalStep,
      seconds: elapsed(),
      stoppedEarly: st.results.some((r) => r.stoppedEarly),
      finished,
      phases: st.results,
    };
  };

  for (const name of Object.keys(opts.phaseEpochs ?? {})) {
    if (!desc.phases.some((p) => p.name === name)) {
      throw new TrainingError(`--epochs names phase "${name}"; the model's phases are [${desc.phases.map((p) => p.name).join(", ")}]`);
    }
  }
  if (st.done) return summary(true);
  const stopNow = (): boolean => (opts.maxSteps !== undefined && st.globalStep >= opts.maxSteps) || (opts.shouldStop?.() ?? false);

  while (st.phase < desc.phases.length) {
    const phase = desc.phases[st.phase];
    const it = new BatchIterator(splits.train, desc.inputs, desc.data.batchSize, { shuffle: phase.shuffle, seed: desc.seed });
    const nb = it.numBatches;
    const epochs = Math.min(phase.epochs, opts.phaseEpochs?.[phase.name] ?? opts.maxEpochs ?? Infinity);
    const freq = validationFrequency(phase.earlyStopping, nb);
    const validating = evaluator.enabled && splits.valid.n > 0 && (phase.validate !== false || phase.earlyStopping !== null);
    const monitor = phase.monitor ?? (desc.metrics.includes("error") ? "error" : (desc.metrics[0] ?? null));
    if (phase.earlyStopping) {
      if (monitor === null || !desc.metrics.includes(monitor)) {
        throw new TrainingError(`phase "${phase.name}": early stopping monitors "${monitor}", the model's metrics are [${desc.metrics.join(", ")}]`);
      }
      if (!validating) throw new TrainingError(`phase "${phase.name}": early stopping needs a non-empty validation split`);
      // A phase starting afresh drops the previous phase's best snapshot.
      if (!st.earlyStopping) best = null;
      es = new EarlyStopping(phase.earlyStopping, nb, st.earlyStopping ?? initialEarlyStopping(phase.earlyStopping));
    }
    if (st.epoch === 0 && st.batch === 0) {
      log.info(`phase ${phase.name}: ${nb} minibatches of ${desc.data.batchSize} per epoch, up to ${epochs} epochs, ` +
        (validating ? `validation every ${freq} minibatches` : phase.validate === false ? "no validation (the metrics read inputs this phase does not use)" : "no validation"));
    }

    const validate = async (iter: number, b: number): Promise<void> => {
      const valid = validating ? await evaluator.evaluate(splits.valid, "valid split") : null;
      let improved = false;
      if (es && valid && monitor !== null) {
        if (es.observe(iter, valid[monitor]).improved) {
          improved = true;
          best ??= allocParams(desc);
          await model.download?.();
          copyBuffers(desc.params, model.params, best);
          bestDirty = true;
          st.testMetrics = splits.test.n > 0 ? await evaluator.evaluate(splits.test, "test split") : null;
          if (st.testMetrics) es.setTestScore(st.testMetrics[monitor]);
          bestInfo = JSON.stringify({ phase: phase.name, epoch: st.epoch + 1, iter, globalStep: st.globalStep, valid, test: st.testMetrics });
        }
      }
      const rec: MetricsRecord = {
        phase: phase.name,
        epoch: st.epoch + 1,
        minibatch: b + 1,
        minibatches: nb,
        iter,
        globalStep: st.globalStep,
        trainCost: st.costCount > 0 ? st.costSum / st.costCount : null,
        valid,
        best: improved,
        testAtBest: es ? st.testMetrics : null,
        elapsed: elapsed(),
      };
      st.costSum = 0;
      st.costCount = 0;
      await store.appendLine(METRICS_FILE, JSON.stringify(rec));
      st.metricsLines++;
      log.record(rec);
    };

    let lastYield = now();
    while (st.epoch < epochs && !(es?.done ?? false)) {
      it.setEpoch(st.epoch);
      while (st.batch < nb) {
        if (stopNow()) {
          await checkpoint();
          log.close();
          return summary(false);
        }
        // Let the event loop run now and then (a macrotask, not a microtask):
        // signal handlers — Ctrl-C's checkpoint-and-stop — only run there.
        if (now() - lastYield > 200) {
          await new Promise<void>((r) => setTimeout(r, 0));
          lastYield = now();
          if (stopNow()) continue;
        }
        const b = st.batch;
        const iter = st.epoch * nb + b;
        const ret = model.trainStep(phase.step, it.fill(b), st.globalStep);
        // A CPU model answers at once; only a GPU model's promise is awaited.
        const cost = typeof ret === "number" ? ret : await ret;
        if (!Number.isFinite(cost)) {
          throw new TrainingError(
            `training cost is ${cost} in phase "${phase.name}", epoch ${st.epoch + 1}, minibatch ${b + 1}/${nb} ` +
              `(global step ${st.globalStep})${firstNonFinite(model, phase.step)}: training diverged; try a lower learning rate. ` +
              `The last checkpoint (end of the previous epoch, if any) is ${store.where(CHECKPOINT_FILE)}.`,
          );
        }
        st.globalStep++;
        st.batch++;
        st.stepInPhase = iter + 1;
        st.costSum += cost;
        st.costCount++;
        log.batch({ phase: phase.name, epoch: st.epoch + 1, epochs, batch: b + 1, batches: nb, cost, batchSize: desc.data.batchSize });
        if ((iter + 1) % freq === 0) await validate(iter, b);
        if (es?.afterMinibatch(iter)) break;
      }
      if (es?.done) break;
      st.epoch++;
      st.batch = 0;
      await writeImages("epoch", phase.name, st.epoch);
      await checkpoint();
    }

    // Phase end: select the best-validation parameters, record the result.
    const esState = es?.state;
    const hasBest = esState !== undefined && esState.bestIter >= 0 && best !== null;
    if (hasBest) {
      // Download first: upload() writes state too, which must be current.
      await model.download?.();
      copyBuffers(desc.params, best!, model.params);
      model.upload?.();
    }
    const result: PhaseResult = {
      phase: phase.name,
      epochs: esState?.done ? st.epoch + 1 : st.epoch,
      steps: st.stepInPhase,
      bestValid: hasBest ? esState.bestValid : null,
      testAtBest: hasBest ? esState.testAtBest : null,
      stoppedEarly: esState?.done ?? false,
    };
    st.results.push(result);
    if (hasBest) {
      log.info(`phase ${phase.name} done: best validation ${monitor} ${esState.bestValid} at iter ${esState.bestIter}, ` +
        `test ${esState.testAtBest}${result.stoppedEarly ? " (stopped early)" : ""}`);
    }
    await writeImages("phase", phase.name, st.epoch);
    st.phase++;
    st.epoch = 0;
    st.batch = 0;
    st.stepInPhase = 0;
    st.earlyStopping = null;
    es = null;
    await checkpoint();
  }
  await writeImages("end", desc.phases[desc.phases.length - 1]?.name ?? "", 0);
  st.done = true;
  await checkpoint();
  // Without early stopping in the last phase, score the final parameters on
  // the test split (evaluation changes no training state).
  const last = st.results[st.results.length - 1];
  let finalTest: Record<string, number> | null = null;
  if (last && last.bestValid === null && desc.metrics.length > 0 && splits.test.n > 0) {
    finalTest = await evaluator.evaluate(splits.test, "test split");
    log.info(`final parameters on the test split: ${Object.entries(finalTest).map(([k, v]) => `${k} ${v}`).join(", ")}`);
  }
  log.close();
  return { ...summary(true), finalTest };
}
