// The expression language of `graph:` strings and `expr` loss/metric terms.
// Parsing knows no graphs: it yields an AST whose nodes carry `pos`, a 0-based
// offset into the expression string (the loader maps it to a file line:col).
//
// Precedence, low → high:
//   comparisons  < > <= >= == !=   (non-associative)
//   + -                            (left)
//   * / @                          (left)
//   unary -
//   **                             (right; its right operand may be a unary -)
//   postfix .T, calls f(a, b)
//
// `pos` of a node: names, numbers and calls — their first character; unary —
// the `-`; binary — the operator; transpose — the `.` of `.T`.

import { choiceHelp } from "./suggest.ts";

export type BinaryOp = "+" | "-" | "*" | "/" | "@" | "**" | "<" | ">" | "<=" | ">=" | "==" | "!=";

export type Expr =
  | { readonly kind: "num"; readonly value: number; readonly pos: number }
  | { readonly kind: "name"; readonly name: string; readonly pos: number }
  | { readonly kind: "unary"; readonly op: "-"; readonly arg: Expr; readonly pos: number }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly left: Expr; readonly right: Expr; readonly pos: number }
  | { readonly kind: "call"; readonly fn: string; readonly args: readonly Expr[]; readonly pos: number }
  | { readonly kind: "transpose"; readonly arg: Expr; readonly pos: number };

/** Error codes of the expression parser (see docs/errors.md). */
export const EXPR_CODES = {
  syntax: "E021",
  unknownFunction: "E022",
  arity: "E023",
  intLiteral: "E024",
} as const;

export class ExprError extends Error {
  constructor(
    /** 0-based offset in the expression string. */
    readonly offset: number,
    message: string,
    readonly code: string = EXPR_CODES.syntax,
    readonly help?: string,
    /** Characters underlined from `offset`. */
    readonly length = 1,
  ) {
    super(message);
    this.name = "ExprError";
  }
}

export interface FunctionSig {
  readonly minArgs: number;
  /** `Infinity` for variadic functions. */
  readonly maxArgs: number;
  /** Arguments from this index on must be integer literals (axes, depths, dims). */
  readonly intFrom?: number;
  /** What those integer arguments are, for messages. */
  readonly intWhat?: string;
  /** Signature as shown in messages. */
  readonly usage: string;
  readonly doc: string;
}

const unary = (name: string, doc: string): FunctionSig => ({ minArgs: 1, maxArgs: 1, usage: `${name}(x)`, doc });
const reduce = (name: string, doc: string): FunctionSig => ({ minArgs: 1, maxArgs: 2, intFrom: 1, intWhat: "axis", usage: `${name}(x[, axis])`, doc });

