// The RNN-RBM's datasets: Nottingham (MIDI in a zip) and JSB Chorales
// (JSON), as rnnrbm.py trains on them — piano rolls of 88 notes (21..108)
// at dt 0.3 s, every tune cut into pieces of T frames (the spec's `roll`
// input [T, 88]); per piece the tensors roll, length (frames) and mask (1
// for the piece's frames), bound to the inputs by name.
import { existsSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import type { TensorDesc } from "../compiled-model.ts";
import { DataError } from "../data/dataset.ts";
import type { Split, Splits } from "../data/dataset.ts";
import { DEFAULT_JSB_JSON, DEFAULT_NOTTINGHAM_ZIP, loadJsbChorales, loadNottingham, rollChunks, type RollSets } from "./piano-roll.ts";

export function pianoRollSplits(dataset: "nottingham" | "jsb", opts: { readonly dataDir?: string; readonly inputs?: readonly TensorDesc[] }): Splits {
  const roll = opts.inputs?.find((i) => i.name === "roll");
  if (roll === undefined || roll.shape.length !== 2 || roll.shape[1] !== 88) {
    throw new DataError(`${dataset}: the spec needs an f32 input roll: { shape: [T, 88] } (pieces of T frames of the 88 notes 21..108), and length: { shape: [] }, mask: { shape: [T] }`);
  }
  const T = roll.shape[0]!;
  const file = dataFile(dataset, opts.dataDir);
  const sets: RollSets = dataset === "nottingham" ? loadNottingham(file) : loadJsbChorales(file);
  const pieces = (rolls: Float32Array[]): Split => {
    const s = rollChunks(rolls, T);
    const length = s.named!.length!.data as Int32Array;
    const mask = new Float32Array(s.n * T);
    for (let k = 0; k < s.n; k++) mask.fill(1, k * T, k * T + length[k]!);
    return { ...s, named: { ...s.named, mask: { data: mask, shape: [T] } } };
  };
  const train = pieces(sets.train);
  const valid = pieces(sets.valid);
  const test = pieces(sets.test);
  return { train, valid, test, source: `${sets.source}; pieces of ${T} frames: ${train.n} / ${valid.n} / ${test.n}` };
}

/** --data DIR (the zip or JSON inside it, or the file itself), else the
 * checkout's shared data. */
function dataFile(dataset: "nottingham" | "jsb", dataDir: string | undefined): string {
  const base = dataset === "nottingham" ? DEFAULT_NOTTINGHAM_ZIP : DEFAULT_JSB_JSON;
  if (dataDir === undefined) return resolve(base);
  const d = resolve(dataDir);
  if (existsSync(d) && statSync(d).isDirectory()) return join(d, base.split("/").pop()!);
  return d;
}
