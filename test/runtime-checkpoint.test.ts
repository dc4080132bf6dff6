// Checkpoints: the safetensors codec, atomic writes, and validation of a
// checkpoint against the model description.
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ModelDescription } from "../runtime/compiled-model.ts";
import { CheckpointError, decodeSafetensors, encodeSafetensors } from "../runtime/checkpoint/safetensors.ts";
import type { StTensor } from "../runtime/checkpoint/safetensors.ts";
import { decodeCheckpoint, decodeParams, encodeCheckpoint, encodeParams, STATE_KEY, STATE_VERSION } from "../runtime/checkpoint/state.ts";
import type { TrainerState } from "../runtime/checkpoint/state.ts";
import { writeFileAtomic } from "../runtime/node/atomic-write.ts";

function sample(): Map<string, StTensor> {
  return new Map<string, StTensor>([
    ["W", { dtype: "F32", shape: [2, 3], data: Float32Array.from([1.5, -2, 0, 3.25, Math.fround(0.1), -0]) }],
    ["steps", { dtype: "I32", shape: [2], data: Int32Array.from([7, -9]) }],
    ["s", { dtype: "F32", shape: [], data: Float32Array.from([42]) }],
  ]);
}

function header(bytes: Uint8Array): { length: number; json: Record<string, unknown> } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return { length, json: JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown> };
}

/** Rewrites the JSON header of a valid file (keeping it 8-aligned). */
function withHeader(bytes: Uint8Array, edit: (h: Record<string, unknown>) => void): Uint8Array {
  const { length, json } = header(bytes);
  edit(json);
  const text = new TextEncoder().encode(JSON.stringify(json));
  const padded = Math.ceil(text.length / 8) * 8;
  const out = new Uint8Array(8 + padded + bytes.length - 8 - length);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(text, 8);
  out.fill(0x20, 8 + text.length, 8 + padded);
  out.set(bytes.subarray(8 + length), 8 + padded);
  return out;
}

describe("safetensors", () => {
  it("round-trips F32/I32 tensors and metadata in the standard layout", () => {
    const bytes = encodeSafetensors(sample(), { "dlt.state": '{"a":1}', note: "x" });
    const { length, json } = header(bytes);
    expect(length % 8).toBe(0);
    expect(json.__metadata__).toEqual({ "dlt.state": '{"a":1}', note: "x" });
    expect(json.W).toEqual({ dtype: "F32", shape: [2, 3], data_offsets: [0, 24] });
    expect(json.steps).toEqual({ dtype: "I32", shape: [2], data_offsets: [24, 32] });
    expect(bytes.length).toBe(8 + length + 36);
    // Raw little-endian data right after the header.
    expect(new DataView(bytes.buffer).getFloat32(8 + length, true)).toBe(1.5);
    const back = decodeSafetensors(bytes, "t.safetensors");
    expect(back.metadata).toEqual({ "dlt.state": '{"a":1}', note: "x" });
    for (const [name, t] of sample()) {
      const r = back.tensors.get(name)!;
      expect(r.dtype).toBe(t.dtype);
      expect(r.shape).toEqual(t.shape);
      expect(Buffer.from(r.data.buffer, r.data.byteOffset, r.data.byteLength)).toEqual(Buffer.from(t.data.buffer));
    }
  });

  it("decodes from a Node Buffer that is a view into a larger pool", () => {
    const bytes = encodeSafetensors(sample(), {});
    const buf = Buffer.from(bytes); // small Buffers live at an offset in a shared pool
    const w = decodeSafetensors(buf, "b").tensors.get("W")!;
    expect(Array.from(w.data)).toEqual(Array.from(sample().get("W")!.data));
    expect(w.data.byteLength).toBe(24);
  });

  it("rejects torn and malformed files with the file name", () => {
    const good = encodeSafetensors(sample(), {});
    const cases: Array<[Uint8Array, RegExp]> = [
      [good.subarray(0, 5), /only 5 bytes/],
      [good.subarray(0, 40), /header length \d+ exceeds the file/],
      [good.subarray(0, good.length - 4), /past the data .*truncated/],
      [Uint8Array.from([...good, 0, 0, 0, 0]), /4 bytes of data after the last tensor/],
      [withHeader(good, (h) => ((h.W as Record<string, unknown>).dtype = "F16")), /tensor "W": expected dtype F32 or I32, found "F16"/],
      [withHeader(good, (h) => ((h.W as Record<string, unknown>).shape = [3, 3])), /tensor "W": shape \[3, 3\] needs 36 bytes/],
      [withHeader(good, (h) => ((h.steps as Record<string, unknown>).data_offsets = [20, 28])), /overlap/],
      [withHeader(good, (h) => (h.__metadata__ = { n: 1 })), /__metadata__\.n must be a string/],
    ];
    for (const [bytes, msg] of cases) {
      let err: unknown;
      try {
        decodeSafetensors(bytes, "run/checkpoint.safetensors");
      } catch (e) {
        err = e;
      }
      expect(err, String(msg)).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(/^run\/checkpoint\.safetensors: /);
      expect((err as Error).message).toMatch(msg);
    }
    const notJson = Uint8Array.from(good);
    notJson[8] = 0x7b + 1;
    expect(() => decodeSafetensors(notJson, "f")).toThrow(/header is not valid JSON/);
  });
});

