// A port of conlleval.pl (CoNLL-2000, version 2004-01-26), the chunk scorer
// rnnslu.py runs on its predictions: the same chunk boundaries, counts and
// printed text, so the F1 reported here is the tutorial's F1 without perl.
// Rules kept on purpose because the script has them: "-X-" as a first field
// is a sentence boundary, a type of "0" counts as no type (perl falsiness),
// an untyped chunk type "" may be listed twice, and percentages are printed
// with C's round-half-to-even of the exact binary value.
import { DataError } from "./dataset.ts";

/** One sentence for conlleval: its words with the gold and the predicted IOB
 * tags. */
export interface TaggedSentence {
  readonly words: readonly string[];
  readonly gold: readonly string[];
  readonly pred: readonly string[];
}

/** conlleval's figures for one chunk type (a slot name): found, guessed,
 * correct, precision, recall, F1. */
export interface ChunkTypeScore {
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Chunks of this type in the predictions (conlleval's last column). */
  readonly found: number;
  /** Chunks of this type in the gold labels. */
  readonly phrases: number;
  /** Predicted chunks that match a gold chunk exactly, type included. */
  readonly correct: number;
}

/** conlleval's report over a set of sentences: token accuracy and chunk
 * precision, recall and F1 in percent, overall and per chunk type. */
export interface ConllScore {
  /** Tokens scored, the BOS/EOS lines rnnslu.py adds included. */
  readonly tokens: number;
  /** Tokens whose predicted tag equals the gold tag. */
  readonly correctTags: number;
  /** Chunks in the gold labels. */
  readonly phrases: number;
  /** Chunks in the predictions. */
  readonly foundGuessed: number;
  /** Predicted chunks that match a gold chunk exactly. */
  readonly correct: number;
  /** Percentages (0 when the denominator is 0), unrounded. */
  readonly accuracy: number;
  readonly precision: number;
  readonly recall: number;
  readonly f1: number;
  /** Per chunk type, in conlleval's (sorted) order. */
  readonly byType: ReadonlyMap<string, ChunkTypeScore>;
}

const BOUNDARY = "-X-";

/** Perl's /^([^-]*)-(.*)$/ split of a tag into chunk tag and type; a type of
 * "" or "0" is false in perl and becomes "". */
function splitTag(tag: string): readonly [string, string] {
  const m = /^([^-]*)-(.*)$/.exec(tag);
  if (!m) return [tag, ""];
  return [m[1], m[2] === "0" ? "" : m[2]];
}

/** endOfChunk of conlleval.pl, clause for clause (IOB, IOE and bracket tags). */
function endOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  let end = false;
  if (prevTag === "B" && tag === "B") end = true;
  if (prevTag === "B" && tag === "O") end = true;
  if (prevTag === "I" && tag === "B") end = true;
  if (prevTag === "I" && tag === "O") end = true;
  if (prevTag === "E" && tag === "E") end = true;
  if (prevTag === "E" && tag === "I") end = true;
  if (prevTag === "E" && tag === "O") end = true;
  if (prevTag !== "O" && prevTag !== "." && prevType !== type) end = true;
  if (prevTag === "]" || prevTag === "[") end = true;
  return end;
}

/** startOfChunk of conlleval.pl, clause for clause. */
function startOfChunk(prevTag: string, tag: string, prevType: string, type: string): boolean {
  let start = false;
  if (prevTag === "B" && tag === "B") start = true;
  if (prevTag === "I" && tag === "B") start = true;
  if (prevTag === "O" && tag === "B") start = true;
  if (prevTag === "O" && tag === "I") start = true;
  if (prevTag === "E" && tag === "E") start = true;
  if (prevTag === "E" && tag === "I") start = true;
  if (prevTag === "O" && tag === "E") start = true;
  if (tag !== "O" && tag !== "." && prevType !== type) start = true;
  if (tag === "[" || tag === "]") start = true;
  return start;
}

const bump = (m: Map<string, number>, k: string): void => void m.set(k, (m.get(k) ?? 0) + 1);

