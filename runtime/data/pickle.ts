// A reader for Python pickles of protocols 0–2: the opcodes that Python 2
// writes for lists, tuples, dicts, ints, floats and strings, plus the three
// numpy globals with which an ndarray pickles itself. That covers the ATIS
// folds of the rnnslu tutorial (protocol 0, int32 arrays) without Python at
// run time. It is a data reader, not an object loader: any other GLOBAL (a
// pickle may name any callable) is refused, so unpickling never runs code.
import { DataError } from "./dataset.ts";

export interface PyFloat { readonly kind: "float"; readonly value: number }
export interface PyList { readonly kind: "list"; readonly items: readonly PyValue[] }
export interface PyTuple { readonly kind: "tuple"; readonly items: readonly PyValue[] }
/** Hashable keys. A float key is stored as its number (1.0 and 1 are one key in Python too). */
export type PyKey = null | boolean | number | bigint | string;
export interface PyDict { readonly kind: "dict"; readonly entries: ReadonlyMap<PyKey, PyValue> }
/** One of the callables an ndarray pickle names; a value only while the array is rebuilt. */
export interface PyGlobal { readonly kind: "global"; readonly name: "_reconstruct" | "ndarray" | "dtype" }
/** A numpy dtype: the type code it was created from and the byte order BUILD gave it. */
export interface PyDtype { readonly kind: "dtype"; readonly code: string; readonly byteorder: string }

/** Element storage per numpy dtype. 64-bit integers become Int32Array after a
 * range check: every consumer here wants indices, and JS has no fast int64. */
interface NdData { "|i1": Int8Array; "|u1": Uint8Array; "<i4": Int32Array; "<i8": Int32Array; "<f4": Float32Array; "<f8": Float64Array }
export type NdDtype = keyof NdData;
/** A C-ordered numpy array; `dtype` is numpy's `dtype.str` of the pickled array.
 * `data` may be a view into a buffer that other arrays of the pickle share. */
export type NdArray = {
  [D in NdDtype]: { readonly kind: "ndarray"; readonly dtype: D; readonly shape: readonly number[]; readonly data: NdData[D] };
}[NdDtype];

/** None, bool, int (a number when within ±2^53, else a bigint), str, and the
 * containers. Python 2 byte strings are decoded as Latin-1, as Python 3's
 * `pickle.load(f, encoding="latin1")` does; unicode strings keep their text. */
export type PyValue = null | boolean | number | bigint | string | PyFloat | PyList | PyTuple | PyDict | NdArray | PyDtype | PyGlobal;

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x28: "MARK", 0x2e: "STOP", 0x30: "POP", 0x31: "POP_MARK", 0x32: "DUP", 0x46: "FLOAT", 0x49: "INT", 0x4a: "BININT", 0x4b: "BININT1", 0x4c: "LONG",
  0x4d: "BININT2", 0x4e: "NONE", 0x50: "PERSID", 0x51: "BINPERSID", 0x52: "REDUCE", 0x53: "STRING", 0x54: "BINSTRING", 0x55: "SHORT_BINSTRING",
  0x56: "UNICODE", 0x58: "BINUNICODE", 0x61: "APPEND", 0x62: "BUILD", 0x63: "GLOBAL", 0x64: "DICT", 0x7d: "EMPTY_DICT", 0x65: "APPENDS", 0x67: "GET",
  0x68: "BINGET", 0x69: "INST", 0x6a: "LONG_BINGET", 0x6c: "LIST", 0x5d: "EMPTY_LIST", 0x6f: "OBJ", 0x70: "PUT", 0x71: "BINPUT", 0x72: "LONG_BINPUT",
  0x73: "SETITEM", 0x74: "TUPLE", 0x29: "EMPTY_TUPLE", 0x75: "SETITEMS", 0x47: "BINFLOAT", 0x80: "PROTO", 0x81: "NEWOBJ", 0x82: "EXT1", 0x83: "EXT2",
  0x84: "EXT4", 0x85: "TUPLE1", 0x86: "TUPLE2", 0x87: "TUPLE3", 0x88: "NEWTRUE", 0x89: "NEWFALSE", 0x8a: "LONG1", 0x8b: "LONG4", 0x42: "BINBYTES",
  0x43: "SHORT_BINBYTES", 0x8c: "SHORT_BINUNICODE", 0x8d: "BINUNICODE8", 0x8e: "BINBYTES8", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
  0x92: "NEWOBJ_EX", 0x93: "STACK_GLOBAL", 0x94: "MEMOIZE", 0x95: "FRAME", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
};

