// The atis dataset for the Elman RNN (rnnslu.py): one sentence per example,
// as three named tensors the spec's inputs bind by name:
//   words  [T, window] i32  context windows (rnnslu.py's contextwin), the
//                           padding index being the vocabulary size (the
//                           tutorial's −1 indexes that extra last row)
//   labels [T] i32          slot label per word, −1 past the sentence (a
//                           −1 one-hot row is zero, so it adds no loss)
//   length [] i32           the sentence's words, the scan's step count
// T is the spec's (static) sentence length: every sentence of every split
// must fit, or the run stops with a message giving the longest.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { DataDesc, TensorDesc } from "../compiled-model.ts";
import { DataError } from "../data/dataset.ts";
import type { Split, Splits } from "../data/dataset.ts";
import { type AtisSentence, contextWindows, DEFAULT_ATIS_DIR, loadAtisFold } from "./atis.ts";

export function atisSplits(desc: DataDesc, inputs: readonly TensorDesc[] | undefined, dataDir: string | undefined): Splits {
  const { fold, window } = desc.atis ?? { fold: 3, window: 7 };
  const dir = resolve(dataDir ?? DEFAULT_ATIS_DIR);
  const file = join(dir, `atis.fold${fold}.pkl.gz`);
  if (!existsSync(file)) throw new DataError(`${file}: file not found (the ATIS folds of the rnnslu tutorial; give their folder with --data DIR)`);
  const data = loadAtisFold(file);
  const words = inputs?.find((i) => i.name === "words");
  const T = words?.shape[0];
  if (words === undefined || T === undefined || words.shape.length !== 2 || words.shape[1] !== window) {
    throw new DataError(`atis: the spec needs an i32 input words: { shape: [T, ${window}] } (T the longest sentence, ${window} the window), and labels: { shape: [T] }, length: { shape: [] }`);
  }
  const pad = data.words.length;
  const split = (name: string, list: readonly AtisSentence[]): Split => {
    const n = list.length;
    const w = new Int32Array(n * T * window).fill(pad);
    const labels = new Int32Array(n * T).fill(-1);
    const length = new Int32Array(n);
    list.forEach((s, k) => {
      const len = s.words.length;
      if (len > T) {
        const longest = Math.max(...list.map((x) => x.words.length));
        throw new DataError(`${file}: ${name} sentence ${k} has ${len} words, more than the spec's T = ${T} (the longest in ${name} has ${longest}); raise T in the inputs' shapes`);
      }
      w.set(contextWindows(s.words, window, pad), k * T * window);
      labels.set(s.labels, k * T);
      length[k] = len;
    });
    return {
      x: new Float32Array(0),
      y: labels,
      n,
      shape: [],
      yShape: [T],
      named: { words: { data: w, shape: [T, window] }, labels: { data: labels, shape: [T] }, length: { data: length, shape: [] } },
      labelNames: data.labels,
    };
  };
  return {
    train: split("train", data.train),
    valid: split("valid", data.valid),
    test: split("test", data.test),
    source: `atis: fold ${fold} from ${file}, ${data.train.length}/${data.valid.length}/${data.test.length} sentences, ${data.words.length} words, ${data.labels.length} labels, windows of ${window}`,
  };
}
