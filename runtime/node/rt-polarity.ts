// Pang & Lee's sentence polarity corpus (v1.0, "MR"), the stand-in for the
// IMDB reviews of the LSTM tutorial (lstm.py + imdb.py): IMDB's imdb.pkl is
// not reachable here, and this is the real movie-review sentiment corpus that
// is (../shared/data/SOURCES.md, rt-polarity). Two files, rt-polarity.pos and
// rt-polarity.neg, 5,331 lines each: Latin-1, lower-cased, tokens separated
// by spaces. One sentence per example, as four named tensors the spec's
// inputs bind by name:
//   words  [maxlen] i32  vocabulary indices, 0 (padding) past the end
//   mask   [maxlen] f32  1 on real tokens, 0 after (prepare_data's x_mask)
//   length []       i32  the sentence's tokens
//   label  []       i32  1 positive, 0 negative (imdb_preprocess.py's y)
//
// The corpus has no official split, so a fixed seeded one is made here:
//   pool  = every .pos sentence, then every .neg sentence (file order, as
//           imdb_preprocess.py concatenates pos + neg)
//   perm  = shuffle(seed, SALT_RT_POLARITY, pool size)   (Philox Fisher–Yates)
//   test  = perm[round(k·p·size), round((k+1)·p·size)) for fold k (default
//           0) and p = testPortion: folds 0..1/p−1 are a cross-validation
//   the rest (perm without the test block, in order), as imdb.py's load_data splits its train set: the first
//   round((1 − validPortion) · rest) are train, the tail valid.
// Then, as load_data(maxlen=...) does, train and valid keep only sentences
// with fewer than maxlen tokens; test is never filtered (imdb.py does not
// filter it either), only cut to maxlen tokens so it fits the tensors.
// Rounding is half-to-even, numpy.round's rule.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { DataError } from "../data/dataset.ts";
import type { Split } from "../data/dataset.ts";
import { shuffle } from "../rng/philox.ts";

/** How loadPolarity reads and splits the corpus: folder, seed, maximum
 * length, vocabulary size, cross-validation fold. */
export interface PolarityOptions {
  readonly dir: string;
  readonly seed: number;
  /** Sequence length of the tensors; imdb.py drops train/valid sentences of
   * maxlen tokens or more (lstm.py: 100). */
  readonly maxlen: number;
  /** Indices at or above this become 1, unknown (imdb.py's n_words; 10000). */
  readonly nWords: number;
  /** Share of the corpus held out for test (0.1). */
  readonly testPortion?: number;
  /** Share of the rest held out for validation (lstm.py's valid_portion, 0.05). */
  readonly validPortion?: number;
  /** Cross-validation: the fold-th block of testPortion of the seeded order
   * is test (default 0, the first block). With 0.1, folds 0-9 cover every
   * sentence once. */
  readonly fold?: number;
}

/** The sentence-polarity corpus as split for the LSTM: train, valid and test
 * splits (padded word indices, masks, lengths, labels), the vocabulary, and
 * a line saying where it came from. */
export interface PolarityData {
  train: Split;
  valid: Split;
  test: Split;
  /** index → word; 0 padding, 1 unknown; at most nWords entries. */
  vocabulary: readonly string[];
  source: string;
}

/** The corpus' location in this checkout's layout, relative to cwd. */
export const DEFAULT_POLARITY_DIR = "../shared/data/rt-polarity";

/** The split's Philox stream. Far above any epoch number (epoch shuffles use
 * salt = epoch) and the init / synthetic salts of runtime/salts.ts, so the
 * split never reuses a permutation the trainer draws. ASCII "rpol". */
export const SALT_RT_POLARITY = 0x72706f6c;

const PAD = 0;
const UNKNOWN = 1;
const LABEL_NAMES = ["negative", "positive"] as const;
const WHAT = "Pang & Lee's sentence polarity data: rt-polarity.pos and rt-polarity.neg, one tokenized sentence per line, Latin-1";

interface Sentence {
  readonly tokens: readonly string[];
  readonly label: number;
  readonly file: string;
  readonly line: number;
}

/** Reads the .pos and .neg files under `opts.dir`, splits, builds the
 * training vocabulary and returns the three splits as named tensors. */