/** Every function of the expression language with its arity. */
export const FUNCTIONS: Readonly<Record<string, FunctionSig>> = {
  tanh: unary("tanh", "elementwise hyperbolic tangent"),
  sigmoid: unary("sigmoid", "elementwise logistic function"),
  relu: unary("relu", "elementwise max(x, 0)"),
  exp: unary("exp", "elementwise exponential"),
  log: unary("log", "elementwise natural logarithm"),
  abs: unary("abs", "elementwise absolute value"),
  sqrt: unary("sqrt", "elementwise square root"),
  softplus: unary("softplus", "elementwise log(1 + exp(x))"),
  softmax: unary("softmax", "softmax over the last axis"),
  log_softmax: unary("log_softmax", "log of the softmax over the last axis"),
  sum: reduce("sum", "sum over all elements or one axis"),
  mean: reduce("mean", "mean over all elements or one axis"),
  max: reduce("max", "maximum over all elements or one axis"),
  argmax: { minArgs: 2, maxArgs: 2, intFrom: 1, intWhat: "axis", usage: "argmax(x, axis)", doc: "index of the maximum along an axis" },
  stop_gradient: unary("stop_gradient", "the value of x, held constant for differentiation"),
  bernoulli: unary("bernoulli", "a 0/1 sample with P(1) = p"),
  normal_like: unary("normal_like", "standard normal noise shaped like x"),
  uniform_like: unary("uniform_like", "uniform [0, 1) noise shaped like x"),
  step_one_hot: { minArgs: 1, maxArgs: 1, intFrom: 0, intWhat: "depth", usage: "step_one_hot(depth)", doc: "[depth] vector, 1 at (training step mod depth): a bit index cycling with the step" },
  one_hot: { minArgs: 2, maxArgs: 2, intFrom: 1, intWhat: "depth", usage: "one_hot(labels, depth)", doc: "integer labels to 0/1 rows" },
  slice: { minArgs: 4, maxArgs: 4, intFrom: 1, intWhat: "axis or bound", usage: "slice(x, axis, start, end)", doc: "the entries start..end−1 of one axis (an LSTM's four gates from one product); the axis may be negative" },
  embed: { minArgs: 2, maxArgs: 2, usage: "embed(table, indices)", doc: "rows of table [R, ...] picked by i32 indices [...] → [..., ...] (word embeddings; the gradient adds into the rows read)" },
  maximum: { minArgs: 2, maxArgs: 2, usage: "maximum(a, b)", doc: "elementwise maximum" },
  minimum: { minArgs: 2, maxArgs: 2, usage: "minimum(a, b)", doc: "elementwise minimum" },
  where: { minArgs: 3, maxArgs: 3, usage: "where(cond, a, b)", doc: "a where cond is nonzero, else b" },
  binomial_mask: { minArgs: 2, maxArgs: 2, usage: "binomial_mask(x, p_keep)", doc: "x times a Bernoulli(p_keep) mask" },
  dropout: { minArgs: 2, maxArgs: 2, usage: "dropout(x, p_drop)", doc: "training: x times a Bernoulli(1 − p_drop) mask, divided by 1 − p_drop; evaluation: x" },
  time_major: unary("time_major", "swap the first two axes"),
  broadcast: { minArgs: 2, maxArgs: Infinity, intFrom: 1, intWhat: "dimension", usage: "broadcast(x, d0, d1, ...)", doc: "broadcast to a static shape (a dimension may be `batch`: the graph's batch size)" },
  reshape: { minArgs: 2, maxArgs: Infinity, intFrom: 1, intWhat: "dimension", usage: "reshape(x, d0, d1, ...)", doc: "reshape to a static shape (one dimension may be -1: inferred; a dimension may be `batch`)" },
  conv2d: { minArgs: 2, maxArgs: 2, usage: "conv2d(x, W)", doc: "2-D convolution, border 'valid': x [N, C, H, W], W [K, C, kh, kw] → [N, K, H-kh+1, W-kw+1]" },
  conv2d_full: { minArgs: 2, maxArgs: 2, usage: "conv2d_full(x, W)", doc: "2-D convolution, border 'full': → [N, K, H+kh-1, W+kw-1]" },
  max_pool: { minArgs: 3, maxArgs: 3, intFrom: 1, intWhat: "pool size", usage: "max_pool(x, ph, pw)", doc: "max over non-overlapping ph×pw windows of [N, C, H, W] (borders ignored)" },
  max_pool_ceil: { minArgs: 3, maxArgs: 3, intFrom: 1, intWhat: "pool size", usage: "max_pool_ceil(x, ph, pw)", doc: "like max_pool, but a partial window at the bottom/right border is pooled too: → [N, C, ⌈H/ph⌉, ⌈W/pw⌉] (Theano's ignore_border=False)" },
  grad: { minArgs: 2, maxArgs: 2, usage: "grad(f, x)", doc: "∂f/∂x: the gradient of a float scalar f with respect to the named value x (an input, parameter, state tensor or graph name; in a scan body also a carry, sequence or body name), shaped like x; derived by the training gradient's reverse pass, so it can be differentiated again" },
  flatten: unary("flatten", "reshape [N, d1, d2, ...] to [N, d1·d2·...]"),
};

type Tok =
  | { readonly t: "num"; readonly value: number; readonly pos: number; readonly len: number }
  | { readonly t: "name"; readonly name: string; readonly pos: number; readonly len: number }
  | { readonly t: "op"; readonly op: string; readonly pos: number; readonly len: number }
  | { readonly t: "end"; readonly pos: number; readonly len: number };