/** The main loop of conlleval.pl, fed one input line at a time. */
class Scorer {
  private inCorrect = false;
  private lastCorrect = "O";
  private lastGuessed = "O";
  private lastCorrectType = "";
  private lastGuessedType = "";
  private tokens = 0;
  private correctTags = 0;
  private correctChunk = 0;
  private foundCorrect = 0;
  private foundGuessed = 0;
  private readonly correctBy = new Map<string, number>();
  private readonly foundCorrectBy = new Map<string, number>();
  private readonly foundGuessedBy = new Map<string, number>();

  /** One line "first gold pred"; an empty line is passed as the boundary. */
  line(first: string, goldTag: string, predTag: string): void {
    // A boundary line (blank or "-X- ...") is read as "-X- O O".
    if (first === BOUNDARY) [goldTag, predTag] = ["O", "O"];
    const [guessed, guessedType] = splitTag(predTag);
    const [correct, correctType] = splitTag(goldTag);
    const endC = endOfChunk(this.lastCorrect, correct, this.lastCorrectType, correctType);
    const endG = endOfChunk(this.lastGuessed, guessed, this.lastGuessedType, guessedType);
    if (this.inCorrect) {
      if (endC && endG && this.lastGuessedType === this.lastCorrectType) {
        this.inCorrect = false;
        this.correctChunk++;
        bump(this.correctBy, this.lastCorrectType);
      } else if (endC !== endG || guessedType !== correctType) {
        this.inCorrect = false;
      }
    }
    const startC = startOfChunk(this.lastCorrect, correct, this.lastCorrectType, correctType);
    const startG = startOfChunk(this.lastGuessed, guessed, this.lastGuessedType, guessedType);
    if (startC && startG && guessedType === correctType) this.inCorrect = true;
    if (startC) {
      this.foundCorrect++;
      bump(this.foundCorrectBy, correctType);
    }
    if (startG) {
      this.foundGuessed++;
      bump(this.foundGuessedBy, guessedType);
    }
    if (first !== BOUNDARY) {
      if (correct === guessed && guessedType === correctType) this.correctTags++;
      this.tokens++;
    }
    [this.lastGuessed, this.lastCorrect, this.lastGuessedType, this.lastCorrectType] = [guessed, correct, guessedType, correctType];
  }

  finish(): ConllScore {
    if (this.inCorrect) {
      this.correctChunk++;
      bump(this.correctBy, this.lastCorrectType);
    }
    const { tokens, correctTags, correctChunk: correct, foundCorrect: phrases, foundGuessed } = this;
    const precision = foundGuessed > 0 ? (100 * correct) / foundGuessed : 0;
    const recall = phrases > 0 ? (100 * correct) / phrases : 0;
    const byType = new Map<string, ChunkTypeScore>();
    const types = [...new Set([...this.foundCorrectBy.keys(), ...this.foundGuessedBy.keys()])].sort(byCodePoints);
    for (const t of types) {
      const c = this.correctBy.get(t) ?? 0;
      const found = this.foundGuessedBy.get(t) ?? 0;
      const fc = this.foundCorrectBy.get(t) ?? 0;
      const p = found ? (100 * c) / found : 0;
      const r = fc ? (100 * c) / fc : 0;
      byType.set(t, { precision: p, recall: r, f1: p + r === 0 ? 0 : (2 * p * r) / (p + r), found, phrases: fc, correct: c });
    }
    return {
      tokens, correctTags, phrases, foundGuessed, correct, precision, recall, byType,
      accuracy: tokens > 0 ? (100 * correctTags) / tokens : 0,
      f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0,
    };
  }
}

/** Perl's default sort compares bytes; for UTF-8 that is code point order
 * (JS's default compares UTF-16 units, which differs above U+FFFF). */