/** The callables numpy's ndarray.__reduce__ and dtype.__reduce__ name
 * ("numpy._core" is numpy 2's spelling). */
const GLOBALS: Readonly<Record<string, PyGlobal["name"]>> = {
  "numpy.core.multiarray _reconstruct": "_reconstruct", "numpy._core.multiarray _reconstruct": "_reconstruct",
  "numpy ndarray": "ndarray", "numpy dtype": "dtype",
};

/** numpy type code → the dtype.str it has once little-endian (its last digit is the item size). */
const DTYPES: Readonly<Record<string, NdDtype>> = { i1: "|i1", u1: "|u1", i4: "<i4", i8: "<i8", f4: "<f4", f8: "<f8" };

const UTF8 = new TextDecoder("utf-8", { fatal: true });
const opName = (b: number): string => OPCODE_NAMES[b] ?? "not an opcode";

function latin1(bytes: Uint8Array): string {
  let s = "";
  // apply takes any array-like; it is several times faster than a spread.
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192) as unknown as number[]);
  }
  return s;
}

/** Multi-byte elements are little-endian in every pickle this reads. */
const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function pyInt(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export type PyObject = Exclude<PyValue, null | boolean | number | bigint | string>;
/** `v` when it is an object of `kind` (a list, a tuple, ...), else undefined. */
export function ofKind<K extends PyObject["kind"]>(v: PyValue | undefined, kind: K): Extract<PyObject, { kind: K }> | undefined {
  return v !== null && typeof v === "object" && v.kind === kind ? (v as Extract<PyObject, { kind: K }>) : undefined;
}
/** Python's name for the type of `v`, for messages. */
export function pyTypeName(v: PyValue | undefined): string {
  if (v === null || v === undefined) return v === null ? "None" : "missing value";
  return typeof v === "object" ? v.kind : typeof v === "string" ? "str" : typeof v === "boolean" ? "bool" : "int";
}

class Unpickler {
  private pos = 0;
  /** Byte offset of the opcode being executed, for messages. */
  private at = 0;
  private readonly stack: PyValue[] = [];
  private readonly marks: { readonly depth: number; readonly at: number }[] = [];
  private readonly memo = new Map<number, PyValue>();
  private scratch = new Uint8Array(256);
  private slab = new Uint8Array(0);
  private slabUsed = 0;

  constructor(private readonly b: Uint8Array, private readonly file: string) {}

  private fail(what: string): never {
    throw new DataError(`${this.file}: ${what} (${opName(this.b[this.at])} at byte ${this.at})`);
  }
  private truncated(inside: string): never {
    throw new DataError(`${this.file}: truncated pickle (ended at byte ${this.b.length}, inside ${inside})`);
  }
  private take(n: number): Uint8Array {
    if (n < 0) this.fail(`negative length ${n}`);
    if (this.pos + n > this.b.length) this.truncated(`the argument of ${opName(this.b[this.at])} at byte ${this.at}`);
    return this.b.subarray(this.pos, (this.pos += n));
  }
  private le(n: number): number {
    const a = this.take(n);
    let v = 0;
    for (let i = n - 1; i >= 0; i--) v = v * 256 + a[i];
    return v;
  }
  /** Index of the newline that ends the argument starting at `pos`; moves
   * past it. Callers slice [old pos, end) themselves, as most need no copy. */
  private line(): number {
    const end = this.b.indexOf(0x0a, this.pos);
    if (end < 0) this.truncated(`the argument of ${opName(this.b[this.at])} at byte ${this.at}`);
    this.pos = end + 1;
    return end;
  }
  private lineBytes(): Uint8Array {
    return this.b.subarray(this.pos, this.line());
  }
  /** The top of the stack; values below the last MARK are out of reach. */
  private peek(): PyValue {
    const floor = this.marks.length ? this.marks[this.marks.length - 1].depth : 0;
    if (this.stack.length <= floor) this.fail("malformed pickle: the stack is empty");
    return this.stack[this.stack.length - 1];
  }
  private pop(): PyValue {
    const v = this.peek();
    this.stack.length--;
    return v;
  }
  private popMark(): PyValue[] {
    const m = this.marks.pop();
    if (!m) this.fail("malformed pickle: no MARK to close");
    return this.stack.splice(m.depth);
  }
  private popN(n: number): PyValue[] {
    return Array.from({ length: n }, () => this.pop()).reverse();
  }
  private key(v: PyValue): PyKey {
    if (v === null || typeof v !== "object") return v;
    if (v.kind === "float") return v.value;
    return this.fail(`unsupported dict key of type ${v.kind}`);
  }
  // Containers are built here and appended to by later opcodes; the exported
  // types are readonly because callers receive them finished.
  private listItems(v: PyValue): PyValue[] {
    return (ofKind(v, "list") ?? this.fail(`APPEND to a ${pyTypeName(v)}, expected a list`)).items as PyValue[];
  }
  private dictEntries(v: PyValue): Map<PyKey, PyValue> {
    return (ofKind(v, "dict") ?? this.fail(`SETITEM on a ${pyTypeName(v)}, expected a dict`)).entries as Map<PyKey, PyValue>;
  }
  private get(n: number | bigint): PyValue {
    const v = this.memo.get(Number(n));
    if (v === undefined) this.fail(`malformed pickle: memo key ${n} was never stored`);
    return v;
  }
  /** A protocol-0 decimal integer. Most are short, so they skip BigInt. */
  private decimal(start: number, end: number): number | bigint {
    const b = this.b;
    const neg = b[start] === 0x2d;
    const from = neg || b[start] === 0x2b ? start + 1 : start;
    let v = 0;
    for (let i = from; i < end; i++) {
      const d = b[i] - 0x30;
      if (d < 0 || d > 9) return this.fail(`expected a decimal integer, found '${latin1(b.subarray(start, end))}'`);
      v = v * 10 + d;
    }
    if (end <= from) this.fail("expected a decimal integer, found nothing");
    if (end - from > 15) return pyInt(BigInt(latin1(b.subarray(start, end))));
    return neg ? -v || 0 : v;
  }

  run(): PyValue {
    const b = this.b;
    for (;;) {
      if (this.pos >= b.length) {
        const m = this.marks[this.marks.length - 1];
        this.truncated(m ? `the group opened by MARK at byte ${m.at}` : b.length ? "the pickle, before its STOP opcode" : "an empty file");
      }
      this.at = this.pos;
      const op = b[this.pos++];
      const s = this.stack;
      switch (op) {
        case 0x28: this.marks.push({ depth: s.length, at: this.at }); break;
        case 0x2e: return this.pop();
        case 0x30: this.pop(); break;
        case 0x31: this.popMark(); break;
        case 0x32: s.push(this.peek()); break;
        case 0x4e: s.push(null); break;
        case 0x88: s.push(true); break;
        case 0x89: s.push(false); break;
        case 0x49: { // Python 2 writes the bools as "I01" / "I00".
          const [from, to] = [this.pos, this.line()];
          s.push(to - from === 2 && b[from] === 0x30 && b[from + 1] <= 0x31 && b[from + 1] >= 0x30 ? b[from + 1] === 0x31 : this.decimal(from, to));
          break;
        }
        case 0x4c: { const from = this.pos; const to = this.line(); s.push(this.decimal(from, b[to - 1] === 0x4c ? to - 1 : to)); break; }
        case 0x4a: s.push(this.le(4) | 0); break;
        case 0x4b: case 0x4d: s.push(this.le(op === 0x4b ? 1 : 2)); break;
        case 0x8a: case 0x8b: {
          const a = this.take(this.le(op === 0x8a ? 1 : 4));
          let v = 0n;
          for (let i = a.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(a[i]);
          if (a.length && a[a.length - 1] >= 0x80) v -= 1n << BigInt(8 * a.length);
          s.push(pyInt(v));
          break;
        }
        case 0x46: {
          const t = latin1(this.lineBytes());
          // Python's repr of a float: a decimal literal, inf or nan.
          if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|nan)$/i.test(t)) this.fail(`expected a float, found '${t}'`);
          s.push({ kind: "float", value: /inf/i.test(t) ? (t[0] === "-" ? -Infinity : Infinity) : Number(t) });
          break;
        }
        case 0x47: { const a = this.take(8); s.push({ kind: "float", value: new DataView(a.buffer, a.byteOffset, 8).getFloat64(0, false) }); break; }
        case 0x53: s.push(this.quoted(this.lineBytes())); break;
        case 0x54: case 0x55: s.push(latin1(this.take(op === 0x54 ? this.le(4) | 0 : this.le(1)))); break;
        case 0x56: s.push(rawUnicodeEscape(this.lineBytes(), (m) => this.fail(m))); break;
        case 0x58: {
          const a = this.take(this.le(4));
          try { s.push(UTF8.decode(a)); } catch { this.fail("invalid UTF-8 in a unicode string"); }
          break;
        }
        case 0x29: s.push({ kind: "tuple", items: [] }); break;
        case 0x74: s.push({ kind: "tuple", items: this.popMark() }); break;
        case 0x85: case 0x86: case 0x87: s.push({ kind: "tuple", items: this.popN(op - 0x84) }); break;
        case 0x5d: s.push({ kind: "list", items: [] }); break;
        case 0x6c: s.push({ kind: "list", items: this.popMark() }); break;
        case 0x61: { const v = this.pop(); this.listItems(this.peek()).push(v); break; }
        case 0x65: { const vs = this.popMark(); this.listItems(this.peek()).push(...vs); break; }
        case 0x7d: s.push({ kind: "dict", entries: new Map() }); break;
        case 0x64: case 0x75: case 0x73: {
          const kv = op === 0x73 ? this.popN(2) : this.popMark();
          if (kv.length % 2) this.fail("malformed pickle: a dict needs key/value pairs, found an odd count");
          const entries = op === 0x64 ? new Map<PyKey, PyValue>() : this.dictEntries(this.peek());
          for (let i = 0; i < kv.length; i += 2) entries.set(this.key(kv[i]), kv[i + 1]);
          if (op === 0x64) s.push({ kind: "dict", entries });
          break;
        }
        case 0x70: this.memo.set(Number(this.decimal(this.pos, this.line())), this.peek()); break;
        case 0x71: case 0x72: this.memo.set(this.le(op === 0x71 ? 1 : 4), this.peek()); break;
        case 0x67: s.push(this.get(this.decimal(this.pos, this.line()))); break;
        case 0x68: case 0x6a: s.push(this.get(this.le(op === 0x68 ? 1 : 4))); break;
        case 0x80: if (this.le(1) > 2) this.fail(`pickle protocol ${b[this.at + 1]} is not supported (only protocols 0–2)`); break;
        case 0x63: {
          const where = `${latin1(this.lineBytes())} ${latin1(this.lineBytes())}`;
          if (!Object.hasOwn(GLOBALS, where)) this.fail(`unsupported pickle global '${where.replace(" ", ".")}': only numpy arrays are read`);
          s.push({ kind: "global", name: GLOBALS[where] });
          break;
        }
        case 0x52: { const args = this.pop(); s.push(this.reduce(this.pop(), args)); break; }
        case 0x62: { const state = this.pop(); this.build(this.peek(), state); break; }
        default:
          throw new DataError(`${this.file}: unsupported pickle opcode 0x${op.toString(16).padStart(2, "0")} ('${opName(op)}') at byte ${this.at}`);
      }
    }
  }

  /** STRING's argument: a Python repr, decoded like codecs.escape_decode. */
  private quoted(a: Uint8Array): string {
    const q = a[0];
    if (a.length < 2 || (q !== 0x27 && q !== 0x22) || a[a.length - 1] !== q) this.fail("the STRING argument is not quoted");
    // Decoded bytes are never longer than the literal; one scratch buffer
    // serves every STRING (the ATIS folds hold 200,000 of them).
    if (this.scratch.length < a.length) this.scratch = new Uint8Array(2 * a.length);
    const out = this.scratch;
    let n = 0;
    for (let i = 1; i < a.length - 1; i++) {
      const c = a[i];
      if (c !== 0x5c) { out[n++] = c; continue; }
      if (++i >= a.length - 1) this.fail("a trailing backslash in a STRING argument");
      const e = a[i];
      const simple = ESCAPES[e];
      if (simple !== NOT_SIMPLE) { if (simple >= 0) out[n++] = simple; continue; }
      if (e >= 0x30 && e <= 0x37) {
        let v = e - 0x30;
        for (let k = 0; k < 2 && i + 1 < a.length - 1 && a[i + 1] >= 0x30 && a[i + 1] <= 0x37; k++) v = v * 8 + a[++i] - 0x30;
        out[n++] = v & 0xff;
      } else if (e === 0x78) {
        const hi = HEX[a[i + 1]];
        const lo = HEX[a[i + 2]];
        if (i + 2 >= a.length - 1 || hi < 0 || lo < 0) this.fail("an invalid \\x escape in a STRING argument");
        out[n++] = hi * 16 + lo;
        i += 2;
      } else { out[n++] = 0x5c; out[n++] = e; }
    }
    return latin1(out.subarray(0, n));
  }

  private reduce(fv: PyValue, args: PyValue): PyValue {
    const f = ofKind(fv, "global") ?? this.fail(`REDUCE calls a ${pyTypeName(fv)}, expected a numpy global`);
    const a = (ofKind(args, "tuple") ?? this.fail(`REDUCE arguments are a ${pyTypeName(args)}, expected a tuple`)).items;
    if (f.name === "dtype") {
      const code = a[0];
      if (typeof code !== "string" || !Object.hasOwn(DTYPES, code)) {
        this.fail(`unsupported numpy dtype '${String(code)}' (supported: ${Object.keys(DTYPES).join(", ")})`);
      }
      return { kind: "dtype", code, byteorder: "=" };
    }
    // ndarray.__reduce__ always writes _reconstruct(ndarray, (0,), 'b') and
    // then BUILDs the real contents; the result is an empty int8 array.
    const shape = ofKind(a[1], "tuple")?.items;
    const cls = ofKind(a[0], "global")?.name;
    if (f.name !== "_reconstruct" || a.length !== 3 || cls !== "ndarray" || shape?.length !== 1 || shape[0] !== 0 || a[2] !== "b") {
      this.fail(`unsupported numpy call ${f.name}(...) (only the _reconstruct(ndarray, (0,), 'b') that ndarray pickles use)`);
    }
    return { kind: "ndarray", dtype: "|i1", shape: [0], data: new Int8Array(0) };
  }

  /** Array storage, carved 8-byte aligned from shared 1 MiB slabs: one
   * ArrayBuffer per array doubled the time to read an ATIS fold. */
  private alloc(n: number): Uint8Array {
    if (n > 1 << 16) return new Uint8Array(n);
    if (this.slabUsed + n > this.slab.length) { this.slab = new Uint8Array(1 << 20); this.slabUsed = 0; }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + n);
    this.slabUsed += (n + 7) & ~7;
    return out;
  }

  /** BUILD: __setstate__ of a dtype (byte order) or an ndarray (contents). */
  private build(target: PyValue, state: PyValue): void {
    const st = (ofKind(state, "tuple") ?? this.fail(`BUILD state is a ${pyTypeName(state)}, expected a tuple`)).items;
    const dtype = ofKind(target, "dtype");
    if (dtype) {
      // (version 3|4, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      const order = st[1];
      if (order === ">") this.fail(`unsupported big-endian numpy dtype '>${dtype.code}'`);
      const plain = (st.length === 8 || st.length === 9) && (st[0] === 3 || st[0] === 4) && st[2] === null && st[3] === null && st[4] === null;
      if (!plain || typeof order !== "string") this.fail("unsupported numpy dtype state (a structured dtype, or an unknown version)");
      Object.assign(dtype, { byteorder: order });
      return;
    }
    const array = ofKind(target, "ndarray") ?? this.fail(`BUILD on a ${pyTypeName(target)}, expected a numpy array or dtype`);
    // (version, shape, dtype, is_fortran, rawdata); numpy also accepts it without the version.
    const [shape, dt, fortran, raw] = st.length === 5 ? st.slice(1) : st.length === 4 ? st : [];
    const dims = (ofKind(shape, "tuple") ?? this.fail("ndarray state without a shape tuple")).items.map((d) =>
      typeof d === "number" && Number.isInteger(d) && d >= 0 ? d : this.fail("ndarray shape holds a non-integer"));
    const str = DTYPES[(ofKind(dt, "dtype") ?? this.fail("ndarray state without a dtype")).code];
    const size = Number(str[2]);
    if (fortran && dims.length > 1) this.fail("unsupported Fortran-ordered numpy array");
    if (typeof raw !== "string") return this.fail(`ndarray data is a ${pyTypeName(raw)}, expected a byte string`);
    const n = dims.reduce((p, d) => p * d, 1);
    if (raw.length !== n * size) this.fail(`ndarray of shape (${dims.join(", ")}) and dtype ${str} needs ${n * size} bytes, found ${raw.length}`);
    const bytes = this.alloc(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    Object.assign(array, decodeArray(str, size, dims, bytes, (m) => this.fail(m)));
  }
}