const OPS = ["**", "<=", ">=", "==", "!=", ".T", "+", "-", "*", "/", "@", "<", ">", "(", ")", ","];

function describe(t: Tok): string {
  switch (t.t) {
    case "num":
      return `number ${t.value}`;
    case "name":
      return `name '${t.name}'`;
    case "op":
      return `'${t.op}'`;
    case "end":
      return "end of expression";
  }
}

function tokenize(src: string): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const num = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(src.slice(i));
    if (num && !(c === "." && !/\d/.test(src[i + 1] ?? ""))) {
      let text = num[0];
      // `2.T` is the transpose of 2, not `2.` then `T`.
      if (text.endsWith(".") && src[i + text.length] === "T") text = text.slice(0, -1);
      if (/[A-Za-z_]/.test(src[i + text.length] ?? "")) {
        const bad = /^[A-Za-z0-9_.]+/.exec(src.slice(i))![0];
        throw new ExprError(i, `invalid number '${bad}'`, EXPR_CODES.syntax, undefined, bad.length);
      }
      toks.push({ t: "num", value: Number(text), pos: i, len: text.length });
      i += text.length;
      continue;
    }
    const id = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i));
    if (id) {
      toks.push({ t: "name", name: id[0], pos: i, len: id[0].length });
      i += id[0].length;
      continue;
    }
    const op = OPS.find((o) => src.startsWith(o, i));
    if (op === ".T" && /[A-Za-z0-9_]/.test(src[i + 2] ?? "")) {
      throw new ExprError(i, "expected '.T' (transpose) after '.'", EXPR_CODES.syntax, "the only attribute is `.T`, the transpose");
    }
    if (op) {
      toks.push({ t: "op", op, pos: i, len: op.length });
      i += op.length;
      continue;
    }
    if (c === ".") throw new ExprError(i, "expected '.T' (transpose) after '.'", EXPR_CODES.syntax, "the only attribute is `.T`, the transpose");
    if (c === "=") throw new ExprError(i, "unexpected '='", EXPR_CODES.syntax, "use '==' to compare; an expression cannot assign");
    if (c === "[" || c === "]") throw new ExprError(i, `unexpected '${c}'`, EXPR_CODES.syntax, "indexing is not part of the language; use reshape, one_hot or a reduction");
    throw new ExprError(i, `unexpected character '${c}'`);
  }
  toks.push({ t: "end", pos: src.length, len: 1 });
  return toks;
}

class Parser {
  private i = 0;
  constructor(
    private readonly toks: readonly Tok[],
    private readonly src: string,
  ) {}

  private peek(): Tok {
    return this.toks[this.i]!;
  }

  private isOp(...ops: string[]): string | undefined {
    const t = this.peek();
    return t.t === "op" && ops.includes(t.op) ? t.op : undefined;
  }

  private fail(t: Tok, expected: string): never {
    if (t.t === "end") throw new ExprError(Math.max(0, this.src.trimEnd().length), `unexpected end of expression: expected ${expected}`);
    throw new ExprError(t.pos, `unexpected ${describe(t)}: expected ${expected}`, EXPR_CODES.syntax, undefined, t.len);
  }

  parse(): Expr {
    if (this.peek().t === "end") throw new ExprError(0, "empty expression");
    const e = this.comparison();
    const t = this.peek();
    if (t.t !== "end") {
      if (t.t === "op" && t.op === ")") throw new ExprError(t.pos, "unmatched ')'");
      this.fail(t, "an operator or the end of the expression");
    }
    return e;
  }

  private comparison(): Expr {
    const left = this.additive();
    const op = this.isOp("<", ">", "<=", ">=", "==", "!=");
    if (!op) return left;
    const pos = this.peek().pos;
    this.i++;
    const right = this.additive();
    const again = this.peek();
    if (again.t === "op" && ["<", ">", "<=", ">=", "==", "!="].includes(again.op)) {
      throw new ExprError(again.pos, "comparisons cannot be chained", EXPR_CODES.syntax, "compare two values at a time, e.g. `(a < b) * (b < c)`", again.len);
    }
    return { kind: "binary", op: op as BinaryOp, left, right, pos };
  }

