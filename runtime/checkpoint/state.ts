// What a checkpoint holds and how it maps onto safetensors:
//   params/NAME  F32  trained parameters
//   state/NAME   F32  non-trained state (optimizer slots, chains)
//   best/NAME    F32  best-validation parameters (only once early stopping
//                     found a best)
//   __metadata__ "dlt.state": JSON of TrainerState, "dlt.spec_hash", "dlt.model"
// The best parameters live inside the checkpoint, not only in best.safetensors,
// so one atomic rename commits a consistent (position, params, best) triple:
// two files could be torn apart by a crash between their renames.
// best.safetensors is the exported best model (plain parameter names).
import { parseSeed } from "../compiled-model.ts";
import type { ModelDescription, ParamDesc } from "../compiled-model.ts";
import type { EarlyStoppingState } from "../train/early-stopping.ts";
import { recordShapes } from "../train/records.ts";
import { CheckpointError, decodeSafetensors, encodeSafetensors } from "./safetensors.ts";
import { trainerStateProblem } from "./state-schema.ts";
import type { StateBounds } from "./state-schema.ts";
import type { StTensor } from "./safetensors.ts";

export const STATE_KEY = "dlt.state";
export const STATE_VERSION = 1;
/** The run folder's full training checkpoint (parameters, state, best model,
 * trainer position): what `resume` continues from. */
export const CHECKPOINT_FILE = "checkpoint.safetensors";
/** The run folder's best-validation parameters (a parameters file), written
 * at every new best. */
export const BEST_FILE = "best.safetensors";

/** Result of a finished phase, kept for the summary. */
export interface PhaseResult {
  readonly phase: string;
  readonly epochs: number;
  readonly steps: number;
  readonly bestValid: number | null;
  readonly testAtBest: number | null;
  readonly stoppedEarly: boolean;
}

/** Everything besides tensors needed to continue a run at the exact next step. */
export interface TrainerState {
  version: number;
  /** Index into desc.phases of the phase in progress. */
  phase: number;
  /** 0-based epoch within the phase. */
  epoch: number;
  /** Next minibatch index within the epoch. */
  batch: number;
  /** Minibatches done in this phase (the tutorial's iter + 1). */
  stepInPhase: number;
  /** Steps done across all phases: the `step` passed to trainStep, which
   * random ops key off (so it is also where their streams resume). */
  globalStep: number;
  earlyStopping: EarlyStoppingState | null;
  /** Sum and count of training costs since the last metrics line. */
  costSum: number;
  costCount: number;
  /** Test metrics of the best model (for the metrics log). */
  testMetrics: Record<string, number> | null;
  /** Training seconds before this (re)start. */
  elapsed: number;
  /** Lines of metrics.jsonl written when the checkpoint was taken; a resumed
   * run truncates the log to this so lines are never duplicated. */
  metricsLines: number;
  results: PhaseResult[];
  done: boolean;
}

export interface CheckpointContents {
  readonly params: ReadonlyMap<string, Float32Array>;
  readonly state: ReadonlyMap<string, Float32Array>;
  readonly best: ReadonlyMap<string, Float32Array> | null;
  /** A sampling phase's recorded draws (empty for a model that records none). */
  readonly records: ReadonlyMap<string, Float32Array>;
  readonly trainer: TrainerState;
  /** Set when the checkpoint was written for another version of the spec. */
  readonly specChanged?: string;
  /** The seed of the run that wrote it ("dlt.seed"; absent in checkpoints
   * of earlier runtimes, which ran the spec's seed). */
  readonly seed?: number;
}

function f32(shape: readonly number[], data: Float32Array): StTensor {
  return { dtype: "F32", shape, data };
}

/** JSON has no Infinity: the "no best yet" loss is written as null. */
function stateToJson(s: TrainerState): string {
  return JSON.stringify(s, (_k, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? null : v));
}

