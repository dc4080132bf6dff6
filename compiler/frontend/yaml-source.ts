// A parsed YAML file that can point back into its text: the node at a path
// (key or value, else the nearest ancestor that exists), the file position of
// a character inside a string scalar (through quotes, escapes, folding and
// block indentation), and diagnostics located at either. Every located spec
// error starts here, so that each one names the line and column the writer
// has to change.

import { isAlias, isMap, isScalar, isSeq, type LineCounter, type Node as YamlNode, type Pair, type Document } from "yaml";
import { type Diagnostic, tokenSpan } from "./diagnostics.ts";
import type { Path, Pos } from "./types.ts";

/** A mapping key as the spec sees it: a string. */
export function keyString(pair: Pair): string {
  const k = pair.key;
  if (isScalar(k)) return String(k.value);
  return String(k);
}

type Located = { node: YamlNode | null; pair?: Pair; depth: number };

/** One YAML file: its text, line index and document. */
export class YamlSource {
  readonly lines: string[];
  constructor(
    readonly file: string,
    readonly text: string,
    readonly lc: LineCounter,
    readonly doc: Document,
  ) {
    this.lines = text.split(/\r?\n/);
  }

  /** Line and column of a file offset (clamped to the text). */
  pos(offset: number): Pos {
    const p = this.lc.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line: p.line, col: p.col };
  }

  /** The deepest node along `path` (and the pair whose value it is). */
  walk(path: Path): Located {
    let node = this.doc.contents as YamlNode | null;
    let pair: Pair | undefined;
    let depth = 0;
    for (const seg of path) {
      if (isAlias(node)) node = node.resolve(this.doc) ?? null;
      let next: YamlNode | null | undefined;
      let nextPair: Pair | undefined;
      if (isMap(node)) {
        const p = node.items.filter((it) => keyString(it) === String(seg)).pop();
        if (p) {
          nextPair = p;
          next = (p.value as YamlNode | null) ?? null;
        }
      } else if (isSeq(node) && typeof seg === "number") {
        next = (node.items[seg] as YamlNode | undefined) ?? undefined;
        nextPair = undefined;
      }
      if (next === undefined && nextPair === undefined) break;
      node = next ?? null;
      pair = nextPair;
      depth++;
      if (node === null) break;
    }
    return { node, pair, depth };
  }

  /** Start offset of the node at `path` (its key with `key`), or of the
   * nearest existing ancestor. */
  offset(path: Path, opts?: { key?: boolean }): number {
    const { node, pair, depth } = this.walk(path);
    const complete = depth === path.length;
    if (pair && (opts?.key || node === null) && complete) return (pair.key as YamlNode).range?.[0] ?? 0;
    if (node?.range) return node.range[0];
    if (pair) return (pair.key as YamlNode).range?.[0] ?? 0;
    return 0;
  }

  locate(path: Path, opts?: { key?: boolean }): Pos {
    return this.pos(this.offset(path, opts));
  }

  /** Position of character `offset` of the string scalar at `path`, through
   * quotes, escapes, folding and block indentation. */
  locateIn(path: Path, offset: number): Pos {
    const { node, depth } = this.walk(path);
    if (depth !== path.length || !isScalar(node) || typeof node.value !== "string" || !node.range) return this.locate(path);
    return this.pos(scalarOffset(this.text, node.type ?? "PLAIN", node.range[0], node.range[1], node.value, offset));
  }

  /** Width of the token at `offset` (a key, a scalar on one line). */
  spanAt(offset: number): number {
    const eol = this.text.indexOf("\n", offset);
    return tokenSpan(this.text.slice(offset, eol < 0 ? undefined : eol));
  }

  /** An error diagnostic at a file offset, underlining the token there. */
  diagAtOffset(code: string, offset: number, message: string, extra: Partial<Diagnostic> = {}): Diagnostic {
    const p = this.pos(offset);
    return { code, severity: "error", file: this.file, line: p.line, col: p.col, message, span: this.spanAt(offset), sourceLine: this.lines[p.line - 1], ...stripUndefined(extra) };
  }

  /** An error diagnostic at the node at `path` (its key with `key`). */
  diagAt(code: string, path: Path, message: string, extra: Partial<Diagnostic> & { key?: boolean } = {}): Diagnostic {
    const { key, ...rest } = extra;
    return this.diagAtOffset(code, this.offset(path, { key }), message, rest);
  }
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** Maps character `offset` of a scalar's value to an offset in the file. */
export function scalarOffset(text: string, type: string, start: number, end: number, value: string, offset: number): number {
  let s = start;
  if (type === "QUOTE_DOUBLE" || type === "QUOTE_SINGLE") s++;
  else if (type === "BLOCK_LITERAL" || type === "BLOCK_FOLDED") {
    const nl = text.indexOf("\n", start);
    s = nl < 0 ? end : nl + 1;
  }
  const isWs = (c: string | undefined) => c === " " || c === "\t" || c === "\n" || c === "\r";
  let i = 0;
  while (i < value.length && s < end) {
    const v = value[i]!;
    const c = text[s]!;
    if (type === "QUOTE_DOUBLE" && c === "\\") {
      const e = text[s + 1];
      if (e === "\n" || e === "\r") {
        s += 2; // line continuation: no character
        continue;
      }
      const len = e === "x" ? 4 : e === "u" ? 6 : e === "U" ? 10 : 2;
      if (i === offset) return s;
      s += len;
      i += e === "U" && value.codePointAt(i)! > 0xffff ? 2 : 1;
      continue;
    }
    if (type === "QUOTE_SINGLE" && c === "'" && text[s + 1] === "'") {
      if (i === offset) return s;
      s += 2;
      i++;
      continue;
    }
    if (v === c) {
      if (i === offset) return s;
      s++;
      i++;
      continue;
    }
    if (isWs(c)) {
      s++; // indentation or a folded line break
      continue;
    }
    if (isWs(v)) {
      if (i === offset) return s;
      i++; // a space made by folding where the source has none left
      continue;
    }
    break;
  }
  if (i === offset && s <= end) return s;
  // Past the end or out of step: clamp to the scalar.
  return Math.min(s + Math.max(0, offset - i), Math.max(start, end - 1 - (type.startsWith("QUOTE") ? 1 : 0)));
}