  private additive(): Expr {
    let left = this.multiplicative();
    for (let op = this.isOp("+", "-"); op; op = this.isOp("+", "-")) {
      const pos = this.peek().pos;
      this.i++;
      left = { kind: "binary", op: op as BinaryOp, left, right: this.multiplicative(), pos };
    }
    return left;
  }

  private multiplicative(): Expr {
    let left = this.unary();
    for (let op = this.isOp("*", "/", "@"); op; op = this.isOp("*", "/", "@")) {
      const pos = this.peek().pos;
      this.i++;
      left = { kind: "binary", op: op as BinaryOp, left, right: this.unary(), pos };
    }
    return left;
  }

  private unary(): Expr {
    if (this.isOp("-")) {
      const pos = this.peek().pos;
      this.i++;
      return { kind: "unary", op: "-", arg: this.unary(), pos };
    }
    if (this.isOp("+")) {
      const t = this.peek();
      throw new ExprError(t.pos, "unexpected '+': unary plus is not part of the language", EXPR_CODES.syntax, "remove the '+'");
    }
    return this.power();
  }

  private power(): Expr {
    const base = this.postfix();
    if (!this.isOp("**")) return base;
    const pos = this.peek().pos;
    this.i++;
    return { kind: "binary", op: "**", left: base, right: this.unary(), pos };
  }

  private postfix(): Expr {
    let e = this.primary();
    while (this.isOp(".T")) {
      e = { kind: "transpose", arg: e, pos: this.peek().pos };
      this.i++;
    }
    return e;
  }

  private primary(): Expr {
    const t = this.peek();
    if (t.t === "num") {
      this.i++;
      return { kind: "num", value: t.value, pos: t.pos };
    }
    if (t.t === "name") {
      this.i++;
      if (this.isOp("(")) return this.call(t);
      return { kind: "name", name: t.name, pos: t.pos };
    }
    if (t.t === "op" && t.op === "(") {
      this.i++;
      const e = this.comparison();
      const close = this.peek();
      if (!(close.t === "op" && close.op === ")")) {
        if (close.t === "end") throw new ExprError(t.pos, "unclosed '('", EXPR_CODES.syntax, "add the missing ')'");
        this.fail(close, "')'");
      }
      this.i++;
      return e;
    }
    return this.fail(t, "a name, a number or '('");
  }

  private call(nameTok: Tok & { t: "name" }): Expr {
    const open = this.peek();
    this.i++;
    const fn = nameTok.name;
    const sig = FUNCTIONS[fn];
    if (!sig) {
      throw new ExprError(nameTok.pos, `unknown function '${fn}'`, EXPR_CODES.unknownFunction, choiceHelp(fn, Object.keys(FUNCTIONS), "functions", 40), nameTok.len);
    }
    const args: Expr[] = [];
    if (!this.isOp(")")) {
      for (;;) {
        args.push(this.comparison());
        if (this.isOp(",")) {
          this.i++;
          continue;
        }
        const close = this.peek();
        if (close.t === "op" && close.op === ")") break;
        if (close.t === "end") throw new ExprError(open.pos, `unclosed '(' of ${fn}(...)`, EXPR_CODES.syntax, "add the missing ')'");
        this.fail(close, "',' or ')'");
      }
    }
    this.i++;
    if (args.length < sig.minArgs || args.length > sig.maxArgs) {
      const want = sig.maxArgs === Infinity ? `at least ${sig.minArgs}` : sig.minArgs === sig.maxArgs ? `${sig.minArgs}` : `${sig.minArgs} or ${sig.maxArgs}`;
      throw new ExprError(nameTok.pos, `${fn} takes ${want} argument${want === "1" ? "" : "s"}, found ${args.length}`, EXPR_CODES.arity, `usage: ${sig.usage} — ${sig.doc}`, nameTok.len);
    }
    if (sig.intFrom !== undefined) {
      for (let k = sig.intFrom; k < args.length; k++) {
        const a = args[k]!;
        // A shape may name the graph's batch size (training, evaluation and
        // gradient-check graphs are built at different ones).
        const batchDim = SHAPE_FUNCTIONS.has(fn) && a.kind === "name" && a.name === BATCH;
        if (intLiteralValue(a) === undefined && !batchDim) {
          throw new ExprError(a.kind === "unary" ? a.pos : exprStart(a), `the ${sig.intWhat} of ${fn} must be an integer literal`, EXPR_CODES.intLiteral, `usage: ${sig.usage}`);
        }
      }
    }
    return { kind: "call", fn, args, pos: nameTok.pos };
  }
}

