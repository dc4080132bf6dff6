// A checkpoint's trainer state is checked against its schema and the model
// before the trainer trusts it (E044): one line naming the file and the
// field, never a TypeError, and no position past the model's phases,
// epochs or minibatches.
import { describe, expect, it } from "vitest";
import type { ModelDescription } from "../runtime/compiled-model.ts";
import { CheckpointError, decodeSafetensors, encodeSafetensors } from "../runtime/checkpoint/safetensors.ts";
import { decodeCheckpoint, encodeCheckpoint, STATE_KEY, STATE_VERSION } from "../runtime/checkpoint/state.ts";
import type { TrainerState } from "../runtime/checkpoint/state.ts";

const es = { patience: 40, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: null };
const desc: ModelDescription = {
  name: "tiny",
  specHash: "0123456789abcdef",
  seed: 1,
  params: [{ name: "W", shape: [2], dtype: "f32", init: { kind: "zeros" } }],
  state: [],
  inputs: [],
  data: { dataset: "synthetic", batchSize: 10, splits: { train: [0, 100], valid: [0, 10], test: [0, 10] }, testSource: "train", scale: 1 },
  phases: [
    { name: "pretrain", epochs: 2, step: 0, shuffle: true, earlyStopping: null, monitor: null },
    { name: "finetune", epochs: 3, step: 1, shuffle: true, earlyStopping: es, monitor: "error" },
  ],
  metrics: ["error"],
  evalBatchSize: 10,
};
const params = { W: Float32Array.from([1, 2]) };
const good: TrainerState = {
  version: STATE_VERSION, phase: 1, epoch: 1, batch: 4, stepInPhase: 14, globalStep: 34,
  earlyStopping: { patience: 40, bestValid: 0.25, bestIter: 9, testAtBest: 0.3, done: false },
  costSum: 1.5, costCount: 4, testMetrics: { error: 0.3 }, elapsed: 2.5, metricsLines: 3,
  results: [{ phase: "pretrain", epochs: 2, steps: 20, bestValid: null, testAtBest: null, stoppedEarly: false }],
  done: false,
};

/** A checkpoint whose "dlt.state" is `raw` (the tensors are fine). */
function withState(raw: string): Uint8Array {
  const st = decodeSafetensors(encodeCheckpoint(desc, params, {}, null, good), "ck");
  return encodeSafetensors(st.tensors, { ...st.metadata, [STATE_KEY]: raw });
}

function edited(edit: (s: Record<string, unknown>) => void): Uint8Array {
  const s = JSON.parse(JSON.stringify(good)) as Record<string, unknown>;
  edit(s);
  return withState(JSON.stringify(s));
}

function refusal(bytes: Uint8Array, bounds = { batchesPerEpoch: 10 }): string {
  try {
    decodeCheckpoint(bytes, "runs/tiny/checkpoint.safetensors", desc, bounds);
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return (e as Error).message;
  }
  throw new Error("accepted");
}

