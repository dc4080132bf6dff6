// The expression language: precedence, postfix transpose, calls and their
// arity, integer literal arguments, free names, and errors with offsets.

import { describe, expect, it } from "vitest";
import { type Expr, ExprError, FUNCTIONS, exprStart, freeNames, intLiteralValue, parseExpr, showExpr } from "../compiler/frontend/parse-expr.ts";

const show = (s: string) => showExpr(parseExpr(s));

function err(src: string): { code: string; offset: number; message: string; help?: string } {
  try {
    parseExpr(src);
  } catch (e) {
    if (e instanceof ExprError) return { code: e.code, offset: e.offset, message: e.message, ...(e.help ? { help: e.help } : {}) };
    throw e;
  }
  throw new Error(`no error for ${src}`);
}

describe("precedence", () => {
  it.each([
    ["a + b * c", "(a + (b * c))"],
    ["a * b + c", "((a * b) + c)"],
    ["a - b - c", "((a - b) - c)"],
    ["a / b * c", "((a / b) * c)"],
    ["x @ W + b", "((x @ W) + b)"],
    ["a + b @ c", "(a + (b @ c))"],
    ["-x ** 2", "(-(x ** 2))"],
    ["-a * b", "((-a) * b)"],
    ["a - -b", "(a - (-b))"],
    ["a ** b ** c", "(a ** (b ** c))"],
    ["2 ** -1", "(2 ** (-1))"],
    ["a < b + 1", "(a < (b + 1))"],
    ["a + b == c * d", "((a + b) == (c * d))"],
    ["(a + b) * c", "((a + b) * c)"],
    ["h * (1 - h)", "(h * (1 - h))"],
  ])("%s ⇒ %s", (src, want) => {
    expect(show(src)).toBe(want);
  });

  it("comparisons: all six operators", () => {
    for (const op of ["<", ">", "<=", ">=", "==", "!="]) expect(show(`a ${op} b`)).toBe(`(a ${op} b)`);
  });
});

describe("postfix .T and calls", () => {
  it.each([
    ["W.T", "W.T"],
    ["x @ W.T", "(x @ W.T)"],
    ["x.T.T", "x.T.T"],
    ["(a + b).T", "(a + b).T"],
    ["exp(x).T", "exp(x).T"],
    ["-W.T", "(-W.T)"],
    ["W.T ** 2", "(W.T ** 2)"],
    ["softmax(x @ W + b)", "softmax(((x @ W) + b))"],
    ["sum(x, -1)", "sum(x, (-1))"],
    ["where(a > 0, a, 0)", "where((a > 0), a, 0)"],
    ["reshape(hs, 8, 6)", "reshape(hs, 8, 6)"],
    ["-sum(x * vbias, 1) - sum(softplus(x @ W + hbias), 1)", "((-sum((x * vbias), 1)) - sum(softplus(((x @ W) + hbias)), 1))"],
  ])("%s ⇒ %s", (src, want) => {
    expect(show(src)).toBe(want);
  });

  it("numbers", () => {
    expect(parseExpr("1e-4")).toEqual({ kind: "num", value: 1e-4, pos: 0 });
    expect(parseExpr(".5")).toEqual({ kind: "num", value: 0.5, pos: 0 });
    expect(parseExpr("2.5E3")).toEqual({ kind: "num", value: 2500, pos: 0 });
  });
});

describe("positions", () => {
  it("names, calls, operators and .T carry 0-based offsets", () => {
    const e = parseExpr("softmax(x @ W.T + b)");
    expect(e.kind).toBe("call");
    const call = e as Extract<Expr, { kind: "call" }>;
    expect(call.pos).toBe(0);
    const plus = call.args[0] as Extract<Expr, { kind: "binary" }>;
    expect(plus).toMatchObject({ kind: "binary", op: "+", pos: 16 });
    const mm = plus.left as Extract<Expr, { kind: "binary" }>;
    expect(mm).toMatchObject({ kind: "binary", op: "@", pos: 10, left: { kind: "name", name: "x", pos: 8 } });
    expect(mm.right).toMatchObject({ kind: "transpose", pos: 13, arg: { kind: "name", name: "W", pos: 12 } });
    expect(exprStart(plus)).toBe(8);
  });

  it("freeNames lists every tensor name in order, not function names", () => {
    expect(freeNames(parseExpr("mean(fe_data) - mean(fe_model) + fe_data"))).toEqual([
      { name: "fe_data", pos: 5 },
      { name: "fe_model", pos: 21 },
      { name: "fe_data", pos: 33 },
    ]);
    expect(freeNames(parseExpr("sum(x, 1) * 2"))).toEqual([{ name: "x", pos: 4 }]);
  });

  it("intLiteralValue", () => {
    expect(intLiteralValue(parseExpr("3"))).toBe(3);
    expect(intLiteralValue(parseExpr("-1"))).toBe(-1);
    expect(intLiteralValue(parseExpr("1.5"))).toBeUndefined();
    expect(intLiteralValue(parseExpr("x"))).toBeUndefined();
  });
});

