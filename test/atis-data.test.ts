// ATIS data: the pickle reader on real and hand-made pickles, the fold
// loader's checks, and rnnslu.py's context windows.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { unpickle } from "../runtime/data/pickle.ts";
import { contextWindows, loadAtisFold } from "../runtime/node/atis.ts";
import { dataErrorOf } from "./setup/data-error.ts";

const FOLD3 = "../shared/data/atis/atis.fold3.pkl.gz";

const errorOf = dataErrorOf;

function tmpFile(name: string, bytes: Uint8Array | string): string {
  const file = join(mkdtempSync(join(tmpdir(), "dlt-atis-")), name);
  writeFileSync(file, bytes);
  return file;
}

const esc = (text: string): string => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
const latin1 = (text: string): Uint8Array => Uint8Array.from(text, (c) => c.charCodeAt(0));

// A protocol-0 pickle writer with the opcodes Python 2 used for the folds,
// so the loader's checks can be driven by small hand-made files.
type P = number | string | readonly P[] | { readonly tuple: readonly P[] } | { readonly dict: readonly (readonly [P, P])[] } | Int32Array;

function quote(bytes: Uint8Array): string {
  let s = "S'";
  for (const b of bytes) s += b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c ? String.fromCharCode(b) : "\\x" + b.toString(16).padStart(2, "0");
  return s + "'\n";
}

/** What numpy 1.x on Python 2 wrote for a vector, byte for byte (for 'i4'). */
function ndarrayP0(code: string, order: string, n: number, bytes: Uint8Array): string {
  return "cnumpy.core.multiarray\n_reconstruct\n(cnumpy\nndarray\n(I0\ntS'b'\ntR" +
    `(I1\n(I${n}\ntcnumpy\ndtype\n(S'${code}'\nI0\nI1\ntR(I3\nS'${order}'\nNNNI-1\nI-1\nI0\ntbI00\n` + quote(bytes) + "tb";
}

