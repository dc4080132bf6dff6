// Buffer names: what a reader of generated code sees. A buffer is named after
// the spec: a parameter, state or input by its own name, a graph entry's
// result by the entry (`hidden`), a parameter's gradient `grad_W1`, a
// function output by its key (`cost`, `error`), and any other intermediate
// by the spec line it comes from and its op (`p_y_given_x_exp`,
// `d_hidden_mul` on the gradient of `hidden`). Names are unique within a
// model; a clash gets a numeric suffix.
//
// Every name passes through `identifier`: the only way text taken from a spec
// becomes an identifier in generated code.

import type { Node } from "../ir/types.ts";

/** Identifiers generated methods use for themselves, and the words JavaScript
 * and WGSL reserve; a buffer name equal to one gets a trailing underscore. */
const RESERVED = new Set([
  // generated method parameters and helpers
  "batch", "step", "out", "call", "index", "stepFn", "rng", "probes", "desc", "mem", "k", "w", "params", "state",
  // JavaScript
  "break", "case", "catch", "class", "const", "continue", "debugger", "default", "delete", "do", "else", "enum", "export", "extends",
  "false", "finally", "for", "function", "if", "import", "in", "instanceof", "new", "null", "return", "super", "switch", "this",
  "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield", "let", "static", "implements", "interface", "package",
  "private", "protected", "public", "await", "async", "arguments", "eval", "undefined", "NaN", "Infinity",
  // WGSL keywords and builtins that kernels use
  "fn", "let", "var", "loop", "struct", "array", "f32", "i32", "u32", "bool", "main", "ctx", "i", "j", "o", "r", "s",
]);

/** A valid, non-reserved identifier from arbitrary text: characters outside
 * [A-Za-z0-9_] become `_`, a leading digit gets a `_` prefix. */
export function identifier(text: string): string {
  let s = text.replace(/[^A-Za-z0-9_]+/g, "_").replace(/^_+|_+$/g, "").replace(/_+/g, "_");
  if (s === "") s = "t";
  if (/^[0-9]/.test(s)) s = `_${s}`;
  return RESERVED.has(s) ? `${s}_` : s;
}

/** The part of a spec location's description that names a value:
 * `graph.hidden` → hidden, `losses.cost.nll` → cost_nll,
 * `phases[0].optimizer` → optimizer, `samplers.gibbs.next` → gibbs_next. */
function stem(what: string | undefined): string {
  if (!what) return "";
  return what
    .replace(/^graph\./, "")
    .replace(/^losses\./, "")
    .replace(/^metrics\./, "")
    .replace(/^samplers\./, "")
    .replace(/^phases\[\d+\]\./, "")
    .replace(/^(input|param|state) /, "");
}

/** Hands out unique names. */
export class Names {
  private readonly used = new Map<string, number>();

  /** `taken`: names already used in this scope (the model's leaves). */
  constructor(taken: Iterable<string> = []) {
    for (const t of taken) this.used.set(t, 1);
  }

  /** `base` itself when free, else base2, base3, … */
  take(base: string): string {
    const b = identifier(base);
    const n = this.used.get(b) ?? 0;
    this.used.set(b, n + 1);
    if (n === 0) return b;
    let k = n + 1;
    while (this.used.has(`${b}${k}`)) k++;
    this.used.set(`${b}${k}`, 1);
    return `${b}${k}`;
  }

  /** Reserves a name that must stay as it is (a parameter's). */
  reserve(name: string): string {
    const b = identifier(name);
    this.used.set(b, (this.used.get(b) ?? 0) + 1);
    return b;
  }
}

/** The base name of node `n`'s buffer; `output` is the function output it
 * is, if any (`cost`, `metric:error`, `param:W1`). */
export function baseName(n: Node, output: string | undefined): string {
  if (output !== undefined) {
    const m = /^(?:metric|output|param|state):(.+)$/.exec(output);
    if (m) return output.startsWith("metric:") || output.startsWith("output:") ? m[1]! : `new_${m[1]}`;
    return output;
  }
  if (n.loc?.name) return n.loc.name;
  const s = stem(n.loc?.what);
  const op = n.op.replace(/_/g, "");
  if (!s) return op;
  return `${n.loc?.grad ? "d_" : ""}${s}_${op}`;
}