export function encodeCheckpoint(
  desc: ModelDescription,
  params: Readonly<Record<string, Float32Array>>,
  state: Readonly<Record<string, Float32Array>>,
  best: Readonly<Record<string, Float32Array>> | null,
  trainer: TrainerState,
  records: Readonly<Record<string, Float32Array>> = {},
): Uint8Array {
  const tensors = new Map<string, StTensor>();
  for (const p of desc.params) tensors.set(`params/${p.name}`, f32(p.shape, params[p.name]));
  for (const s of desc.state) tensors.set(`state/${s.name}`, f32(s.shape, state[s.name]));
  if (best) for (const p of desc.params) tensors.set(`best/${p.name}`, f32(p.shape, best[p.name]));
  // A sampling phase's draws so far (runtime/train/records.ts).
  for (const r of recordShapes(desc)) tensors.set(`record/${r.name}`, f32(r.shape, records[r.name]));
  return encodeSafetensors(tensors, { [STATE_KEY]: stateToJson(trainer), "dlt.spec_hash": desc.specHash, "dlt.model": desc.name, "dlt.seed": String(desc.seed) });
}

/** The exported best model: parameters under their own names. */
export function encodeParams(desc: ModelDescription, params: Readonly<Record<string, Float32Array>>, info: Record<string, string>): Uint8Array {
  const tensors = new Map<string, StTensor>();
  for (const p of desc.params) tensors.set(p.name, f32(p.shape, params[p.name]));
  return encodeSafetensors(tensors, { ...info, "dlt.spec_hash": desc.specHash, "dlt.model": desc.name, "dlt.seed": String(desc.seed) });
}

/** A checkpoint written for another version of the spec resumes when every
 * tensor matches the model by name, dtype and shape (checked after this):
 * an edited comment, a rewritten expression or a new learning rate should
 * not cost a run. The trainer prints this line, because the continuation is
 * no longer the run the checkpoint started. A file without the key is not a
 * dlt file. */
function specChange(desc: ModelDescription, meta: Readonly<Record<string, string>>, file: string): string | undefined {
  const hash = meta["dlt.spec_hash"];
  if (hash === undefined) throw new CheckpointError(`${file}: no "dlt.spec_hash" metadata: not a dlt checkpoint`);
  if (hash === desc.specHash) return undefined;
  return `${file}: written for spec hash ${hash}, this model is ${desc.specHash}: the spec changed since; every parameter and state tensor matches by name and shape, so training continues from it with the new spec`;
}

function takeGroup(
  tensors: ReadonlyMap<string, StTensor>,
  prefix: string,
  descs: readonly ParamDesc[],
  file: string,
  used: Set<string>,
): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const d of descs) {
    const key = prefix + d.name;
    const t = tensors.get(key);
    if (!t) throw new CheckpointError(`${file}: missing tensor "${key}" of the model`);
    if (t.dtype !== "F32") throw new CheckpointError(`${file}: tensor "${key}" has dtype ${t.dtype}, expected F32`);
    if (t.shape.length !== d.shape.length || t.shape.some((v, i) => v !== d.shape[i])) {
      throw new CheckpointError(`${file}: tensor "${key}" has shape [${t.shape.join(", ")}], the model expects [${d.shape.join(", ")}]`);
    }
    out.set(d.name, t.data as Float32Array);
    used.add(key);
  }
  return out;
}

/** Parses a checkpoint and checks it against the model: every tensor
 * present with the right dtype and shape, no unknown tensors, and a
 * well-formed trainer state within the model's bounds (state-schema.ts;
 * E044); a changed spec hash is reported, not refused. */