/** `\` escapes of Python byte-string literals: the byte, -1 for a skipped
 * line break, NOT_SIMPLE for octal, \x and unknown escapes. Lookup tables,
 * since the arrays' rawdata strings are mostly \x escapes. */
const NOT_SIMPLE = -2;
const ESCAPES = new Int16Array(256).fill(NOT_SIMPLE);
[..."\n\\'\"abfnrtv"].forEach((c, i) => (ESCAPES[c.charCodeAt(0)] = [-1, 0x5c, 0x27, 0x22, 7, 8, 12, 10, 13, 9, 11][i]));
const HEX = new Int8Array(256).fill(-1);
[..."0123456789abcdef"].forEach((c, d) => (HEX[c.charCodeAt(0)] = HEX[c.toUpperCase().charCodeAt(0)] = d));

/** UNICODE's argument: Latin-1 bytes with \uXXXX / \UXXXXXXXX escapes, which
 * count only after an odd run of backslashes (CPython's raw-unicode-escape). */
function rawUnicodeEscape(a: Uint8Array, fail: (m: string) => never): string {
  return latin1(a).replace(/(\\+)([uU])([0-9a-fA-F]{0,8})/g, (all, run: string, u: string, hex: string) => {
    if (run.length % 2 === 0) return all;
    const digits = u === "u" ? 4 : 8;
    const cp = hex.length >= digits ? parseInt(hex.slice(0, digits), 16) : -1;
    if (cp < 0 || cp > 0x10ffff) fail("an invalid \\u escape in a UNICODE argument");
    return run.slice(1) + String.fromCodePoint(cp) + hex.slice(digits);
  });
}

