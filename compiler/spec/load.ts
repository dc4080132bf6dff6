// YAML → validated, located spec. Parses with node ranges, reports YAML syntax
// errors (E001) and duplicate keys (E002), validates against
// schema/dlt.schema.json with ajv (E003–E011, E025: one code per kind of
// problem, each pointing at the offending key or value), then runs the
// cross-field checks of checks.ts. Throws SpecError with every error found;
// warnings come back on `LoadedSpec.warnings`.

import { readFileSync } from "node:fs";
import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, type Node as YamlNode, type Pair, parseDocument, type Document } from "yaml";
import { runChecks } from "./checks.ts";
import { type Diagnostic, displayPath, SpecError, sortDiagnostics } from "./diagnostics.ts";
import { listOf, suggest } from "./suggest.ts";
import type { LoadedSpec, Path, Pos, Spec } from "./types.ts";

/** Where the JSON Schema of the spec language lives. */
export const SCHEMA_FILE = new URL("../../schema/dlt.schema.json", import.meta.url);

/** The JSON Schema of the spec language. */
export const SCHEMA: Readonly<Record<string, unknown>> = JSON.parse(readFileSync(SCHEMA_FILE, "utf8")) as Record<string, unknown>;

let validator: ValidateFunction | undefined;

/** The schema compiled once (strict mode, all errors). */
export function specValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true, allowUnionTypes: true });
    ajv.addVocabulary(["x-expected"]);
    validator = ajv.compile(SCHEMA);
  }
  return validator;
}

export function loadSpec(file: string): LoadedSpec {
  return loadSpecText(readFileSync(file, "utf8"), file);
}

export function loadSpecText(text: string, file: string): LoadedSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, logLevel: "error" });
  const src = new Source(file, text, lineCounter, doc);

  if (doc.errors.length > 0) {
    // After the first syntax error the rest of the parse is unreliable.
    const e = doc.errors[0]!;
    throw new SpecError([src.diagAtOffset("E001", e.pos[0], `YAML syntax error: ${YAML_MESSAGE[e.code] ?? yamlMessage(e.message)}`, { help: YAML_HELP[e.code], span: Math.max(1, e.pos[1] - e.pos[0]) })]);
  }
  const bad = src.badKeys();
  if (bad.length) throw new SpecError(bad);

  const data: unknown = doc.toJS({ maxAliasCount: 1000 });
  const validate = specValidator();
  if (!validate(data)) throw new SpecError(schemaDiagnostics(validate.errors ?? [], src, data));

  const partial = {
    file,
    text,
    spec: data as Spec,
    locate: (path: Path, opts?: { key?: boolean }) => src.locate(path, opts),
    locateIn: (path: Path, offset: number) => src.locateIn(path, offset),
  };
  const ds = runChecks(partial);
  const errors = ds.filter((d) => d.severity === "error");
  if (errors.length) throw new SpecError(errors);
  return { ...partial, warnings: ds.filter((d) => d.severity === "warning") };
}

// ---------------------------------------------------------------------------
// Positions

function yamlMessage(m: string): string {
  // yaml appends "at line L, column C" to some messages; we print our own.
  return m.replace(/ at line \d+, column \d+:?[\s\S]*$/, "").trim();
}

const YAML_MESSAGE: Readonly<Record<string, string>> = {
  MULTIPLE_DOCS: "the file holds more than one YAML document",
};

const YAML_HELP: Readonly<Record<string, string>> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  MULTIPLE_DOCS: "a spec is a single YAML document: remove the `---` separator",
  BAD_INDENT: "check the indentation and that every '[' or '{' is closed",
  MISSING_CHAR: "a flow collection ('[' or '{') or a quoted string is not closed",
  BLOCK_AS_IMPLICIT_KEY: "a key must fit on one line and be followed by ': '",
  MULTILINE_IMPLICIT_KEY: "a key must fit on one line and be followed by ': '",
  UNEXPECTED_TOKEN: "check the indentation and the ':' after each key",
};

function keyString(pair: Pair): string {
  const k = pair.key;
  if (isScalar(k)) return String(k.value);
  return String(k);
}

type Located = { node: YamlNode | null; pair?: Pair; depth: number };

