// The JSON Schema of a checkpoint's trainer state (the "dlt.state" metadata,
// runtime/checkpoint/state.ts), compiled once with ajv, and the bounds that
// depend on the model (phase < phases, epoch ≤ the phase's epochs, batch <
// minibatches per epoch, one result per finished phase). A checkpoint is
// read back from disk, where anything may have happened to it: every field
// is checked before the trainer trusts it, and a problem is one line naming
// the file and the field (E044), never a TypeError deep in the trainer.
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import type { ModelDescription } from "../compiled-model.ts";

const MAX = Number.MAX_VALUE;
/** JSON.parse reads 1e999 as Infinity: numbers must also be finite (ajv's
 * "number" type already excludes them; the bounds say it explicitly). */
const finite = { type: "number", minimum: -MAX, maximum: MAX };
const finiteOrNull = { type: ["number", "null"], minimum: -MAX, maximum: MAX };
const count = { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER };

export const TRAINER_STATE_SCHEMA = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  title: "dlt trainer state (checkpoint metadata dlt.state)",
  type: "object",
  // Checkpoints of earlier runtimes also hold model, specHash, rngCounter.
  required: ["version", "phase", "epoch", "batch", "stepInPhase", "globalStep", "earlyStopping", "costSum", "costCount", "elapsed", "metricsLines", "results", "done"],
  properties: {
    version: { type: "integer" },
    phase: count,
    epoch: count,
    batch: count,
    stepInPhase: count,
    globalStep: count,
    earlyStopping: {
      type: ["object", "null"],
      required: ["patience", "bestValid", "bestIter", "testAtBest"],
      properties: {
        patience: { ...finite, minimum: 0 },
        // null: no validation yet (Infinity, which JSON cannot hold).
        bestValid: finiteOrNull,
        bestIter: { type: "integer", minimum: -1, maximum: Number.MAX_SAFE_INTEGER },
        testAtBest: finiteOrNull,
        done: { type: "boolean" },
      },
      additionalProperties: false,
    },
    costSum: finite,
    costCount: count,
    testMetrics: { type: ["object", "null"], additionalProperties: finite },
    elapsed: { ...finite, minimum: 0 },
    metricsLines: count,
    results: {
      type: "array",
      items: {
        type: "object",
        required: ["phase", "epochs", "steps", "bestValid", "testAtBest", "stoppedEarly"],
        properties: {
          phase: { type: "string" },
          epochs: count,
          steps: count,
          bestValid: finiteOrNull,
          testAtBest: finiteOrNull,
          stoppedEarly: { type: "boolean" },
        },
        additionalProperties: false,
      },
    },
    done: { type: "boolean" },
  },
} as const;

let validator: ValidateFunction | undefined;

function validate(): ValidateFunction {
  validator ??= new Ajv2020({ strict: true, allErrors: false, verbose: true, allowUnionTypes: true }).compile(TRAINER_STATE_SCHEMA);
  return validator;
}

/** "/results/0/phase" → "results[0].phase". */
function fieldName(pointer: string): string {
  let out = "";
  for (const raw of pointer.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    out += /^\d+$/.test(seg) ? `[${seg}]` : out === "" ? seg : `.${seg}`;
  }
  return out;
}

function shown(v: unknown): string {
  const s = v === undefined ? "nothing" : typeof v === "number" && !Number.isFinite(v) ? String(v) : JSON.stringify(v);
  return s.length > 40 ? `${s.slice(0, 37)}...` : s;
}

function describe(e: ErrorObject): string {
  const field = fieldName(e.instancePath);
  switch (e.keyword) {
    case "required": {
      const missing = (e.params as { missingProperty: string }).missingProperty;
      return `field "${field ? `${field}.` : ""}${missing}" is missing`;
    }
    case "additionalProperties": {
      const extra = (e.params as { additionalProperty: string }).additionalProperty;
      return `field "${field ? `${field}.` : ""}${extra}" is not a field of the trainer state`;
    }
    case "type":
      // ajv's numbers are finite: Infinity (JSON's 1e999) fails the type.
      if (typeof e.data === "number" && !Number.isFinite(e.data)) return `field "${field}" must be a finite number, found ${shown(e.data)}`;
      return `field "${field || "(top level)"}" must be ${String((e.params as { type: string | string[] }).type).replace(",", " or ")}, found ${shown(e.data)}`;
    case "minimum":
    case "maximum":
      return typeof e.data === "number" && !Number.isFinite(e.data)
        ? `field "${field}" must be a finite number, found ${shown(e.data)}`
        : `field "${field}" ${e.message ?? "is out of range"}, found ${shown(e.data)}`;
    default:
      return `field "${field}" ${e.message ?? "is invalid"}, found ${shown(e.data)}`;
  }
}

/** What is known about the run being resumed, beyond its description. */
export interface StateBounds {
  /** Minibatches per epoch of the training data at hand. */
  readonly batchesPerEpoch?: number;
}

/** The first problem of a parsed "dlt.state" value for this model (the
 * field and why), or null when it is a well-formed state the trainer can
 * continue from. */
export function trainerStateProblem(v: unknown, desc: ModelDescription, bounds: StateBounds = {}): string | null {
  const check = validate();
  if (!check(v)) return describe(check.errors![0]!);
  const o = v as { phase: number; epoch: number; batch: number; stepInPhase: number; globalStep: number; results: unknown[]; done: boolean };
  const phases = desc.phases;
  if (o.phase > phases.length) return `field "phase" is ${o.phase}, past the model's ${phases.length} phase${phases.length === 1 ? "" : "s"}`;
  if (o.results.length !== o.phase) {
    return `field "results" has ${o.results.length} entr${o.results.length === 1 ? "y" : "ies"}, but ${o.phase} phase${o.phase === 1 ? " is" : "s are"} finished (field "phase" is ${o.phase})`;
  }
  if (o.done && o.phase !== phases.length) return `field "done" is true, but phase ${o.phase} of ${phases.length} is not finished`;
  if (o.stepInPhase > o.globalStep) return `field "stepInPhase" is ${o.stepInPhase}, more than field "globalStep" (${o.globalStep})`;
  const phase = phases[o.phase];
  // After the last phase (a finished run) there is no phase to bound the
  // position by; the trainer reads none of it then.
  if (!phase) return null;
  if (o.epoch > phase.epochs) return `field "epoch" is ${o.epoch}, past phase "${phase.name}"'s ${phase.epochs} epoch${phase.epochs === 1 ? "" : "s"}`;
  if (o.epoch === phase.epochs && o.batch !== 0) return `field "batch" is ${o.batch} in epoch ${o.epoch}, after the last epoch of phase "${phase.name}"`;
  const nb = bounds.batchesPerEpoch;
  if (nb !== undefined && o.batch >= nb) return `field "batch" is ${o.batch}, but an epoch has ${nb} minibatches (0 to ${nb - 1})`;
  return null;
}