describe("the trainer state of a checkpoint", () => {
  it("a state the trainer wrote is accepted as it was", () => {
    expect(decodeCheckpoint(withState(JSON.stringify(good)), "ck", desc, { batchesPerEpoch: 10 }).trainer).toEqual(good);
    // No validation yet: bestValid Infinity is written as null and read back.
    const fresh = { ...good, earlyStopping: { ...good.earlyStopping!, bestValid: Infinity, bestIter: -1, testAtBest: null } };
    expect(decodeCheckpoint(encodeCheckpoint(desc, params, {}, null, fresh), "ck", desc).trainer).toEqual(fresh);
    // A finished run: phase past the last, every result present.
    const done = { ...good, phase: 2, epoch: 0, batch: 0, stepInPhase: 0, earlyStopping: null, done: true, results: [good.results[0]!, { ...good.results[0]!, phase: "finetune" }] };
    expect(decodeCheckpoint(encodeCheckpoint(desc, params, {}, null, done), "ck", desc).trainer).toEqual(done);
  });

  it.each<[string, (s: Record<string, unknown>) => void, RegExp]>([
    ["results [null, 5]", (s) => (s.results = [null, 5]), /field "results\[0\]" must be object, found null$/],
    ["a result without its phase", (s) => delete (s.results as Record<string, unknown>[])[0]!.phase, /field "results\[0\]\.phase" is missing$/],
    ["too many results", (s) => (s.results = [good.results[0], good.results[0]]), /field "results" has 2 entries, but 1 phase is finished \(field "phase" is 1\)$/],
    ["epoch 1e9", (s) => (s.epoch = 1e9), /field "epoch" is 1000000000, past phase "finetune"'s 3 epochs$/],
    ["epoch a string", (s) => (s.epoch = "1"), /field "epoch" must be integer, found "1"$/],
    ["epoch fractional", (s) => (s.epoch = 1.5), /field "epoch" must be integer, found 1\.5$/],
    ["batch past the epoch", (s) => (s.batch = 10), /field "batch" is 10, but an epoch has 10 minibatches \(0 to 9\)$/],
    ["a batch after the last epoch", (s) => ((s.epoch = 3), (s.batch = 1)), /field "batch" is 1 in epoch 3, after the last epoch of phase "finetune"$/],
    ["phase past the model", (s) => ((s.phase = 5), (s.results = [])), /field "phase" is 5, past the model's 2 phases$/],
    ["negative globalStep", (s) => (s.globalStep = -1), /field "globalStep" must be >= 0, found -1$/],
    ["stepInPhase past globalStep", (s) => (s.stepInPhase = 40), /field "stepInPhase" is 40, more than field "globalStep" \(34\)$/],
    ["costSum 1e999 (Infinity)", (s) => (s.costSum = "INF"), /field "costSum" must be a finite number, found Infinity$/],
    ["a missing field", (s) => delete s.metricsLines, /field "metricsLines" is missing$/],
    ["earlyStopping a number", (s) => (s.earlyStopping = 3), /field "earlyStopping" must be object or null, found 3$/],
    ["earlyStopping.bestIter null", (s) => ((s.earlyStopping as Record<string, unknown>).bestIter = null), /field "earlyStopping\.bestIter" must be integer, found null$/],
    ["testMetrics not numbers", (s) => (s.testMetrics = { error: "low" }), /field "testMetrics\.error" must be number, found "low"$/],
    ["done on an unfinished run", (s) => (s.done = true), /field "done" is true, but phase 1 of 2 is not finished$/],
    ["done a string", (s) => (s.done = "yes"), /field "done" must be boolean, found "yes"$/],
  ])("%s is refused naming the file and the field (E044)", (_what, edit, re) => {
    const bytes = edited(edit);
    // JSON cannot write Infinity; 1e999 parses as it.
    const msg = _what.startsWith("costSum") ? refusal(withState(JSON.stringify({ ...good, costSum: 0 }).replace('"costSum":0', '"costSum":1e999'))) : refusal(bytes);
    expect(msg).toMatch(/^error\[E044\]: runs\/tiny\/checkpoint\.safetensors: "dlt\.state" field "/);
    expect(msg).toMatch(re);
    expect(msg).not.toContain("\n");
  });

  it("not an object, not JSON, another version: E044 too", () => {
    expect(refusal(withState("[1]"))).toBe('error[E044]: runs/tiny/checkpoint.safetensors: "dlt.state" is not an object');
    expect(refusal(withState("{"))).toMatch(/^error\[E044\]: runs\/tiny\/checkpoint\.safetensors: "dlt\.state" is not valid JSON: /);
    expect(refusal(edited((s) => (s.version = 2)))).toBe('error[E044]: runs/tiny/checkpoint.safetensors: "dlt.state" has version 2, this runtime reads version 1');
  });

  it("the minibatch bound applies only when the data is known", () => {
    const bytes = edited((s) => (s.batch = 12));
    expect(decodeCheckpoint(bytes, "ck", desc).trainer.batch).toBe(12);
    expect(refusal(bytes, { batchesPerEpoch: 12 })).toMatch(/field "batch" is 12, but an epoch has 12 minibatches/);
  });
});