/** The word for "this graph's batch size" in the dimensions of reshape and
 * broadcast: `broadcast(0.0, batch, 128)`. */
export const BATCH = "batch";
const SHAPE_FUNCTIONS = new Set(["reshape", "broadcast"]);

/** The value of an integer literal (`3`, `-1`), else undefined. */
export function intLiteralValue(e: Expr): number | undefined {
  if (e.kind === "num") return Number.isInteger(e.value) ? e.value : undefined;
  if (e.kind === "unary" && e.arg.kind === "num" && Number.isInteger(e.arg.value)) return -e.arg.value;
  return undefined;
}

/** Offset of the first character of an expression (binary/transpose `pos` is
 * the operator's). */
export function exprStart(e: Expr): number {
  switch (e.kind) {
    case "binary":
      return exprStart(e.left);
    case "transpose":
      return exprStart(e.arg);
    default:
      return e.pos;
  }
}

/** Parses an expression string; throws ExprError with an offset into `src`. */
export function parseExpr(src: string): Expr {
  return new Parser(tokenize(src), src).parse();
}

/** Every occurrence of a tensor name (not function names), in source order. */
export function freeNames(expr: Expr): { name: string; pos: number }[] {
  const out: { name: string; pos: number }[] = [];
  const walk = (e: Expr): void => {
    switch (e.kind) {
      case "num":
        return;
      case "name":
        out.push({ name: e.name, pos: e.pos });
        return;
      case "unary":
      case "transpose":
        walk(e.arg);
        return;
      case "binary":
        walk(e.left);
        walk(e.right);
        return;
      case "call":
        // `batch` in a shape is a dimension, not a tensor.
        e.args.forEach((a, k) => {
          if (!(k > 0 && SHAPE_FUNCTIONS.has(e.fn) && a.kind === "name" && a.name === BATCH)) walk(a);
        });
        return;
    }
  };
  walk(expr);
  return out.sort((a, b) => a.pos - b.pos);
}

/** The expression as text, fully parenthesised (for tests and messages). */
export function showExpr(e: Expr): string {
  switch (e.kind) {
    case "num":
      return String(e.value);
    case "name":
      return e.name;
    case "unary":
      return `(-${showExpr(e.arg)})`;
    case "transpose":
      return `${showExpr(e.arg)}.T`;
    case "binary":
      return `(${showExpr(e.left)} ${e.op} ${showExpr(e.right)})`;
    case "call":
      return `${e.fn}(${e.args.map(showExpr).join(", ")})`;
  }
}

const BINARY_LEVEL: Readonly<Record<string, number>> = { "<": 1, "<=": 1, ">": 1, ">=": 1, "==": 1, "!=": 1, "+": 2, "-": 2, "*": 3, "/": 3, "@": 3, "**": 5 };

/** An expression as a spec would write it, with only the parentheses its
 * precedence needs (messages quote sub-expressions: `grad(sum(h), x)`). */
export function spellExpr(e: Expr): string {
  return spell(e, 0);
}

function spell(e: Expr, outer: number): string {
  const wrap = (level: number, s: string) => (level < outer ? `(${s})` : s);
  switch (e.kind) {
    case "num":
      return String(e.value);
    case "name":
      return e.name;
    case "call":
      return `${e.fn}(${e.args.map((a) => spell(a, 0)).join(", ")})`;
    case "transpose":
      return `${spell(e.arg, 6)}.T`;
    case "unary":
      return wrap(4, `-${spell(e.arg, 4)}`);
    case "binary": {
      const level = BINARY_LEVEL[e.op]!;
      // Left-associative except **, which binds to the right.
      const [l, r] = e.op === "**" ? [level + 1, 4] : [level, level + 1];
      return wrap(level, `${spell(e.left, l)} ${e.op} ${spell(e.right, r)}`);
    }
  }
}
