// The ATIS slot-filling data of the Elman-RNN tutorial (rnnslu.py): five
// folds, each a gzipped Python 2 pickle of (train, valid, test, dicts). A
// split is (words, tables, labels), three lists of int32 numpy arrays with
// one array per sentence; dicts maps words2idx / labels2idx / tables2idx.
// Everything is validated here, once, so the trainer can index embeddings
// and softmax rows without checks. See ../shared/data/SOURCES.md (atis).
import { existsSync, readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { DataError } from "../data/dataset.ts";
import { ofKind, pyTypeName, unpickle } from "../data/pickle.ts";
import type { PyDict, PyValue } from "../data/pickle.ts";

/** One ATIS sentence: word indices, named-entity table indices and IOB
 * slot-label indices, one per token. */
export interface AtisSentence {
  readonly words: Int32Array;
  readonly tables: Int32Array;
  readonly labels: Int32Array;
}

/** One ATIS fold file (atis.foldK.pkl.gz) as read: its train, valid and test
 * sentences and the word and label dictionaries. */
export interface AtisFold {
  readonly train: readonly AtisSentence[];
  readonly valid: readonly AtisSentence[];
  readonly test: readonly AtisSentence[];
  /** index → word / label name (from words2idx, labels2idx) */
  readonly words: readonly string[];
  readonly labels: readonly string[];
}

/** The folds' location in this checkout's layout, relative to cwd. */
export const DEFAULT_ATIS_DIR = "../shared/data/atis";

const WHAT = `an ATIS fold of the rnnslu tutorial (atis.fold0.pkl.gz … atis.fold4.pkl.gz, e.g. ${DEFAULT_ATIS_DIR}/atis.fold3.pkl.gz)`;
const SPLITS = ["train", "valid", "test"] as const;
type SplitName = (typeof SPLITS)[number];

/** Reads, gunzips, unpickles and validates one fold. */
export function loadAtisFold(file: string): AtisFold {
  if (!existsSync(file)) throw new DataError(`${file}: file not found (pass ${WHAT})`);
  let raw: Uint8Array;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new DataError(`${file}: could not read it (${e instanceof Error ? e.message : String(e)}); expected ${WHAT}`);
  }
  let bytes: Uint8Array;
  try {
    bytes = gunzipSync(raw);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    // With a gzip header the download is damaged; without one it is some other file.
    if (raw[0] === 0x1f && raw[1] === 0x8b) throw new DataError(`${file}: a damaged or truncated gzip file (${reason}); expected ${WHAT}`);
    const head = Array.from(raw.subarray(0, 4), (b) => b.toString(16).padStart(2, "0")).join(" ");
    throw new DataError(`${file}: not a gzip file (it starts with bytes ${head || "(none: the file is empty)"}); expected ${WHAT}`);
  }
  return atisFoldOf(unpickle(bytes, file), file);
}

/** Checks an unpickled fold and converts it; `file` is only used in messages. */
export function atisFoldOf(value: PyValue, file: string): AtisFold {
  const top = ofKind(value, "tuple")?.items;
  if (!top || top.length !== 4) {
    const found = top ? `a tuple of ${top.length}` : `a ${pyTypeName(value)}`;
    // atis.pkl.gz, next to the folds, is (train, test, dicts): the easy mistake.
    const hint = top?.length === 3 ? " (atis.pkl.gz holds (train, test, dicts); pass one of the atis.foldN.pkl.gz files)" : "";
    throw new DataError(`${file}: expected the pickle to hold a tuple (train, valid, test, dicts), found ${found}${hint}`);
  }
  const dicts = ofKind(top[3], "dict");
  if (!dicts) throw new DataError(`${file}: expected dicts (the 4th item) to be a dict, found a ${pyTypeName(top[3])}`);
  const words = indexNames(dicts, "words2idx", file);
  const labels = indexNames(dicts, "labels2idx", file);
  const tables = indexNames(dicts, "tables2idx", file);
  const limits = { words: words.length, tables: tables.length, labels: labels.length };
  const [train, valid, test] = SPLITS.map((name, i) => splitOf(top[i], name, limits, file));
  return { train, valid, test, words, labels };
}

/** The names of a str → index dict, by index. The indices must be exactly
 * 0..n-1: they address embedding and output rows. */