function p0(v: P): string {
  if (typeof v === "number") return `I${v}\n`;
  if (typeof v === "string") return quote(latin1(v));
  if (v instanceof Int32Array) return ndarrayP0("i4", "<", v.length, new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  if (Array.isArray(v)) return "(l" + v.map((x: P) => p0(x) + "a").join("");
  if ("tuple" in v) return "(" + v.tuple.map(p0).join("") + "t";
  if ("dict" in v) return "(d" + v.dict.map(([k, x]) => p0(k) + p0(x) + "s").join("");
  throw new Error("unreachable");
}

const pickle0 = (v: P): Uint8Array => latin1(p0(v) + ".");
const names = (xs: readonly string[]): P => ({ dict: xs.map((x, i) => [x, i] as const) });
const i32 = (...xs: number[]): Int32Array => Int32Array.from(xs);

/** A tiny fold: 3 words, 2 labels, 1 table; one sentence per split. */
function tinyFold(valid: readonly Int32Array[] = [i32(0, 1)], testLabels: Int32Array = i32(1, 0)): P {
  const split = (words: readonly Int32Array[], labels: readonly Int32Array[]): P => ({
    tuple: [words, words.map((w) => new Int32Array(w.length)), labels],
  });
  const dicts: P = { dict: [["labels2idx", names(["O", "B-city"])], ["tables2idx", names(["t"])], ["words2idx", names(["to", "boston", "please"])]] };
  const validLabels = valid.map((w) => new Int32Array(w.length));
  return { tuple: [split([i32(0, 1, 2)], [i32(0, 1, 0)]), split(valid, validLabels), split([i32(2, 1)], [testLabels]), dicts] };
}

const gzFile = (name: string, v: P): string => tmpFile(name, gzipSync(pickle0(v)));

describe("ATIS fold 3", () => {
  const fold = loadAtisFold(FOLD3);

  it("has the tutorial's sizes and vocabularies", () => {
    expect([fold.train.length, fold.valid.length, fold.test.length]).toEqual([3983, 995, 893]);
    expect([fold.words.length, fold.labels.length]).toEqual([572, 127]);
    expect(fold.labels.indexOf("O")).toBe(126);
    const tokens = (ss: typeof fold.train): number => ss.reduce((n, s) => n + s.words.length, 0);
    const longest = (ss: typeof fold.train): number => Math.max(...ss.map((s) => s.words.length));
    expect([tokens(fold.train), tokens(fold.valid), tokens(fold.test)]).toEqual([45376, 11214, 9198]);
    expect([longest(fold.train), longest(fold.valid), longest(fold.test)]).toEqual([46, 30, 30]);
  });

  it("keeps every index in range and decodes the first test sentence", () => {
    for (const s of [...fold.train, ...fold.valid, ...fold.test]) {
      expect(s.labels.length).toBe(s.words.length);
      for (const l of s.labels) if (l < 0 || l >= 127) throw new Error(`label ${l} out of range`);
      for (const w of s.words) if (w < 0 || w >= 572) throw new Error(`word ${w} out of range`);
    }
    const s = fold.test[0];
    expect(Array.from(s.words, (w) => fold.words[w]).join(" ")).toBe(
      "i would like to find a flight from charlotte to las vegas that makes a stop in st. louis",
    );
    expect(Array.from(s.labels, (l) => fold.labels[l]).filter((l) => l !== "O")).toEqual([
      "B-fromloc.city_name", "B-toloc.city_name", "I-toloc.city_name", "B-stoploc.city_name", "I-stoploc.city_name",
    ]);
  });
});

describe("contextWindows", () => {
  // rnnslu.py: lpadded = win // 2 * [-1] + l + win // 2 * [-1]; out = [lpadded[i:i + win] for i in range(len(l))]
  it("equals contextwin on small sentences", () => {
    expect(Array.from(contextWindows(i32(5, 6, 7, 8), 3, -1))).toEqual([-1, 5, 6, 5, 6, 7, 6, 7, 8, 7, 8, -1]);
    expect(Array.from(contextWindows(i32(3, 4), 5, 572))).toEqual([572, 572, 3, 4, 572, 572, 3, 4, 572, 572]);
    expect(Array.from(contextWindows(i32(9, 8, 7), 1, 0))).toEqual([9, 8, 7]);
    expect(Array.from(contextWindows(i32(1, 2, 3, 4, 5, 6, 7), 7, -1)).slice(0, 14)).toEqual([-1, -1, -1, 1, 2, 3, 4, -1, -1, 1, 2, 3, 4, 5]);
  });

  it("refuses an even or non-positive window", () => {
    expect(errorOf(() => contextWindows(i32(1), 4, 0)).message).toMatch(/positive odd number of words, found 4/);
    expect(errorOf(() => contextWindows(i32(1), 0, 0)).message).toMatch(/found 0/);
  });
});

describe("pickle reader", () => {
  it("reads Python's own protocol 0 and 2 pickles of plain values", () => {
    // pickle.dumps([1, 'a', u'\u00e9', (1, 2), {'a': 1.5}, 2**40, -3, True, None], protocol=0 and 2), Python 3.11.
    const p0bytes = latin1("(lp0\nI1\naVa\np1\naV\xe9\np2\na(I1\nI2\ntp3\na(dp4\ng1\nF1.5\nsaL1099511627776L\naI-3\naI01\naNa.");
    const p2bytes = latin1(
      "\x80\x02]q\x00(K\x01X\x01\x00\x00\x00aq\x01X\x02\x00\x00\x00\xc3\xa9q\x02K\x01K\x02\x86q\x03}q\x04h\x01G?\xf8\x00\x00\x00\x00\x00\x00" +
        "s\x8a\x06\x00\x00\x00\x00\x00\x01J\xfd\xff\xff\xff\x88Ne.",
    );
    const dict = { kind: "dict", entries: new Map([["a", { kind: "float", value: 1.5 }]]) };
    const expected = { kind: "list", items: [1, "a", "é", { kind: "tuple", items: [1, 2] }, dict, 2 ** 40, -3, true, null] };
    expect(unpickle(p0bytes, "p0")).toEqual(expected);
    expect(unpickle(p2bytes, "p2")).toEqual(expected);
  });

  it("decodes escapes of STRING arguments", () => {
    expect(unpickle(latin1("S'a\\\\b\\'c\\n\\x41\\101\\q'\n."), "s")).toBe("a\\b'c\nAA\\q");
    expect(unpickle(latin1('S"it\'s"\n.'), "s")).toBe("it's");
  });

  it("turns numpy vectors of each dtype into typed arrays", () => {
    const array = (code: string, order: string, n: number, bytes: ArrayBufferLike): unknown =>
      unpickle(latin1(ndarrayP0(code, order, n, new Uint8Array(bytes)) + "."), "a.pkl");
    expect(array("i8", "<", 2, BigInt64Array.of(1n, -2n).buffer)).toEqual({ kind: "ndarray", dtype: "<i8", shape: [2], data: Int32Array.of(1, -2) });
    const f8 = Float64Array.of(0.5, -1.25);
    expect(array("f8", "<", 2, f8.buffer)).toEqual({ kind: "ndarray", dtype: "<f8", shape: [2], data: f8 });
    expect(array("f4", "<", 1, Float32Array.of(0.1).buffer)).toEqual({ kind: "ndarray", dtype: "<f4", shape: [1], data: Float32Array.of(0.1) });
    expect(array("u1", "|", 2, Uint8Array.of(3, 255).buffer)).toEqual({ kind: "ndarray", dtype: "|u1", shape: [2], data: Uint8Array.of(3, 255) });
    expect(array("i1", "|", 2, Int8Array.of(-3, 7).buffer)).toEqual({ kind: "ndarray", dtype: "|i1", shape: [2], data: Int8Array.of(-3, 7) });
    expect(errorOf(() => array("i8", "<", 1, BigInt64Array.of(2n ** 31n).buffer)).message).toMatch(
      /^a\.pkl: <i8 element 0 is 2147483648, outside the int32 range \(BUILD at byte \d+\)$/,
    );
    expect(errorOf(() => array("i4", "<", 3, Int32Array.of(1, 2).buffer)).message).toMatch(
      /^a\.pkl: ndarray of shape \(3\) and dtype <i4 needs 12 bytes, found 8/,
    );
    expect(errorOf(() => array("i4", ">", 1, Int32Array.of(1).buffer)).message).toMatch(/^a\.pkl: unsupported big-endian numpy dtype '>i4'/);
    expect(errorOf(() => array("c16", "<", 1, Float64Array.of(1, 2).buffer)).message).toMatch(/^a\.pkl: unsupported numpy dtype 'c16'/);
  });

  it("names the opcode and byte of anything it does not read", () => {
    expect(errorOf(() => unpickle(latin1("\x80\x02\x81."), "x.pkl")).message).toBe("x.pkl: unsupported pickle opcode 0x81 ('NEWOBJ') at byte 2");
    expect(errorOf(() => unpickle(latin1("(lp0\n\x93."), "x.pkl")).message).toBe("x.pkl: unsupported pickle opcode 0x93 ('STACK_GLOBAL') at byte 5");
    expect(errorOf(() => unpickle(latin1("cos\nsystem\n(S'ls'\ntR."), "x.pkl")).message).toBe(
      "x.pkl: unsupported pickle global 'os.system': only numpy arrays are read (GLOBAL at byte 0)",
    );
  });
});

describe("fold loader errors", () => {
  it("accepts a well-formed hand-made fold", () => {
    const fold = loadAtisFold(gzFile("tiny.pkl.gz", tinyFold()));
    expect(fold.words).toEqual(["to", "boston", "please"]);
    expect(fold.labels).toEqual(["O", "B-city"]);
    expect(Array.from(fold.test[0].labels)).toEqual([1, 0]);
  });

  it("says what to pass for a missing file", () => {
    const message = errorOf(() => loadAtisFold("/nonexistent/atis.fold9.pkl.gz")).message;
    expect(message).toMatch(/^\/nonexistent\/atis\.fold9\.pkl\.gz: file not found \(pass .*atis\.fold3\.pkl\.gz/);
  });

  it("reports a truncated pickle inside a real fold", () => {
    const cut = gunzipSync(readFileSync(FOLD3)).subarray(0, 100_000);
    const file = tmpFile("cut.pkl.gz", gzipSync(cut));
    const message = errorOf(() => loadAtisFold(file)).message;
    expect(message).toMatch(new RegExp(`^${esc(file)}: truncated pickle \\(ended at byte 100000, inside the argument of STRING at byte \\d+\\)$`));
  });

  it("tells a file that is not gzip from a damaged gzip file", () => {
    const plain = tmpFile("plain.pkl.gz", "(lp0\n.");
    expect(errorOf(() => loadAtisFold(plain)).message).toMatch(new RegExp(`^${esc(plain)}: not a gzip file \\(it starts with bytes 28 6c 70 30\\)`));
    const damaged = tmpFile("damaged.pkl.gz", readFileSync(FOLD3).subarray(0, 5000));
    expect(errorOf(() => loadAtisFold(damaged)).message).toMatch(new RegExp(`^${esc(damaged)}: a damaged or truncated gzip file`));
  });

  it("reports an unsupported opcode with the file name", () => {
    const file = tmpFile("newobj.pkl.gz", gzipSync(latin1("\x80\x02\x81.")));
    expect(errorOf(() => loadAtisFold(file)).message).toBe(`${file}: unsupported pickle opcode 0x81 ('NEWOBJ') at byte 2`);
  });

  it("reports a structure that is not (train, valid, test, dicts)", () => {
    const three = gzFile("three.pkl.gz", { tuple: [1, 2, 3] });
    expect(errorOf(() => loadAtisFold(three)).message).toMatch(new RegExp(`^${esc(three)}: expected .*found a tuple of 3 \\(atis\\.pkl\\.gz holds`));
    const bad = tinyFold();
    const items = (bad as { tuple: readonly P[] }).tuple;
    const file = gzFile("badsplit.pkl.gz", { tuple: [items[0], { tuple: [[], []] }, items[2], items[3]] });
    expect(errorOf(() => loadAtisFold(file)).message).toBe(
      `${file}: valid: expected a tuple of 3 lists (words, tables, labels), found a tuple of 2: list, list`,
    );
  });

  it("reports an empty sentence by split and index", () => {
    const file = gzFile("empty.pkl.gz", tinyFold([i32(0), i32()]));
    expect(errorOf(() => loadAtisFold(file)).message).toBe(`${file}: valid sentence 1: empty sentence (no words)`);
  });

  it("reports words and labels of different lengths", () => {
    const file = gzFile("short.pkl.gz", tinyFold(undefined, i32(1)));
    expect(errorOf(() => loadAtisFold(file)).message).toBe(`${file}: test sentence 0: 2 words but 1 labels and 2 tables`);
  });

  it("reports a label index out of range by split, sentence and word", () => {
    const file = gzFile("label.pkl.gz", tinyFold(undefined, i32(0, 2)));
    expect(errorOf(() => loadAtisFold(file)).message).toBe(`${file}: test sentence 0, word 1: label index 2 is outside [0, 2)`);
  });

  it("reports a word index out of range", () => {
    const file = gzFile("word.pkl.gz", tinyFold([i32(0, 3)]));
    expect(errorOf(() => loadAtisFold(file)).message).toBe(`${file}: valid sentence 0, word 1: word index 3 is outside [0, 3)`);
  });
});
