// The sentence-polarity stand-in for IMDB (lstm.py): the seeded split, the
// training vocabulary, the tensors, and the loader's errors on bad files.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Split } from "../runtime/data/dataset.ts";
import { DEFAULT_POLARITY_DIR, loadPolarity } from "../runtime/node/rt-polarity.ts";
import type { PolarityData } from "../runtime/node/rt-polarity.ts";
import { dataErrorOf } from "./setup/data-error.ts";

const TOTAL = 10662;
const base = { dir: DEFAULT_POLARITY_DIR, seed: 1234, maxlen: 100, nWords: 10000 } as const;
const data = loadPolarity(base);
// Every training word keeps its own index, so training sentences decode
// exactly (valid / test ones show "<unk>" for words training never saw).
const full = loadPolarity({ ...base, nWords: 1_000_000 });

function tensor(split: Split, name: string): Float32Array | Int32Array {
  const t = split.named?.[name];
  if (!t) throw new Error(`split has no tensor ${name}`);
  return t.data;
}

const ints = (split: Split, name: string): Int32Array => {
  const d = tensor(split, name);
  if (!(d instanceof Int32Array)) throw new Error(`${name} is not i32`);
  return d;
};

/** Sentence k of a split as its space-joined words. */
function decode(d: PolarityData, split: Split, k: number): string {
  const words = ints(split, "words");
  const len = ints(split, "length")[k]!;
  const maxlen = split.shape[0]!;
  return Array.from(words.subarray(k * maxlen, k * maxlen + len), (i) => d.vocabulary[i]!).join(" ");
}

const sentences = (d: PolarityData, split: Split): string[] => Array.from({ length: split.n }, (_, k) => decode(d, split, k));

function rawLines(file: string): string[] {
  return readFileSync(join(DEFAULT_POLARITY_DIR, file), "latin1")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => l.split(/\s+/).join(" "));
}