class Source {
  readonly lines: string[];
  constructor(
    readonly file: string,
    readonly text: string,
    readonly lc: LineCounter,
    readonly doc: Document,
  ) {
    this.lines = text.split(/\r?\n/);
  }

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
    const rest = this.text.slice(offset, this.text.indexOf("\n", offset) < 0 ? undefined : this.text.indexOf("\n", offset));
    const q = rest[0];
    if (q === '"' || q === "'") {
      const end = rest.indexOf(q, 1);
      return end > 0 ? end + 1 : 1;
    }
    const m = /^[A-Za-z0-9_.+\-]+/.exec(rest);
    return m ? m[0].length : 1;
  }

  diagAtOffset(code: string, offset: number, message: string, extra: Partial<Diagnostic> = {}): Diagnostic {
    const p = this.pos(offset);
    return { code, severity: "error", file: this.file, line: p.line, col: p.col, message, span: this.spanAt(offset), sourceLine: this.lines[p.line - 1], ...stripUndefined(extra) };
  }

  diagAt(code: string, path: Path, message: string, extra: Partial<Diagnostic> & { key?: boolean } = {}): Diagnostic {
    const { key, ...rest } = extra;
    return this.diagAtOffset(code, this.offset(path, { key }), message, rest);
  }

  /** Duplicate keys (E002) and keys that are not scalars (E008). */
  badKeys(): Diagnostic[] {
    const out: Diagnostic[] = [];
    const visit = (n: unknown, path: string[]): void => {
      if (isMap(n)) {
        const first = new Map<string, Pair>();
        for (const it of n.items) {
          if (it.key !== null && !isScalar(it.key)) {
            out.push(this.diagAtOffset("E008", (it.key as YamlNode).range?.[0] ?? 0, `a key must be a name, found ${isSeq(it.key) ? "a list" : isMap(it.key) ? "a mapping" : "an alias"}`, { help: NAME_HELP }));
            continue;
          }
          const k = keyString(it);
          const prev = first.get(k);
          const at = (it.key as YamlNode).range?.[0] ?? 0;
          if (prev) {
            const p0 = this.pos((prev.key as YamlNode).range?.[0] ?? 0);
            const where = path.length ? ` in '${path.join(".")}'` : "";
            out.push(this.diagAtOffset("E002", at, `duplicate key '${k}'${where}`, { help: "each key may appear once in a mapping; remove or rename one", related: [{ line: p0.line, col: p0.col, message: `'${k}' first defined here` }] }));
          } else first.set(k, it);
          visit(it.value, [...path, k]);
        }
      } else if (isSeq(n)) n.items.forEach((it, i) => visit(it, [...path, `[${i}]`]));
    };
    visit(this.doc.contents, []);
    return out;
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

// ---------------------------------------------------------------------------
// Schema errors → diagnostics

type SchemaNode = Record<string, unknown>;

function schemaAt(pointer: string): SchemaNode | undefined {
  let cur: unknown = SCHEMA;
  for (const raw of pointer.replace(/^#\/?/, "").split("/").filter(Boolean)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[seg];
  }
  return cur && typeof cur === "object" ? (cur as SchemaNode) : undefined;
}

function parsePointer(p: string, data: unknown): (string | number)[] {
  const out: (string | number)[] = [];
  let cur = data;
  for (const raw of p.split("/").slice(1)) {
    const seg = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (Array.isArray(cur)) {
      const i = Number(seg);
      out.push(i);
      cur = cur[i];
    } else {
      out.push(seg);
      cur = cur && typeof cur === "object" ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return out;
}


function where(path: Path): string {
  return path.length ? `'${displayPath(path)}'` : "the top level";
}

function inWhere(path: Path): string {
  return path.length ? `in '${displayPath(path)}'` : "at the top level";
}

export function describeValue(v: unknown): string {
  if (v === null || v === undefined) return "nothing (null)";
  if (typeof v === "string") return `the string '${v}'`;
  if (typeof v === "number") return `the number ${v}`;
  if (typeof v === "boolean") return `${v}`;
  if (Array.isArray(v)) return "a list";
  return "a mapping";
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  integer: "an integer",
  number: "a number",
  string: "a string",
  boolean: "true or false",
  array: "a list",
  object: "a mapping",
  null: "nothing",
};

function typeWanted(t: unknown): string {
  const ts = Array.isArray(t) ? t : [t];
  return ts.map((x) => TYPE_NAMES[String(x)] ?? String(x)).join(" or ");
}

function choicesOf(s: SchemaNode | undefined): string[] {
  const props = s?.properties;
  return props && typeof props === "object" ? Object.keys(props) : [];
}

function isChoice(s: SchemaNode | undefined): boolean {
  return s !== undefined && "x-expected" in s && s.type === "object";
}

function fmtNum(n: unknown): string {
  return String(n);
}

function schemaDiagnostics(errors: readonly ErrorObject[], src: Source, data: unknown): Diagnostic[] {
  const withPath = errors.map((e) => ({ e, path: parsePointer(e.instancePath, data) }));
  const key = (p: Path) => JSON.stringify(p);

  // Cascades: a wrong type makes every other complaint about that value moot;
  // `if` only summarises its branch; a name map's propertyNames repeats the
  // inner `pattern` error without the key.
  const typeAt = new Set(withPath.filter((x) => x.e.keyword === "type").map((x) => key(x.path)));
  const propNamesAt = new Set(withPath.filter((x) => x.e.keyword === "propertyNames").map((x) => key(x.path)));
  const firstTypeSeen = new Set<string>();
  const kept = withPath.filter(({ e, path }) => {
    const k = key(path);
    if (e.keyword === "if") return false;
    if (e.keyword === "pattern" && propNamesAt.has(k)) return false;
    if (typeAt.has(k)) {
      if (e.keyword !== "type" || firstTypeSeen.has(k)) return false;
      firstTypeSeen.add(k);
    }
    return true;
  });

  // A typo of a missing required key: report the typo, not the absence.
  const unknownKeys = kept.filter((x) => x.e.keyword === "additionalProperties");
  const explained = new Set<string>();
  for (const { e, path } of unknownKeys) {
    const bad = String((e.params as { additionalProperty: string }).additionalProperty);
    const s = suggest(bad, choicesOf(e.parentSchema as SchemaNode));
    if (s !== undefined) explained.add(`${key(path)}|${s}`);
  }

  const out: Diagnostic[] = [];
  for (const { e, path } of kept) {
    if (e.keyword === "required") {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      if (explained.has(`${key(path)}|${missing}`)) continue;
    }
    const d = schemaDiagnostic(e, path, src, explained);
    if (d) out.push(d);
  }
  return sortDiagnostics(out);
}

function schemaDiagnostic(e: ErrorObject, path: Path, src: Source, explained: ReadonlySet<string>): Diagnostic | undefined {
  const parent = e.parentSchema as SchemaNode | undefined;
  const value = e.data;
  const name = displayPath(path);
  const desc = typeof parent?.description === "string" ? parent.description : undefined;
  switch (e.keyword) {
    case "additionalProperties": {
      const bad = String((e.params as { additionalProperty: string }).additionalProperty);
      const valid = choicesOf(parent);
      const s = suggest(bad, valid);
      const required = Array.isArray(parent?.required) ? (parent.required as string[]) : [];
      const list = isChoice(parent) ? `expected one of: ${listOf(valid)}` : `valid keys: ${listOf(valid)}`;
      const missing = s !== undefined && required.includes(s) && explained.has(`${JSON.stringify(path)}|${s}`) ? `'${s}' is required; ` : "";
      const help = s === undefined ? list : `did you mean '${s}'? (${missing}${list})`;
      return src.diagAt("E003", [...path, bad], `unknown key '${bad}' ${inWhere(path)}`, { key: true, help });
    }
    case "required": {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      const props = (parent?.properties ?? {}) as Record<string, SchemaNode>;
      const what = props[missing]?.description;
      return src.diagAt("E004", path, `missing required key '${missing}' ${inWhere(path)}`, {
        key: true,
        help: `add \`${missing}: …\`${what ? ` — ${what}` : ""}`,
      });
    }
    case "type": {
      const expected = typeof parent?.["x-expected"] === "string" ? (parent["x-expected"] as string) : typeWanted((e.params as { type: unknown }).type);
      if (path.length === 0) {
        return src.diagAtOffset("E005", 0, value === null || value === undefined ? "the spec is empty" : `the spec must be a mapping of model, data, params, graph, losses, phases; found ${describeValue(value)}`, {
          help: "start from specs/logreg.yaml",
        });
      }
      return src.diagAt("E005", path, `${where(path)} must be ${expected}, found ${describeValue(value)}`, {
        key: value === null || value === undefined,
        help: value === null || value === undefined ? "give it a value after the ':'" : typeof value === "string" && /^-?\d+(\.\d*)?([eE][+-]?\d+)?$/.test(value) ? "remove the quotes to write a number" : undefined,
        notes: desc ? [`${name}: ${desc}`] : undefined,
      });
    }
    case "minimum":
    case "maximum":
    case "exclusiveMinimum":
    case "exclusiveMaximum": {
      const p = e.params as { comparison: string; limit: number };
      const cmp = { ">=": "≥", "<=": "≤", ">": ">", "<": "<" }[p.comparison] ?? p.comparison;
      return src.diagAt("E006", path, `${where(path)} must be ${cmp} ${fmtNum(p.limit)}, found ${fmtNum(value)}`, { notes: desc ? [`${name}: ${desc}`] : undefined });
    }
    case "maxItems": {
      const p = e.params as { limit: number };
      return src.diagAt("E006", path, `${where(path)} has ${Array.isArray(value) ? value.length : "too many"} items, at most ${p.limit} are allowed`, { notes: desc ? [`${name}: ${desc}`] : undefined });
    }
    case "enum": {
      const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
      const bad = String(value);
      const union = schemaAt(e.schemaPath.replace(/\/then\/enum$/, "")) as SchemaNode | undefined;
      const objChoices = union && e.schemaPath.endsWith("/then/enum") ? choicesOf(union.else as SchemaNode | undefined) : [];
      if (objChoices.includes(bad)) {
        return src.diagAt("E007", path, `'${bad}' needs parameters in ${where(path)}`, { help: `write it as a mapping: \`{ ${bad}: { … } }\`; expected ${String(union?.["x-expected"] ?? allowed.join(", "))}` });
      }
      const s = suggest(bad, [...allowed, ...objChoices]);
      const expected = objChoices.length ? `expected ${String(union?.["x-expected"])}` : `expected one of: ${allowed.join(", ")}`;
      return src.diagAt("E007", path, `${where(path)} cannot be '${bad}'`, { help: s === undefined ? expected : `did you mean '${s}'? (${expected})` });
    }
    case "pattern":
      return src.diagAt("E008", path, `'${String(value)}' is not a valid name (${where(path)})`, { help: NAME_HELP });
    case "propertyNames": {
      const bad = String((e.params as { propertyName: string }).propertyName);
      return src.diagAt("E008", [...path, bad], `'${bad}' is not a valid name (a key of ${where(path)})`, { key: true, help: NAME_HELP });
    }
    case "minProperties":
    case "maxProperties": {
      const choices = choicesOf(parent);
      const present = value && typeof value === "object" ? Object.keys(value) : [];
      if (choices.length) {
        const exactlyOne = parent?.maxProperties === 1;
        const msg =
          present.length === 0
            ? `${where(path)} needs ${exactlyOne ? "one" : "at least one"} of: ${choices.join(", ")}`
            : `${where(path)} takes exactly one of ${choices.join(", ")}; found ${present.length}: ${present.join(", ")}`;
        return src.diagAt("E009", path, msg, { key: true, help: exactlyOne ? (present.length ? `keep one of ${present.join(", ")}` : `e.g. ${EXAMPLES[choices[0]!] ?? `{ ${choices[0]}: … }`}`) : `add a term, e.g. ${EXAMPLES[choices[0]!] ?? choices[0]}` });
      }
      return src.diagAt("E011", path, `${where(path)} must not be empty`, { key: true, notes: desc ? [`${name}: ${desc}`] : undefined });
    }
    case "minItems":
      return src.diagAt("E011", path, `${where(path)} must not be empty`, { key: true, notes: desc ? [`${name}: ${desc}`] : undefined });
    case "minLength":
      return src.diagAt("E011", path, `${where(path)} must not be an empty string`, { notes: desc ? [`${name}: ${desc}`] : undefined });
    case "uniqueItems": {
      const p = e.params as { i: number; j: number };
      const a = Math.max(p.i, p.j);
      const b = Math.min(p.i, p.j);
      const first = src.locate([...path, b]);
      const item = Array.isArray(value) ? String(value[a]) : "?";
      return src.diagAt("E025", [...path, a], `'${item}' is listed twice in ${where(path)}`, { help: "remove the repeated item", related: [{ line: first.line, col: first.col, message: "first listed here" }] });
    }
    default:
      return src.diagAt("E005", path, `${where(path)}: ${e.message ?? "invalid value"}`);
  }
}

const NAME_HELP = "names start with a letter or '_' and contain only letters, digits and '_'";

const EXAMPLES: Readonly<Record<string, string>> = {
  sgd: "`{ sgd: { lr: 0.1 } }`",
  nll: "`nll: { probs: p_y_given_x, labels: y }`",
  zero_one: "`{ zero_one: { probs: p_y_given_x, labels: y } }`",
  constant: "`{ constant: { value: 0 } }`",
  dense: "`{ dense: { input: x, weight: W, bias: b } }`",
};
