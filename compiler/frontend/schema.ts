// Schema validation: the JSON Schema of the spec language, compiled once with
// ajv, and ajv's errors turned into located diagnostics (E003–E011, E025: one
// code per kind of problem, each pointing at the offending key or value, with
// the valid choices or a likely typo as help). Cascades that say nothing new
// are dropped so that each mistake is reported once.

import Ajv2020, { type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import { type Diagnostic, displayPath, sortDiagnostics } from "./diagnostics.ts";
import { listOf, suggest } from "./suggest.ts";
import type { Path } from "./types.ts";
import { isMap, isScalar } from "yaml";
import { keyString, type YamlSource } from "./yaml-source.ts";
// Imported, not read from disk, so the front end also runs in a page.
import SCHEMA_JSON from "../../schema/dlt.schema.json" with { type: "json" };

/** The JSON Schema of the spec language (schema/dlt.schema.json). */
export const SCHEMA: Readonly<Record<string, unknown>> = SCHEMA_JSON as Record<string, unknown>;

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

/** ajv's errors for `data` as diagnostics, one per mistake, sorted by position. */
export function schemaDiagnostics(errors: readonly ErrorObject[], src: YamlSource, data: unknown): Diagnostic[] {
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
    // "Exactly one of these keys" (a oneOf of single `required`s): the oneOf
    // error says it once, not each branch's missing key.
    if (e.keyword === "required" && /\/oneOf\/\d+\/required$/.test(e.schemaPath)) return false;
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

  // An unquoted expression with a comma inside a flow mapping (`{ input:
  // dropout(h, 0.2), … }`): YAML ends the value at the comma, so the field
  // holds `dropout(h` and the rest becomes a key `0.2)`. One diagnostic, at
  // the value, instead of a bad name, an unknown key, a key without a value.
  const cuts = new Map<number, Cut>();
  for (const { e, path } of kept) {
    const c =
      e.keyword === "pattern" && typeof e.data === "string" && unbalanced(e.data)
        ? cutAt(src, path)
        : e.keyword === "additionalProperties" || e.keyword === "propertyNames"
          ? cutBefore(src, path, String((e.params as { additionalProperty?: string; propertyName?: string }).additionalProperty ?? (e.params as { propertyName?: string }).propertyName))
          : undefined;
    if (c && !cuts.has(c.start)) cuts.set(c.start, c);
  }
  const cutOf = (e: ErrorObject, path: Path): Cut | undefined => {
    if (cuts.size === 0) return undefined;
    const bad = (e.params as { additionalProperty?: string; propertyName?: string }).additionalProperty ?? (e.params as { propertyName?: string }).propertyName;
    const at = bad === undefined ? src.offset(path, { key: true }) : src.offset([...path, String(bad)], { key: true });
    const own = bad === undefined ? src.offset(path) : -1;
    return [...cuts.values()].find((c) => own === c.start || (at > c.start && at < c.end));
  };

  const out: Diagnostic[] = [];
  for (const { e, path } of kept) {
    const c = cutOf(e, path);
    if (c) {
      if (!c.reported) out.push(cutExpression(src, c, kept.some((k) => k.e.keyword === "pattern" && key(k.path) === key(c.path))));
      c.reported = true;
      continue;
    }
    if (e.keyword === "required") {
      const missing = String((e.params as { missingProperty: string }).missingProperty);
      if (explained.has(`${key(path)}|${missing}`)) continue;
    }
    if (e.keyword === "oneOf" && oneOfKeys(e.parentSchema as SchemaNode).some((k) => explained.has(`${key(path)}|${k}`))) continue;
    const d = schemaDiagnostic(e, path, src, explained);
    if (d) out.push(d);
  }
  return sortDiagnostics(out);
}

function schemaDiagnostic(e: ErrorObject, path: Path, src: YamlSource, explained: ReadonlySet<string>): Diagnostic | undefined {
  const parent = e.parentSchema as SchemaNode | undefined;
  const value = e.data;
  const name = displayPath(path);
  const desc = typeof parent?.description === "string" ? parent.description : undefined;
  switch (e.keyword) {
    case "additionalProperties": {
      const bad = String((e.params as { additionalProperty: string }).additionalProperty);
      const valid = choicesOf(parent);
      const s = suggest(bad, valid);
      // Keys required by an if/then/else branch count too (a training
      // phase's epochs, a dataset's batch_size).
      const branchRequired = (b: unknown): string[] => (b && typeof b === "object" && Array.isArray((b as SchemaNode).required) ? ((b as SchemaNode).required as string[]) : []);
      const required = [...branchRequired(parent), ...branchRequired(parent?.then), ...branchRequired(parent?.else)];
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
      const most = parent?.minItems === p.limit ? `exactly ${p.limit} are needed` : `at most ${p.limit} are allowed`;
      return src.diagAt("E006", path, `${where(path)} has ${Array.isArray(value) ? value.length : "too many"} items, ${most}`, { notes: desc ? [`${name}: ${desc}`] : undefined });
    }
    case "enum": {
      const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
      const bad = String(value);
      // A `$defs` entry that ajv compiled on its own (one referenced from
      // several places: the learning-rate schedule) reports a schemaPath
      // relative to itself; find the union whose `then` this enum is.
      const at = schemaAt(e.schemaPath.replace(/\/then\/enum$/, "")) as SchemaNode | undefined;
      const defs = Object.values((SCHEMA.$defs ?? {}) as Record<string, SchemaNode>);
      const union = at?.then === parent ? at : (defs.find((d) => d.then === parent) ?? at);
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
    case "oneOf": {
      const keys = oneOfKeys(parent);
      if (!keys.length) return src.diagAt("E005", path, `${where(path)}: ${e.message ?? "invalid value"}`);
      const present = value && typeof value === "object" ? keys.filter((k) => k in value) : [];
      const props = (parent?.properties ?? {}) as Record<string, SchemaNode>;
      const what = (k: string) => (typeof props[k]?.description === "string" ? ` — ${k}: ${props[k]!.description as string}` : "");
      return present.length
        ? src.diagAt("E009", path, `${where(path)} takes exactly one of ${keys.join(", ")}; found ${present.length}: ${present.join(", ")}`, { key: true, help: `keep one of ${present.join(", ")}` })
        : src.diagAt("E009", path, `${where(path)} needs one of: ${keys.join(", ")}`, { key: true, help: keys.map((k) => `\`${k}: …\`${what(k)}`).join("; or ") });
    }
    case "minItems": {
      const p = e.params as { limit: number };
      if (p.limit > 1 && Array.isArray(value) && value.length > 0) {
        const exactly = parent?.maxItems === p.limit ? `exactly ${p.limit}` : `at least ${p.limit}`;
        return src.diagAt("E006", path, `${where(path)} has ${value.length} item${value.length === 1 ? "" : "s"}, ${exactly} are needed`, { notes: desc ? [`${name}: ${desc}`] : undefined });
      }
      return src.diagAt("E011", path, `${where(path)} must not be empty`, { key: true, notes: desc ? [`${name}: ${desc}`] : undefined });
    }
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

/** The keys of a "exactly one of these keys" schema (a oneOf whose every
 * branch only requires one key); empty for any other oneOf. */
function oneOfKeys(s: SchemaNode | undefined): string[] {
  const branches = Array.isArray(s?.oneOf) ? (s.oneOf as SchemaNode[]) : [];
  const keys = branches.map((b) => (Array.isArray(b.required) && b.required.length === 1 ? String(b.required[0]) : undefined));
  return keys.length && keys.every((k) => k !== undefined) ? (keys as string[]) : [];
}

/** More '(' than ')': the start of an expression cut short. */
function unbalanced(s: string): boolean {
  return (s.match(/\(/g) ?? []).length > (s.match(/\)/g) ?? []).length;
}

/** Where the expression starting at `start` ends in its flow mapping: at the
 * first ',', '}' or ']' outside parentheses, or the end of the line (spaces
 * before it trimmed); undefined unless its parentheses balance there. */
function exprEnd(text: string, start: number): number | undefined {
  let depth = 0;
  let i = start;
  for (; i < text.length && text[i] !== "\n"; i++) {
    const ch = text[i];
    if (ch === "(") depth++;
    else if (ch === ")") depth--;
    else if (depth === 0 && (ch === "," || ch === "}" || ch === "]")) break;
    if (depth < 0) return undefined;
  }
  while (i > start && /\s/.test(text[i - 1]!)) i--;
  return depth === 0 && i > start ? i : undefined;
}

/** An expression a flow mapping cut at a comma: the value at `path` holds its
 * start, source offsets [start, end) hold all of it. */
interface Cut {
  readonly path: Path;
  readonly start: number;
  readonly end: number;
  reported?: boolean;
}

/** The cut expression whose start is the plain scalar at `path`. */
function cutAt(src: YamlSource, path: Path): Cut | undefined {
  const { node, depth } = src.walk(path);
  if (depth !== path.length || !isScalar(node) || node.type !== "PLAIN" || !node.range) return undefined;
  const end = exprEnd(src.text, node.range[0]);
  return end === undefined ? undefined : { path, start: node.range[0], end };
}

/** The cut expression that key `bad` of the flow mapping at `path` is the
 * rest of (`0.2)` after `input: dropout(h`). */
function cutBefore(src: YamlSource, path: Path, bad: string): Cut | undefined {
  if (!bad.includes(")")) return undefined;
  const { node, depth } = src.walk(path);
  if (depth !== path.length || !isMap(node) || !node.flow) return undefined;
  const i = node.items.findIndex((it) => keyString(it) === bad);
  for (let j = i - 1; j >= 0; j--) {
    const it = node.items[j]!;
    const v = it.value;
    if (isScalar(v) && typeof v.value === "string" && unbalanced(v.value)) {
      const c = cutAt(src, [...path, keyString(it)]);
      return c && (node.items[i]!.key as { range?: number[] }).range![0]! < c.end ? c : undefined;
    }
    if (v !== null && !(isScalar(v) && v.value === null)) return undefined;
  }
  return undefined;
}

/** One diagnostic for a cut expression: E008 where a name is expected, else
 * E021 (the expression as YAML left it has an unclosed '('). */
function cutExpression(src: YamlSource, c: Cut, nameField: boolean): Diagnostic {
  const expr = src.text.slice(c.start, c.end);
  const field = String(c.path[c.path.length - 1]);
  const value = `'${expr.slice(0, expr.indexOf(","))}'`;
  const why = `inside \`{ … }\` a comma ends a value, so YAML cut the expression \`${expr}\` at a comma`;
  if (!nameField) return src.diagAt("E021", c.path, `unclosed '(' in ${value} (${where(c.path)}): ${why}`, { help: `quote the expression: \`${field}: "${expr}"\`` });
  const entry = c.path[0] === "graph" && typeof c.path[1] === "string" ? `${c.path[1]}_${field}` : `${field}_value`;
  return src.diagAt("E008", c.path, `${value} is not a valid name (${where(c.path)}): ${why}`, {
    help: `${where(c.path)} takes a name: make the expression a graph entry of its own, quoted (\`${entry}: "${expr}"\`), and write \`${field}: ${entry}\``,
  });
}

/** What a valid name is (for E008, here and in YAML keys). */
export const NAME_HELP = "names start with a letter or '_' and contain only letters, digits and '_'";

const EXAMPLES: Readonly<Record<string, string>> = {
  sgd: "`{ sgd: { lr: 0.1 } }`",
  nll: "`nll: { probs: p_y_given_x, labels: y }`",
  zero_one: "`{ zero_one: { probs: p_y_given_x, labels: y } }`",
  constant: "`{ constant: { value: 0 } }`",
  dense: "`{ dense: { input: x, weight: W, bias: b } }`",
};