/** Little-endian element bytes (8-byte aligned) to the typed array of `dtype`. */
function decodeArray(dtype: NdDtype, size: number, shape: readonly number[], bytes: Uint8Array, fail: (m: string) => never): NdArray {
  if (!LITTLE_ENDIAN_HOST) {
    for (let i = 0; i < bytes.length; i += size) bytes.subarray(i, i + size).reverse();
  }
  const [buf, at, n] = [bytes.buffer, bytes.byteOffset, bytes.length / size];
  const base = { kind: "ndarray" as const, shape };
  switch (dtype) {
    case "|i1": return { ...base, dtype, data: new Int8Array(buf, at, n) };
    case "|u1": return { ...base, dtype, data: bytes };
    case "<i4": return { ...base, dtype, data: new Int32Array(buf, at, n) };
    case "<f4": return { ...base, dtype, data: new Float32Array(buf, at, n) };
    case "<f8": return { ...base, dtype, data: new Float64Array(buf, at, n) };
    case "<i8": {
      const wide = new BigInt64Array(buf, at, n);
      const data = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const x = wide[i];
        if (x < -0x80000000n || x > 0x7fffffffn) fail(`${dtype} element ${i} is ${x}, outside the int32 range`);
        data[i] = Number(x);
      }
      return { ...base, dtype, data };
    }
  }
}

/** Unpickles `bytes` (already gunzipped). `file` is only used in messages. */
export function unpickle(bytes: Uint8Array, file: string): PyValue {
  return new Unpickler(bytes, file).run();
}