describe("errors carry a code and an offset", () => {
  it.each([
    ["x +", "E021", 3, "unexpected end of expression"],
    ["softmax(x @ W + )", "E021", 16, "unexpected ')'"],
    ["softmax((x @ W + b)", "E021", 7, "unclosed '('"],
    ["(x + 1", "E021", 0, "unclosed '('"],
    ["x)", "E021", 1, "unmatched ')'"],
    ["a < b < c", "E021", 6, "comparisons cannot be chained"],
    ["x = y", "E021", 2, "unexpected '='"],
    ["x[0]", "E021", 1, "unexpected '['"],
    ["x.y", "E021", 1, "expected '.T'"],
    ["3x", "E021", 0, "invalid number '3x'"],
    ["x $ y", "E021", 2, "unexpected character '$'"],
    ["+x", "E021", 0, "unary plus"],
    ["", "E021", 0, "empty expression"],
    ["a b", "E021", 2, "unexpected name 'b'"],
    ["f(x,)", "E022", 0, "unknown function 'f'"],
    ["softmaks(x)", "E022", 0, "unknown function 'softmaks'"],
    ["1 + tanhh(x)", "E022", 4, "unknown function 'tanhh'"],
    ["softmax()", "E023", 0, "softmax takes 1 argument, found 0"],
    ["argmax(p)", "E023", 0, "argmax takes 2 arguments, found 1"],
    ["sum(x, 0, 1)", "E023", 0, "sum takes 1 or 2 arguments, found 3"],
    ["where(c, a)", "E023", 0, "where takes 3 arguments, found 2"],
    ["reshape(x)", "E023", 0, "reshape takes at least 2 arguments, found 1"],
    ["sum(x, 1.5)", "E024", 7, "the axis of sum must be an integer literal"],
    ["one_hot(y, n)", "E024", 11, "the depth of one_hot must be an integer literal"],
    ["reshape(x, 8, k)", "E024", 14, "the dimension of reshape must be an integer literal"],
  ])("%j → %s at %i", (src, code, offset, msg) => {
    const e = err(src);
    expect({ code: e.code, offset: e.offset }).toEqual({ code, offset });
    expect(e.message).toContain(msg);
  });

  it("an unknown function suggests the closest one and lists them all", () => {
    const e = err("sigmiod(x)");
    expect(e.help).toContain("did you mean 'sigmoid'?");
    expect(e.help).toContain("binomial_mask");
  });

  it("an arity error shows the usage", () => {
    expect(err("binomial_mask(x)").help).toBe("usage: binomial_mask(x, p_keep) — x times a Bernoulli(p_keep) mask");
  });
});

describe("the function table", () => {
  it("has the documented arities", () => {
    const arity = (f: string) => [FUNCTIONS[f]!.minArgs, FUNCTIONS[f]!.maxArgs];
    for (const f of ["tanh", "sigmoid", "relu", "exp", "log", "abs", "sqrt", "softplus", "softmax", "log_softmax", "stop_gradient", "bernoulli", "normal_like", "uniform_like"]) expect(arity(f), f).toEqual([1, 1]);
    for (const f of ["sum", "mean", "max"]) expect(arity(f), f).toEqual([1, 2]);
    for (const f of ["argmax", "one_hot", "maximum", "minimum", "binomial_mask"]) expect(arity(f), f).toEqual([2, 2]);
    expect(arity("where")).toEqual([3, 3]);
  });

  it("parses a call of every function with its minimum arity", () => {
    for (const [f, sig] of Object.entries(FUNCTIONS)) {
      const args = Array.from({ length: sig.minArgs }, (_, i) => (sig.intFrom !== undefined && i >= sig.intFrom ? "2" : `a${i}`));
      expect(parseExpr(`${f}(${args.join(", ")})`)).toMatchObject({ kind: "call", fn: f });
    }
  });
});