export function loadPolarity(opts: PolarityOptions): PolarityData {
  const { maxlen, nWords, seed } = opts;
  const testPortion = portion(opts.testPortion ?? 0.1, "testPortion");
  const validPortion = portion(opts.validPortion ?? 0.05, "validPortion");
  if (!Number.isInteger(maxlen) || maxlen < 1) throw new DataError(`rt-polarity: maxlen must be a positive integer, got ${maxlen}`);
  if (!Number.isInteger(nWords) || nWords < 2) throw new DataError(`rt-polarity: nWords must be an integer of at least 2 (0 padding, 1 unknown), got ${nWords}`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new DataError(`rt-polarity: the seed must be a non-negative integer, got ${seed}`);

  const dir = resolve(opts.dir);
  const posFile = join(dir, "rt-polarity.pos");
  const negFile = join(dir, "rt-polarity.neg");
  const pool = [...readSentences(posFile, 1), ...readSentences(negFile, 0)];
  const size = pool.length;

  const perm = new Int32Array(size);
  shuffle(seed, SALT_RT_POLARITY, size, perm);
  const fold = opts.fold ?? 0;
  const folds = Math.floor(1 / testPortion + 1e-9);
  if (!Number.isInteger(fold) || fold < 0 || fold >= folds) throw new DataError(`rt-polarity: fold must be an integer in 0-${folds - 1} (test portion ${testPortion}), got ${fold}`);
  const testFrom = roundHalfEven(size * testPortion * fold);
  const testTo = roundHalfEven(size * testPortion * (fold + 1));
  // The rest keeps the seeded order with the test block taken out, so fold 0
  // is the split this function always made.
  const rest = Int32Array.from([...perm.subarray(0, testFrom), ...perm.subarray(testTo)]);
  const nTrain = roundHalfEven(rest.length * (1 - validPortion));
  const pick = (order: Int32Array, from: number, to: number): Sentence[] => Array.from(order.subarray(from, to), (i) => pool[i]!);
  const fits = (s: Sentence): boolean => s.tokens.length < maxlen;
  const trainAll = pick(rest, 0, nTrain);
  const validAll = pick(rest, nTrain, rest.length);
  const train = trainAll.filter(fits);
  const valid = validAll.filter(fits);
  const test = pick(perm, testFrom, testTo);
  const dropped = trainAll.length - train.length + validAll.length - valid.length;
  const cut = test.filter((s) => s.tokens.length > maxlen).length;

  let longest = pool[0]!;
  for (const s of pool) if (s.tokens.length > longest.tokens.length) longest = s;
  if (train.length === 0) {
    throw new DataError(`rt-polarity: no training sentence is shorter than maxlen = ${maxlen} tokens (the longest sentence has ${longest.tokens.length}); raise maxlen`);
  }

  const { index, words: distinct } = buildVocabulary(train);
  const vocabulary = ["<pad>", "<unk>", ...distinct.slice(0, Math.max(0, nWords - 2))];
  // sort_by_len: evaluation batches then hold sentences of similar length
  // and pad little. Array.prototype.sort is stable, so ties keep split order.
  // Train stays in shuffle order: lstm.py reshuffles its minibatches every
  // epoch, so sorting it would buy nothing.
  const byLength = (list: readonly Sentence[]): Sentence[] =>
    [...list].sort((a, b) => Math.min(a.tokens.length, maxlen) - Math.min(b.tokens.length, maxlen));
  const encode = (list: readonly Sentence[]): Split => toSplit(list, index, nWords, maxlen);

  const where = `${posFile} (${countLabel(pool, 1)}) + ${negFile} (${countLabel(pool, 0)})`;
  const source =
    `rt-polarity: ${where}, seed ${seed}${fold === 0 ? "" : `, fold ${fold}`}; train ${train.length} / valid ${valid.length} / test ${test.length} sentences` +
    ` (${dropped} train/valid of ${maxlen}+ tokens dropped, ${cut} test cut to ${maxlen}); vocabulary ${vocabulary.length}` +
    ` of ${distinct.length + 2} (${distinct.length} training words + pad, unknown); longest sentence ${longest.tokens.length} tokens (${longest.file} line ${longest.line})`;
  return { train: encode(train), valid: encode(byLength(valid)), test: encode(byLength(test)), vocabulary, source };
}

/** One file's sentences: one per non-empty line, tokens split on whitespace.
 * Latin-1 maps every byte to a character, so any file decodes; what is not
 * text is recognised by its control bytes instead. */
function readSentences(file: string, label: number): Sentence[] {
  let text: string;
  try {
    text = readFileSync(file, "latin1");
  } catch (e) {
    const code = typeof e === "object" && e !== null && "code" in e ? e.code : undefined;
    if (code === "ENOENT") throw new DataError(`${file}: file not found (expected ${WHAT}; give their folder with --data DIR)`);
    if (code === "EISDIR") throw new DataError(`${file}: a folder, not a file (expected ${WHAT})`);
    throw new DataError(`${file}: could not read it (${e instanceof Error ? e.message : String(e)}); expected ${WHAT}`);
  }
  // C0 controls other than tab, line feed, vertical tab, form feed and
  // carriage return do not occur in text; a NUL is the mark of a binary file.
  const bad = /[\x00-\x08\x0e-\x1f]/.exec(text);
  if (bad) {
    const line = lineOf(text, bad.index);
    const byte = bad[0].charCodeAt(0);
    const what = byte === 0 ? "a NUL byte: this is not a text file" : `the control byte 0x${byte.toString(16).padStart(2, "0")}`;
    throw new DataError(`${file}: line ${line} holds ${what}; expected ${WHAT}`);
  }
  const out: Sentence[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    // trim() also removes a CRLF file's \r. The corpus' Windows-1252
    // ellipses (byte 0x85, U+0085 in Latin-1) are neither trimmed nor split
    // on: they stay inside their tokens, as in the original files.
    const t = lines[i]!.trim();
    if (t !== "") out.push({ tokens: t.split(/\s+/), label, file, line: i + 1 });
  }
  if (out.length === 0) throw new DataError(`${file}: empty (no sentences); expected ${WHAT}`);
  return out;
}

/** imdb_preprocess.py's build_dict over the training split: words by count,
 * descending, index = rank + 2. numpy.argsort's tie order is arbitrary, so
 * ties go to the word seen first in the training split, deterministically. */
function buildVocabulary(train: readonly Sentence[]): { index: Map<string, number>; words: string[] } {
  // A Map iterates in insertion order: first occurrence.
  const counts = new Map<string, number>();
  for (const s of train) for (const w of s.tokens) counts.set(w, (counts.get(w) ?? 0) + 1);
  const ranked = [...counts].sort((a, b) => b[1] - a[1]);
  const words = ranked.map(([w]) => w);
  const index = new Map<string, number>();
  words.forEach((w, rank) => index.set(w, rank + 2));
  return { index, words };
}

/** The split's tensors. Words absent from the training vocabulary, or ranked
 * at nWords or beyond (imdb.py's remove_unk), become 1. Sentences longer than
 * maxlen (only test can hold them) keep their first maxlen tokens. */
function toSplit(list: readonly Sentence[], index: ReadonlyMap<string, number>, nWords: number, maxlen: number): Split {
  const n = list.length;
  const words = new Int32Array(n * maxlen).fill(PAD);
  const mask = new Float32Array(n * maxlen);
  const length = new Int32Array(n);
  const label = new Int32Array(n);
  list.forEach((s, k) => {
    const len = Math.min(s.tokens.length, maxlen);
    for (let t = 0; t < len; t++) {
      const i = index.get(s.tokens[t]!);
      words[k * maxlen + t] = i !== undefined && i < nWords ? i : UNKNOWN;
      mask[k * maxlen + t] = 1;
    }
    length[k] = len;
    label[k] = s.label;
  });
  return {
    x: mask,
    y: label,
    n,
    shape: [maxlen],
    yShape: [],
    named: {
      words: { data: words, shape: [maxlen] },
      mask: { data: mask, shape: [maxlen] },
      length: { data: length, shape: [] },
      label: { data: label, shape: [] },
    },
    labelNames: LABEL_NAMES,
  };
}

function portion(p: number, name: string): number {
  if (!(p >= 0 && p < 1)) throw new DataError(`rt-polarity: ${name} must be in [0, 1), got ${p}`);
  return p;
}

/** numpy.round: halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function countLabel(list: readonly Sentence[], label: number): number {
  let c = 0;
  for (const s of list) if (s.label === label) c++;
  return c;
}

/** The 1-based line of character offset `at`. */
function lineOf(text: string, at: number): number {
  let line = 1;
  for (let i = 0; i < at; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