function indexNames(dicts: PyDict, key: string, file: string): string[] {
  const d = ofKind(dicts.entries.get(key), "dict");
  if (!d) throw new DataError(`${file}: expected dicts['${key}'] to be a dict of name → index, found ${pyTypeName(dicts.entries.get(key))}`);
  const names: string[] = new Array<string>(d.entries.size);
  for (const [name, index] of d.entries) {
    if (typeof name !== "string" || typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= names.length) {
      throw new DataError(`${file}: dicts['${key}'] maps ${String(name)} to ${String(index)}, expected indices 0..${names.length - 1}`);
    }
    if (names[index] !== undefined) throw new DataError(`${file}: dicts['${key}'] gives index ${index} to both '${names[index]}' and '${name}'`);
    names[index] = name;
  }
  return names;
}

interface Limits {
  readonly words: number;
  readonly tables: number;
  readonly labels: number;
}

function splitOf(v: PyValue, split: SplitName, limits: Limits, file: string): AtisSentence[] {
  const parts = ofKind(v, "tuple")?.items;
  const lists = parts?.length === 3 ? parts.map((p) => ofKind(p, "list")?.items) : [];
  const [w, t, l] = lists;
  if (!w || !t || !l) {
    const found = parts ? `a tuple of ${parts.length}: ${parts.map(pyTypeName).join(", ")}` : `a ${pyTypeName(v)}`;
    throw new DataError(`${file}: ${split}: expected a tuple of 3 lists (words, tables, labels), found ${found}`);
  }
  if (w.length !== t.length || w.length !== l.length) {
    throw new DataError(`${file}: ${split}: the words, tables and labels lists hold ${w.length}, ${t.length} and ${l.length} sentences`);
  }
  return w.map((_, i) => {
    const where = `${file}: ${split} sentence ${i}`;
    const words = int32s(w[i], `${where}: words`);
    const tables = int32s(t[i], `${where}: tables`);
    const labels = int32s(l[i], `${where}: labels`);
    if (words.length === 0) throw new DataError(`${where}: empty sentence (no words)`);
    if (tables.length !== words.length || labels.length !== words.length) {
      throw new DataError(`${where}: ${words.length} words but ${labels.length} labels and ${tables.length} tables`);
    }
    inRange(words, where, limits.words, "word");
    inRange(tables, where, limits.tables, "table");
    inRange(labels, where, limits.labels, "label");
    return { words, tables, labels };
  });
}

/** A sentence's 1-D integer numpy array as Int32Array. */
function int32s(v: PyValue, where: string): Int32Array {
  const a = ofKind(v, "ndarray");
  if (!a || a.shape.length !== 1 || a.dtype === "<f4" || a.dtype === "<f8") {
    const found = a ? `a ${a.shape.length}-D ${a.dtype} array` : `a ${pyTypeName(v)}`;
    throw new DataError(`${where}: expected a 1-D numpy integer array, found ${found}`);
  }
  return a.data instanceof Int32Array ? a.data : Int32Array.from(a.data);
}

function inRange(a: Int32Array, where: string, limit: number, what: string): void {
  for (let k = 0; k < a.length; k++) {
    if (a[k] < 0 || a[k] >= limit) throw new DataError(`${where}, word ${k}: ${what} index ${a[k]} is outside [0, ${limit})`);
  }
}

/** rnnslu.py's contextwin: for a sentence of T words, T rows (row-major) of
 * the `win` word indices centred on each word, positions outside the
 * sentence given `pad`. The tutorial pads with -1, which indexes the extra
 * last embedding row, so callers pass the vocabulary size. */
export function contextWindows(words: Int32Array, win: number, pad: number): Int32Array {
  if (!Number.isInteger(win) || win < 1 || win % 2 === 0) {
    throw new DataError(`contextWindows: the window must be a positive odd number of words, found ${win}`);
  }
  if (!Number.isInteger(pad)) throw new DataError(`contextWindows: the padding index must be an integer, found ${pad}`);
  const half = (win - 1) / 2;
  const out = new Int32Array(words.length * win);
  for (let t = 0; t < words.length; t++) {
    for (let j = 0; j < win; j++) {
      const k = t + j - half;
      out[t * win + j] = k >= 0 && k < words.length ? words[k] : pad;
    }
  }
  return out;
}
