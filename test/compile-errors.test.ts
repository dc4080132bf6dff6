// Errors only the IR can find (shapes, dtypes, gradient reachability): each
// is reported at the spec line that causes it, with both operands' types and
// where they were defined, and never as a stack trace.

import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { diagnosticsOf } from "../compiler/compile-text.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";

const logreg = readFileSync("specs/logreg.yaml", "utf8");
const mlp = readFileSync("specs/mlp.yaml", "utf8");
const elman = readFileSync("test/specs/elman.yaml", "utf8");

interface Case {
  readonly name: string;
  readonly text: string;
  readonly code: string;
  readonly line: number;
  readonly col: number;
  readonly includes: string;
  readonly related?: number;
}

const sub = (text: string, from: string | RegExp, to: string) => {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`fixture: '${String(from)}' not found`);
  return out;
};

const CASES: Case[] = [
  { name: "dense weight does not fit its input", text: sub(mlp, "W2: { shape: [500, 10]", "W2: { shape: [400, 10]"), code: "E031", line: 21, col: 16, includes: "input [20, 500] does not fit weight [400, 10]", related: 2 },
  { name: "matmul inner dimensions", text: sub(logreg, "x @ W + b", "x @ W.T + b"), code: "E031", line: 17, col: 26, includes: "inner dimensions differ", related: 2 },
  { name: "broadcast of incompatible shapes", text: sub(logreg, "b: { shape: [10]", "b: { shape: [7]"), code: "E031", line: 17, col: 30, includes: "[600, 10] and [7] do not broadcast", related: 2 },
  { name: "probabilities do not match the labels", text: sub(logreg, "y: { shape: [], dtype: i32, classes: 10 }", "y: { shape: [2], dtype: i32, classes: 10 }"), code: "E031", line: 20, col: 10, includes: "nll: labels must be [600], one class index per row of the probabilities [600, 10]; found labels [600, 2]", related: 2 },
  { name: "labels shaped like the probabilities", text: sub(logreg, "y: { shape: [], dtype: i32, classes: 10 }", "y: { shape: [10], dtype: i32, classes: 10 }"), code: "E031", line: 20, col: 10, includes: "nll: labels must be [600], one class index per row of the probabilities [600, 10]; found labels [600, 10] (a data input of class labels is declared `shape: []`: the batch is prepended)", related: 2 },
  { name: "reshape to a different size", text: sub(elman, "reshape(hs, 8, 6)", "reshape(hs, 8, 5)"), code: "E031", line: 30, col: 16, includes: "has 48 elements, [8, 5] has 40" },
  { name: "scan carry changes shape", text: sub(elman, "h_init: broadcast(h0, 2, 6)", "h_init: broadcast(h0, 3, 6)"), code: "E031", line: 27, col: 29, includes: "[2, 6] and [3, 6] do not broadcast", related: 2 },
  { name: "a parameter its loss never reaches", text: sub(logreg, "  b: { shape: [10], init: zeros }", "  b: { shape: [10], init: zeros }\n  unused: { shape: [3], init: zeros }"), code: "E040", line: 16, col: 11, includes: "'unused' is never trained" },
  { name: "a listed parameter its phase's loss does not reach", text: sub(sub(logreg, "softmax(x @ W + b)", "softmax(x @ W)"), "    loss: cost\n", "    loss: cost\n    params: [W, b]\n"), code: "E040", line: 27, col: 13, includes: "'b' is listed for phase 'train'" },
];

describe("compile-time errors", () => {
  it.each(CASES)("$name → $code at $line:$col", ({ text, code, line, col, includes, related }) => {
    let err: unknown;
    try {
      compileSpec(loadSpecText(text, "specs/case.yaml"));
    } catch (e) {
      err = e;
    }
    expect(err, "compiling must fail").toBeDefined();
    const ds = diagnosticsOf(err, "specs/case.yaml");
    expect(ds, `not a diagnostic: ${String(err)}`).not.toBeNull();
    const d = ds![0]!;
    expect(d.code).toBe(code);
    expect(d.message).toContain(includes);
    expect([d.line, d.col]).toEqual([line, col]);
    if (related !== undefined) expect(d.related?.length ?? 0).toBe(related);
  });
});