describe("atomic writes", () => {
  it("replaces the file and leaves no temporary file", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlt-ckpt-"));
    const file = join(dir, "checkpoint.safetensors");
    writeFileAtomic(file, Uint8Array.from([1, 2, 3]));
    writeFileAtomic(file, Uint8Array.from([4, 5]));
    expect(Array.from(readFileSync(file))).toEqual([4, 5]);
    expect(readdirSync(dir)).toEqual(["checkpoint.safetensors"]);
  });

  it("keeps the old file intact when the writer fails midway", () => {
    const dir = mkdtempSync(join(tmpdir(), "dlt-ckpt-"));
    const file = join(dir, "checkpoint.safetensors");
    writeFileSync(file, "old contents");
    const big = new Uint8Array(1000).fill(7);
    expect(() =>
      writeFileAtomic(file, big, {
        chunkSize: 100,
        onChunk: (n) => {
          if (n >= 500) throw new Error("simulated crash");
        },
      }),
    ).toThrow("simulated crash");
    expect(readFileSync(file, "utf8")).toBe("old contents");
    expect(readdirSync(dir)).toEqual(["checkpoint.safetensors"]);
  });
});

describe("checkpoint contents", () => {
  const desc: ModelDescription = {
    name: "tiny",
    specHash: "0123456789abcdef",
    seed: 1,
    params: [
      { name: "W", shape: [2, 2], dtype: "f32", init: { kind: "zeros" } },
      { name: "b", shape: [2], dtype: "f32", init: { kind: "zeros" } },
    ],
    state: [{ name: "v", shape: [2], dtype: "f32", init: { kind: "zeros" } }],
    inputs: [],
    data: { dataset: "synthetic", batchSize: 1, splits: { train: [0, 1], valid: [0, 1], test: [0, 1] }, testSource: "train", scale: 1 },
    phases: [],
    metrics: [],
    evalBatchSize: 1,
  };
  const params = { W: Float32Array.from([1, 2, 3, 4]), b: Float32Array.from([5, 6]) };
  const state = { v: Float32Array.from([7, 8]) };
  const trainer: TrainerState = {
    version: STATE_VERSION, phase: 0, epoch: 2, batch: 3, stepInPhase: 9, globalStep: 9,
    earlyStopping: { patience: 10, bestValid: Infinity, bestIter: -1, testAtBest: null, done: false },
    costSum: 1.25, costCount: 2, testMetrics: null, elapsed: 1.5, metricsLines: 1, results: [], done: false,
  };

  it("round-trips params, state, best and trainer state (Infinity included)", () => {
    const best = { W: Float32Array.from([9, 9, 9, 9]), b: Float32Array.from([8, 8]) };
    const c = decodeCheckpoint(encodeCheckpoint(desc, params, state, best, trainer), "ck", desc);
    expect(c.trainer).toEqual(trainer);
    expect(Array.from(c.params.get("W")!)).toEqual([1, 2, 3, 4]);
    expect(Array.from(c.state.get("v")!)).toEqual([7, 8]);
    expect(Array.from(c.best!.get("b")!)).toEqual([8, 8]);
    expect(decodeCheckpoint(encodeCheckpoint(desc, params, state, null, trainer), "ck", desc).best).toBeNull();
    expect(Array.from(decodeParams(encodeParams(desc, best, {}), "best", desc).get("W")!)).toEqual([9, 9, 9, 9]);
  });

  it("reads checkpoints of earlier runtimes, whose state also held model, specHash and rngCounter", () => {
    const earlier = { ...trainer, model: "tiny", specHash: desc.specHash, rngCounter: 9 };
    const old = encodeCheckpoint(desc, params, state, null, earlier as TrainerState);
    expect(JSON.parse(decodeSafetensors(old, "ck").metadata[STATE_KEY]!)).toMatchObject({ model: "tiny", rngCounter: 9 });
    expect(decodeCheckpoint(old, "ck", desc).trainer).toEqual(trainer);
    const now = Object.keys(JSON.parse(decodeSafetensors(encodeCheckpoint(desc, params, state, null, trainer), "ck").metadata[STATE_KEY]!) as object);
    expect(now).not.toContain("rngCounter");
    expect(now).not.toContain("specHash");
  });

  it("resumes another version of the spec when every tensor matches, and says so", () => {
    const bytes = encodeCheckpoint(desc, params, state, null, trainer);
    const c = decodeCheckpoint(bytes, "ck", { ...desc, specHash: "ffffffffffffffff" });
    expect(c.specChanged).toMatch(/ck: written for spec hash 0123456789abcdef, this model is ffffffffffffffff: the spec changed since/);
    expect(Array.from(c.params.get("W")!)).toEqual(Array.from(params.W!));
    expect(decodeCheckpoint(bytes, "ck", desc).specChanged).toBeUndefined();
  });

  it("rejects other shapes, unknown tensors and missing state", () => {
    const bytes = encodeCheckpoint(desc, params, state, null, trainer);
    const wider = { ...desc, params: [{ ...desc.params[0], shape: [2, 3] }, desc.params[1]] };
    expect(() => decodeCheckpoint(bytes, "ck", wider)).toThrow(/tensor "params\/W" has shape \[2, 2\], the model expects \[2, 3\]/);
    expect(() => decodeCheckpoint(bytes, "ck", { ...desc, state: [] })).toThrow(/unexpected tensor "state\/v"/);
    const noState = encodeSafetensors(new Map(), { "dlt.spec_hash": desc.specHash });
    expect(() => decodeCheckpoint(noState, "ck", desc)).toThrow(new RegExp(`no "${STATE_KEY}" metadata`));
  });
});