/** Element-wise equality; toEqual on a million-element array takes seconds. */
function same(a: Int32Array, b: Int32Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

const errorOf = dataErrorOf;

describe("rt-polarity: the split", () => {
  it("puts all 10,662 sentences in the three splits (nothing dropped at maxlen 100)", () => {
    expect(data.test.n).toBe(1066); // round(0.1 · 10662)
    expect(data.valid.n).toBe(480); // 9596 − round(0.95 · 9596)
    expect(data.train.n + data.valid.n + data.test.n).toBe(TOTAL);
    expect(data.source).toMatch(/train 9116 \/ valid 480 \/ test 1066/);
  });

  it("drops long train/valid sentences at a small maxlen, and cuts test ones", () => {
    const short = loadPolarity({ ...base, maxlen: 20 });
    const under = (s: Split): number => ints(s, "length").filter((l) => l < 20).length;
    // The same seed picks the same sentences; maxlen only filters them.
    expect(short.train.n).toBe(under(data.train));
    expect(short.valid.n).toBe(under(data.valid));
    expect(short.test.n).toBe(data.test.n);
    expect(Math.max(...ints(short.test, "length"))).toBe(20);
    expect(Math.max(...ints(short.train, "length"))).toBeLessThan(20);
    const dropped = data.train.n + data.valid.n - short.train.n - short.valid.n;
    expect(dropped).toBeGreaterThan(0);
    expect(short.train.n + short.valid.n + short.test.n).toBe(TOTAL - dropped);
  });

  it("keeps the labels balanced in every split", () => {
    for (const s of [data.train, data.valid, data.test]) {
      const pos = ints(s, "label").reduce((a, b) => a + b, 0);
      expect(Math.abs(pos / s.n - 0.5)).toBeLessThan(0.05);
    }
    expect(data.train.labelNames).toEqual(["negative", "positive"]);
  });

  it("is a function of the seed", () => {
    const again = loadPolarity(base);
    const other = loadPolarity({ ...base, seed: 1235 });
    for (const k of ["train", "valid", "test"] as const) {
      expect(same(ints(again[k], "words"), ints(data[k], "words"))).toBe(true);
      expect(same(ints(again[k], "label"), ints(data[k], "label"))).toBe(true);
    }
    expect(again.vocabulary).toEqual(data.vocabulary);
    expect(same(ints(other.test, "words"), ints(data.test, "words"))).toBe(false);
    expect(sentences(other, other.train).slice(0, 20)).not.toEqual(sentences(data, data.train).slice(0, 20));
  });

  it("never puts one sentence in two splits", () => {
    const train = sentences(full, full.train);
    const pos = new Set(rawLines("rt-polarity.pos"));
    const neg = new Set(rawLines("rt-polarity.neg"));
    // Training sentences decode exactly: each is a line of its label's file.
    const labels = ints(full.train, "label");
    train.forEach((s, k) => expect((labels[k] === 1 ? pos : neg).has(s)).toBe(true));
    expect(new Set(train).size).toBe(train.length);
    // A valid or test sentence equal to a training one would decode exactly,
    // and so equal it; one with an unseen word shows "<unk>", which no
    // training sentence holds.
    const seen = new Set(train);
    const valid = sentences(full, full.valid);
    const test = sentences(full, full.test);
    for (const s of [...valid, ...test]) expect(seen.has(s)).toBe(false);
    const validSet = new Set(valid);
    for (const s of test) expect(validSet.has(s)).toBe(false);
  });

  it("holds each sentence length of the corpus once", () => {
    const count = new Map<string, number>();
    for (const [file, label] of [["rt-polarity.pos", 1], ["rt-polarity.neg", 0]] as const) {
      for (const l of rawLines(file)) {
        const key = `${label}:${l.split(" ").length}`;
        count.set(key, (count.get(key) ?? 0) + 1);
      }
    }
    for (const s of [data.train, data.valid, data.test]) {
      const len = ints(s, "length");
      ints(s, "label").forEach((y, k) => count.set(`${y}:${len[k]}`, count.get(`${y}:${len[k]}`)! - 1));
    }
    expect([...count.values()].every((c) => c === 0)).toBe(true);
  });
});

describe("rt-polarity: cross-validation folds", () => {
  const folds = Array.from({ length: 10 }, (_, k) => loadPolarity({ ...base, fold: k }));

  it("fold 0 is the default split", () => {
    expect(same(ints(folds[0]!.test, "words"), ints(data.test, "words"))).toBe(true);
    expect(same(ints(folds[0]!.train, "words"), ints(data.train, "words"))).toBe(true);
  });

  it("the ten test folds cover the corpus once, and each fold's splits all of it", () => {
    // (label, length) pairs of the corpus, taken off once per test sentence
    // of each fold: a sentence in two folds or in none leaves a count ≠ 0.
    const count = new Map<string, number>();
    for (const [file, label] of [["rt-polarity.pos", 1], ["rt-polarity.neg", 0]] as const) {
      for (const l of rawLines(file)) count.set(`${label}:${l.split(" ").length}`, (count.get(`${label}:${l.split(" ").length}`) ?? 0) + 1);
    }
    for (const d of folds) {
      expect(d.train.n + d.valid.n + d.test.n).toBe(TOTAL);
      expect([1066, 1067]).toContain(d.test.n);
      const len = ints(d.test, "length");
      ints(d.test, "label").forEach((y, k) => count.set(`${y}:${len[k]}`, count.get(`${y}:${len[k]}`)! - 1));
    }
    expect([...count.values()].every((c) => c === 0)).toBe(true);
    expect(folds.reduce((n, d) => n + d.test.n, 0)).toBe(TOTAL);
  });

  it("refuses a fold outside 0-9", () => {
    expect(errorOf(() => loadPolarity({ ...base, fold: 10 })).message).toMatch(/fold must be an integer in 0-9/);
  });
});

describe("rt-polarity: vocabulary and tensors", () => {
  it("ranks training words by count: index 2 is the most frequent", () => {
    const counts = new Float64Array(full.vocabulary.length);
    for (const i of ints(full.train, "words")) counts[i]!++;
    for (let i = 3; i < counts.length; i++) expect(counts[i - 1]!).toBeGreaterThanOrEqual(counts[i]!);
    expect(counts[full.vocabulary.length - 1]).toBeGreaterThan(0);
    expect(full.vocabulary.slice(0, 2)).toEqual(["<pad>", "<unk>"]);
    expect(data.vocabulary).toEqual(full.vocabulary.slice(0, 10000));
    // The cut at nWords maps the rarer training words to unknown.
    const unknownInTrain = ints(data.train, "words").filter((i) => i === 1).length;
    const rareInFull = ints(full.train, "words").filter((i) => i >= 10000).length;
    expect(unknownInTrain).toBe(rareInFull);
    expect(rareInFull).toBeGreaterThan(0);
  });

  it("keeps every index below nWords", () => {
    for (const s of [data.train, data.valid, data.test]) {
      const w = ints(s, "words");
      // reduce, not Math.max(...w): a million arguments overflow the stack.
      expect(w.reduce((a, b) => Math.max(a, b), 0)).toBeLessThan(10000);
      expect(w.reduce((a, b) => Math.min(a, b), 0)).toBe(0);
    }
  });

  it("masks exactly the real tokens and pads with 0", () => {
    for (const s of [data.train, data.valid, data.test]) {
      const maxlen = s.shape[0]!;
      const mask = tensor(s, "mask");
      const words = ints(s, "words");
      const len = ints(s, "length");
      expect(s.x).toBe(mask);
      expect(s.y).toBe(tensor(s, "label"));
      expect(s.yShape).toEqual([]);
      // Counted, not asserted per element: a million expects would be slow.
      let wrong = 0;
      for (let k = 0; k < s.n; k++) {
        let sum = 0;
        if (len[k]! < 1) wrong++;
        for (let t = 0; t < maxlen; t++) {
          const m = mask[k * maxlen + t]!;
          const real = t < len[k]!;
          sum += m;
          if (m !== (real ? 1 : 0) || (real ? words[k * maxlen + t]! < 1 : words[k * maxlen + t] !== 0)) wrong++;
        }
        if (sum !== len[k]) wrong++;
      }
      expect(wrong).toBe(0);
    }
  });

  it("sorts valid and test by length, not train", () => {
    for (const s of [data.valid, data.test]) {
      const len = ints(s, "length");
      for (let k = 1; k < s.n; k++) expect(len[k]!).toBeGreaterThanOrEqual(len[k - 1]!);
    }
    const train = ints(data.train, "length");
    expect(train.some((l, k) => k > 0 && l < train[k - 1]!)).toBe(true);
  });
});

describe("rt-polarity: errors name the file", () => {
  const fresh = (): string => mkdtempSync(join(tmpdir(), "dlt-rtpol-"));
  const good = "a fine film .\nsharp and funny .\n";

  it("a missing file", () => {
    const dir = fresh();
    writeFileSync(join(dir, "rt-polarity.neg"), good);
    const e = errorOf(() => loadPolarity({ ...base, dir }));
    expect(e.message).toContain(join(dir, "rt-polarity.pos"));
    expect(e.message).toMatch(/file not found/);
    expect(e.message).not.toContain("\n");
  });

  it("an empty file, and one of blank lines", () => {
    for (const text of ["", "\n  \n\r\n"]) {
      const dir = fresh();
      writeFileSync(join(dir, "rt-polarity.pos"), good);
      writeFileSync(join(dir, "rt-polarity.neg"), text);
      const e = errorOf(() => loadPolarity({ ...base, dir }));
      expect(e.message).toContain(join(dir, "rt-polarity.neg"));
      expect(e.message).toMatch(/empty/);
    }
  });

  it("a file with NUL bytes, naming the line", () => {
    const dir = fresh();
    writeFileSync(join(dir, "rt-polarity.pos"), good);
    writeFileSync(join(dir, "rt-polarity.neg"), Uint8Array.from([0x61, 0x0a, 0x62, 0x0a, 0x00, 0x01, 0x02, 0x0a]));
    const e = errorOf(() => loadPolarity({ ...base, dir }));
    expect(e.message).toContain(join(dir, "rt-polarity.neg"));
    expect(e.message).toMatch(/line 3 holds a NUL byte/);
  });

  it("a folder in a file's place", () => {
    const dir = fresh();
    mkdirSync(join(dir, "rt-polarity.pos"));
    writeFileSync(join(dir, "rt-polarity.neg"), good);
    expect(errorOf(() => loadPolarity({ ...base, dir })).message).toContain(join(dir, "rt-polarity.pos"));
  });

  it("bad options", () => {
    expect(errorOf(() => loadPolarity({ ...base, maxlen: 0 })).message).toMatch(/maxlen/);
    expect(errorOf(() => loadPolarity({ ...base, nWords: 1 })).message).toMatch(/nWords/);
    expect(errorOf(() => loadPolarity({ ...base, testPortion: 1 })).message).toMatch(/testPortion/);
    expect(errorOf(() => loadPolarity({ ...base, maxlen: 1 })).message).toMatch(/no training sentence/);
  });
});