export function decodeCheckpoint(bytes: Uint8Array, file: string, desc: ModelDescription, bounds: StateBounds = {}): CheckpointContents {
  const st = decodeSafetensors(bytes, file);
  const specChanged = specChange(desc, st.metadata, file);
  const raw = st.metadata[STATE_KEY];
  if (raw === undefined) throw new CheckpointError(`${file}: no "${STATE_KEY}" metadata: not a dlt training checkpoint`);
  const trainer = parseTrainerState(raw, file, desc, bounds);
  const used = new Set<string>();
  const params = takeGroup(st.tensors, "params/", desc.params, file, used);
  const state = takeGroup(st.tensors, "state/", desc.state, file, used);
  const hasBest = desc.params.some((p) => st.tensors.has(`best/${p.name}`));
  const best = hasBest ? takeGroup(st.tensors, "best/", desc.params, file, used) : null;
  const records = takeGroup(st.tensors, "record/", recordShapes(desc).map((r) => ({ ...r, dtype: "f32" as const, init: { kind: "zeros" as const } })), file, used);
  for (const name of st.tensors.keys()) {
    if (!used.has(name)) throw new CheckpointError(`${file}: unexpected tensor "${name}" (not in the model description)`);
  }
  const text = st.metadata["dlt.seed"];
  const seed = text === undefined ? undefined : parseSeed(text);
  if (text !== undefined && seed === undefined) throw new CheckpointError(`error[E044]: ${file}: "dlt.seed" is "${text}", not a seed`);
  return { params, state, best, records, trainer, ...(specChanged ? { specChanged } : {}), ...(seed !== undefined ? { seed } : {}) };
}

/** A saved file of this model as dlt-eval and dlt-export read it: a full
 * checkpoint (it carries the trainer's state: parameters, state tensors,
 * position) or a parameters file such as best.safetensors (parameters
 * only), told apart by its metadata, and checked against the model either
 * way. */
export function decodeSaved(bytes: Uint8Array, file: string, desc: ModelDescription): { params: ReadonlyMap<string, Float32Array>; state: ReadonlyMap<string, Float32Array> | null; trainer: TrainerState | null; specChanged?: string } {
  if (decodeSafetensors(bytes, file).metadata[STATE_KEY] === undefined) return { params: decodeParams(bytes, file, desc), state: null, trainer: null };
  const c = decodeCheckpoint(bytes, file, desc);
  return { params: c.params, state: c.state, trainer: c.trainer, ...(c.specChanged ? { specChanged: c.specChanged } : {}) };
}

/** Parses a parameters file (best.safetensors) for this model. */
export function decodeParams(bytes: Uint8Array, file: string, desc: ModelDescription): Map<string, Float32Array> {
  const st = decodeSafetensors(bytes, file);
  specChange(desc, st.metadata, file);
  return takeGroup(st.tensors, "", desc.params, file, new Set());
}

function parseTrainerState(raw: string, file: string, desc: ModelDescription, bounds: StateBounds): TrainerState {
  const bad = (what: string): never => {
    throw new CheckpointError(`error[E044]: ${file}: "${STATE_KEY}" ${what}`);
  };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch (e) {
    return bad(`is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return bad("is not an object");
  const o = v as Record<string, unknown>;
  if (o.version !== STATE_VERSION) bad(`has version ${shownVersion(o.version)}, this runtime reads version ${STATE_VERSION}`);
  const problem = trainerStateProblem(v, desc, bounds);
  if (problem !== null) bad(problem);
  const s = v as TrainerState & { earlyStopping: (Omit<EarlyStoppingState, "bestValid" | "done"> & { bestValid: number | null; done?: boolean }) | null };
  const e = s.earlyStopping;
  return {
    version: STATE_VERSION,
    // Checkpoints of earlier runtimes also hold "model" and "specHash"
    // (copies of the dlt.model and dlt.spec_hash metadata, which checkHash
    // reads), and "rngCounter" (always equal to globalStep): ignored.
    phase: s.phase,
    epoch: s.epoch,
    batch: s.batch,
    stepInPhase: s.stepInPhase,
    globalStep: s.globalStep,
    earlyStopping: e === null ? null : {
      patience: e.patience,
      // null stands for Infinity (no validation yet), see stateToJson.
      bestValid: e.bestValid === null ? Infinity : e.bestValid,
      bestIter: e.bestIter,
      testAtBest: e.testAtBest,
      done: e.done === true,
    },
    costSum: s.costSum,
    costCount: s.costCount,
    testMetrics: s.testMetrics ?? null,
    elapsed: s.elapsed,
    metricsLines: s.metricsLines,
    results: s.results,
    done: s.done,
  };
}

function shownVersion(v: unknown): string {
  const t = JSON.stringify(v) ?? "nothing";
  return t.length > 20 ? `${t.slice(0, 17)}...` : t;
}
