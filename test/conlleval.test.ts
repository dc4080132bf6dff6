// The conlleval.pl port against the script itself: the same bytes of output
// on tricky hand-written IOB cases and on the real ATIS test split.
import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { DataError } from "../runtime/data/dataset.ts";
import { conlleval, conllevalInput, formatConlleval } from "../runtime/data/conlleval.ts";
import type { ConllScore, TaggedSentence } from "../runtime/data/conlleval.ts";
import { loadAtisFold } from "../runtime/node/atis.ts";

const SCRIPT = "../shared/data/atis/conlleval.pl";

/** conlleval.pl's stdout for `input`. A missing perl fails the test: this
 * comparison is the only evidence the port is faithful. */
function perl(input: string): string {
  const r = spawnSync("perl", [SCRIPT], { input, encoding: "utf8", timeout: 60_000 });
  if (r.error) throw new Error(`perl is needed to run ${SCRIPT} and could not be started: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`perl ${SCRIPT} exited with ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The overall precision, recall and FB1 that rnnslu.py reads from the accuracy line. */
function printedFigures(text: string): { p: number; r: number; f1: number } {
  const m = /precision: +([\d.]+)%; recall: +([\d.]+)%; FB1: +([\d.]+)\n/.exec(text);
  if (!m) throw new Error(`no accuracy line in:\n${text}`);
  return { p: Number(m[1]), r: Number(m[2]), f1: Number(m[3]) };
}

function expectSameAsPerl(sentences: readonly TaggedSentence[]): ConllScore {
  const expected = perl(conllevalInput(sentences));
  const score = conlleval(sentences);
  expect(formatConlleval(score)).toBe(expected);
  if (score.tokens > 0) {
    const fig = printedFigures(expected);
    expect(Math.abs(score.precision - fig.p)).toBeLessThanOrEqual(0.005);
    expect(Math.abs(score.recall - fig.r)).toBeLessThanOrEqual(0.005);
    expect(Math.abs(score.f1 - fig.f1)).toBeLessThanOrEqual(0.005);
  }
  return score;
}

const sent = (rows: readonly (readonly [string, string, string])[]): TaggedSentence => ({
  words: rows.map((r) => r[0]),
  gold: rows.map((r) => r[1]),
  pred: rows.map((r) => r[2]),
});

const TRICKY: readonly TaggedSentence[] = [
  // I- without a B-: starts a chunk after O; a B- inside splits the guess.
  sent([["from", "I-city", "I-city"], ["new", "I-city", "B-city"], ["york", "O", "O"]]),
  // The type changes inside a run of I- tags; hyphens and dots in types.
  sent([["a", "B-fromloc.city-name", "B-fromloc.city-name"], ["b", "I-fromloc.city-name", "I-toloc"], ["c", "I-toloc", "I-toloc"], ["d", "O", "O"]]),
  // Chunks that run to the sentence end (closed by EOS), one exact, one cut short.
  sent([["to", "O", "O"], ["las", "B-toloc", "B-toloc"], ["vegas", "I-toloc", "I-toloc"]]),
  sent([["to", "O", "O"], ["las", "B-toloc", "B-toloc"], ["vegas", "I-toloc", "O"]]),
  // All O, and all-O gold with a guessed chunk.
  sent([["hello", "O", "O"], ["there", "O", "O"]]),
  sent([["hello", "O", "B-greeting"], ["there", "O", "I-greeting"]]),
  // A single-word sentence, and an empty one (only BOS/EOS are scored).
  sent([["boston", "B-city", "B-state"]]),
  sent([]),
  // Untyped tags ("B", "I") and the type "0", which perl reads as no type.
  sent([["x", "B", "B"], ["y", "I", "B-0"], ["z", "O", "I"]]),
  // IOE-style and bracket tags, which the script also knows.
  sent([["p", "I-np", "I-np"], ["q", "E-np", "E-np"], ["r", "[-vp", "[-vp"], ["s", "]-vp", "O"]]),
  // The word "-X-" is read as a sentence boundary, tags and all.
  sent([["-X-", "B-city", "B-city"], ["w", "I-city", "I-city"]]),
  // A type longer than the 17-character column, and one with non-ASCII bytes.
  sent([["q", "B-a_really_long_chunk_type_name", "B-a_really_long_chunk_type_name"], ["é", "B-café", "B-café"]]),
];

describe("conlleval port", () => {
  it("matches conlleval.pl on tricky IOB cases", () => {
    const s = expectSameAsPerl(TRICKY);
    // 29 words, less the "-X-" boundary, plus a BOS and an EOS token per sentence.
    expect(s.tokens).toBe(28 + 2 * TRICKY.length);
    // Untyped chunks are in both gold and guesses, so the script lists "" twice.
    expect(formatConlleval(s).match(/^ {17}: /gm)?.length).toBe(2);
  });

  it("matches it sentence by sentence too", () => {
    for (const s of TRICKY) expectSameAsPerl([s]);
  });

  it("rounds printed percentages half to even, as perl's printf does", () => {
    // 32 guessed chunks, 1 correct: precision 3.125 exactly, printed 3.12
    // (toFixed would print 3.13); 5 of 32 would be 15.625 → 15.62.
    const gold: string[] = [];
    const pred: string[] = [];
    for (let i = 0; i < 32; i++) {
      gold.push(i === 0 ? "B-x" : "O");
      pred.push("B-x");
    }
    const words = gold.map((_, i) => `w${i}`);
    const s = expectSameAsPerl([{ words, gold, pred }]);
    expect(s.precision).toBe(3.125);
    expect(formatConlleval(s)).toContain("precision:   3.12%");
  });

  it("prints only the totals line for no input, like the script", () => {
    expect(formatConlleval(conlleval([]))).toBe(perl(""));
  });

  it("matches conlleval.pl on the real ATIS test split with perturbed predictions", () => {
    const fold = loadAtisFold("../shared/data/atis/atis.fold3.pkl.gz");
    let k = 0;
    const sentences = fold.test.map((s): TaggedSentence => {
      const gold = Array.from(s.labels, (l) => fold.labels[l]);
      // Every 7th token (counted over the split) gets another real label.
      const pred = Array.from(s.labels, (l) => (k++ % 7 === 3 ? fold.labels[(l + 1 + (k % 5)) % fold.labels.length] : fold.labels[l]));
      return { words: Array.from(s.words, (w) => fold.words[w]), gold, pred };
    });
    const score = expectSameAsPerl(sentences);
    expect(score.tokens).toBe(9198 + 2 * 893);
    expect(score.f1).toBeGreaterThan(50);
    expect(score.f1).toBeLessThan(100);
    // Gold against itself: every chunk correct.
    const perfect = expectSameAsPerl(sentences.map((s) => ({ ...s, pred: s.gold })));
    expect([perfect.precision, perfect.recall, perfect.f1, perfect.accuracy]).toEqual([100, 100, 100, 100]);
  });
});

describe("conllevalInput", () => {
  it("writes rnnslu.py's format", () => {
    const text = conllevalInput([sent([["to", "O", "O"], ["boston", "B-city", "I-city"]]), sent([])]);
    expect(text).toBe("BOS O O\nto O O\nboston B-city I-city\nEOS O O\n\nBOS O O\nEOS O O\n\n");
  });

  it("refuses fields the line format cannot hold", () => {
    const uneven = { words: ["a", "b"], gold: ["O"], pred: ["O", "O"] };
    expect(() => conlleval([uneven])).toThrow(/sentence 0 has 2 words, 1 gold tags and 2 predicted tags/);
    const e = (() => {
      try {
        conllevalInput([sent([["ok", "O", "O"]]), sent([["new york", "B-city", "B-city"]])]);
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(DataError);
    expect((e as Error).message).toBe('conlleval: sentence 1, word 0: the word "new york" is empty or holds white space');
  });
});