function byCodePoints(a: string, b: string): number {
  const x = [...a].map((c) => c.codePointAt(0) ?? 0);
  const y = [...b].map((c) => c.codePointAt(0) ?? 0);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

/** Each field becomes one space-separated item of a conlleval line, so it
 * must be non-empty and free of white space. */
function checkSentence(s: TaggedSentence, i: number): void {
  if (s.gold.length !== s.words.length || s.pred.length !== s.words.length) {
    throw new DataError(`conlleval: sentence ${i} has ${s.words.length} words, ${s.gold.length} gold tags and ${s.pred.length} predicted tags`);
  }
  for (let j = 0; j < s.words.length; j++) {
    for (const [what, v] of [["word", s.words[j]], ["gold tag", s.gold[j]], ["predicted tag", s.pred[j]]] as const) {
      if (v === "" || /\s/.test(v)) {
        throw new DataError(`conlleval: sentence ${i}, word ${j}: the ${what} ${JSON.stringify(v)} is empty or holds white space`);
      }
    }
  }
}

/** Scores sentences as conlleval.pl scores conllevalInput(sentences). */
export function conlleval(sentences: readonly TaggedSentence[]): ConllScore {
  const scorer = new Scorer();
  sentences.forEach((s, i) => {
    checkSentence(s, i);
    scorer.line("BOS", "O", "O");
    for (let j = 0; j < s.words.length; j++) scorer.line(s.words[j], s.gold[j], s.pred[j]);
    scorer.line("EOS", "O", "O");
    scorer.line(BOUNDARY, "O", "O");
  });
  return scorer.finish();
}

/** The input rnnslu.py writes for conlleval.pl: per sentence "BOS O O", "word gold pred" lines, "EOS O O", blank line. */
export function conllevalInput(sentences: readonly TaggedSentence[]): string {
  const lines: string[] = [];
  sentences.forEach((s, i) => {
    checkSentence(s, i);
    lines.push("BOS O O");
    for (let j = 0; j < s.words.length; j++) lines.push(`${s.words[j]} ${s.gold[j]} ${s.pred[j]}`);
    lines.push("EOS O O", "");
  });
  return lines.map((l) => l + "\n").join("");
}

/** printf("%6.2f"). C rounds the exact binary value half to even, toFixed
 * rounds halves up; the two differ only on exact ties, which for a double
 * are the odd multiples of 1/8 (12.125 prints as 12.12). */
function f6(x: number): string {
  let s = x.toFixed(2);
  if (Number.isInteger(8 * x) && (8 * x) % 2 !== 0) {
    const lo = Math.floor(100 * x);
    const n = lo % 2 === 0 ? lo : lo + 1;
    s = `${Math.floor(n / 100)}.${String(n % 100).padStart(2, "0")}`;
  }
  return s.padStart(6);
}

/** printf("%17s"): perl pads by bytes, so width counts UTF-8 bytes. */
function s17(s: string): string {
  return " ".repeat(Math.max(0, 17 - new TextEncoder().encode(s).length)) + s;
}

/** printf("% 4d"): a space for the sign, then at least 4 characters. */
const d4 = (n: number): string => (n < 0 ? String(n) : " " + String(n)).padStart(4);

/** conlleval.pl's output text, byte for byte */
export function formatConlleval(s: ConllScore): string {
  let out = `processed ${s.tokens} tokens with ${s.phrases} phrases; found: ${s.foundGuessed} phrases; correct: ${s.correct}.\n`;
  if (s.tokens > 0) {
    out += `accuracy: ${f6(s.accuracy)}%; ${s.correct} ${s.phrases} ${s.foundGuessed} `;
    out += `precision: ${f6(s.precision)}%; recall: ${f6(s.recall)}%; FB1: ${f6(s.f1)}\n`;
  }
  for (const [type, t] of s.byType) {
    const row = `${s17(type)}: ${d4(t.correct)} ${d4(t.phrases)} ${d4(t.found)} ` +
      `precision: ${f6(t.precision)}%; recall: ${f6(t.recall)}%; FB1: ${f6(t.f1)}  ${t.found}\n`;
    // The script skips a repeated type only when the previous one is true in
    // perl, so the untyped "" is listed twice when both gold and guesses have it.
    out += type === "" && t.phrases > 0 && t.found > 0 ? row + row : row;
  }
  return out;
}
