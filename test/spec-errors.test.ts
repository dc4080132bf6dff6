// The spec front end: every malformed spec in test/specs/bad/ gives exactly
// one diagnostic with its stable code, position and message; the real specs
// load clean; the diagnostic format; positions inside quoted expressions.

import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Ajv2020 from "ajv/dist/2020.js";
import { describe, expect, it } from "vitest";
import { CHECKS } from "../compiler/frontend/checks/index.ts";
import { type Diagnostic, SpecError, diagnosticFromLoc, formatDiagnostic } from "../compiler/frontend/diagnostics.ts";
import { SCHEMA, loadSpec, loadSpecText, scalarOffset } from "../compiler/frontend/load.ts";
import { choiceHelp, editDistance, suggest } from "../compiler/frontend/suggest.ts";

const BAD = "test/specs/bad";

function diagnosticsOf(file: string): readonly Diagnostic[] {
  try {
    loadSpec(file);
  } catch (e) {
    if (e instanceof SpecError) return e.diagnostics;
    throw e;
  }
  return [];
}

function errorsOfText(text: string, file = "t.yaml"): readonly Diagnostic[] {
  try {
    loadSpecText(text, file);
  } catch (e) {
    if (e instanceof SpecError) return e.diagnostics;
    throw e;
  }
  return [];
}

interface Case {
  readonly file: string;
  readonly code: string;
  readonly line: number;
  readonly col: number;
  readonly includes: string;
  readonly help?: string;
}

const CASES: readonly Case[] = [
  { file: "01-yaml-unclosed-flow", code: "E001", line: 9, col: 34, includes: "YAML syntax error: Flow sequence", help: "every '[' or '{' is closed" },
  { file: "02-duplicate-key", code: "E002", line: 16, col: 3, includes: "duplicate key 'b1' in 'params'" },
  { file: "03-unknown-key-typo", code: "E003", line: 6, col: 3, includes: "unknown key 'batch_sise' in 'data'", help: "did you mean 'batch_size'? ('batch_size' is required; valid keys: dataset, batch_size" },
  { file: "04-unknown-top-level-key", code: "E003", line: 19, col: 1, includes: "unknown key 'metric' at the top level", help: "did you mean 'metrics'?" },
  { file: "05-missing-epochs", code: "E004", line: 23, col: 5, includes: "missing required key 'epochs' in 'phases[0]'", help: "Maximum number of epochs" },
  { file: "06-missing-losses", code: "E004", line: 2, col: 1, includes: "missing required key 'losses' at the top level" },
  { file: "07-quoted-number", code: "E005", line: 6, col: 15, includes: "'data.batch_size' must be an integer, found the string '600'", help: "remove the quotes" },
  { file: "08-shape-not-list", code: "E005", line: 9, col: 17, includes: "'data.inputs.x.shape' must be a list, found the number 784" },
  { file: "09-batch-size-zero", code: "E006", line: 6, col: 15, includes: "'data.batch_size' must be ≥ 1, found 0" },
  { file: "10-lr-zero", code: "E006", line: 25, col: 29, includes: "'phases[0].optimizer.sgd.lr' must be > 0, found 0" },
  { file: "11-threshold-above-one", code: "E006", line: 36, col: 30, includes: "improvement_threshold' must be ≤ 1, found 1.5" },
  { file: "12-bad-dataset", code: "E007", line: 5, col: 12, includes: "'data.dataset' cannot be 'mnst'", help: "did you mean 'mnist'? (expected one of: mnist, mnist-idx, fashion-mnist, synthetic, noisy-line, atis, rt-polarity, nottingham, jsb, none)" },
  { file: "13-bad-activation", code: "E007", line: 17, col: 66, includes: "cannot be 'tahn'", help: "did you mean 'tanh'? (expected one of: identity, tanh, sigmoid, relu, softmax)" },
  { file: "14-bad-dtype", code: "E007", line: 10, col: 28, includes: "'data.inputs.y.dtype' cannot be 'int32'", help: "expected one of: f32, i32" },
  { file: "15-bad-model-name", code: "E008", line: 2, col: 8, includes: "'my-mlp' is not a valid name", help: "letters, digits and '_'" },
  { file: "16-two-optimizers", code: "E009", line: 25, col: 5, includes: "takes exactly one of sgd, momentum, rmsprop, adadelta, adam; found 2", help: "keep one of sgd, momentum" },
  { file: "17-unknown-optimizer", code: "E003", line: 30, col: 18, includes: "unknown key 'sdg' in 'phases[0].optimizer'", help: "did you mean 'sgd'? (expected one of: sgd, momentum, rmsprop, adadelta, adam)" },
  { file: "18-unknown-tensor-expr", code: "E010", line: 15, col: 28, includes: "unknown tensor 'w' in graph.p_y_given_x", help: "did you mean 'W'?" },
  { file: "19-unknown-tensor-dense", code: "E010", line: 18, col: 34, includes: "unknown tensor 'hiden' in graph.p_y_given_x.dense.input", help: "did you mean 'hidden'?" },
  { file: "20-empty-phases", code: "E011", line: 22, col: 1, includes: "'phases' must not be empty" },
  { file: "21-defined-twice", code: "E012", line: 18, col: 3, includes: "'b2' is defined twice: as a parameter and as a graph entry" },
  { file: "22-cycle", code: "E013", line: 17, col: 3, includes: "dependency cycle among graph entries: hidden → p_y_given_x → hidden" },
  { file: "23-unknown-phase-loss", code: "E014", line: 24, col: 11, includes: "phase loss 'costs' is not defined", help: "did you mean 'cost'? (losses: cost)" },
  { file: "24-l2-not-a-param", code: "E015", line: 23, col: 24, includes: "'hidden' is a graph entry, not a parameter", help: "parameters: W1, b1, W2, b2" },
  { file: "25-float-labels", code: "E016", line: 18, col: 40, includes: "must be integer class labels, but input 'x' has dtype f32" },
  { file: "26-int-probs", code: "E017", line: 18, col: 19, includes: "must be a float tensor, but 'y' holds integer labels", help: "one_hot(y, 10)" },
  { file: "27-monitor-not-metric", code: "E018", line: 33, col: 16, includes: "early stopping monitors 'eror', which is not a metric", help: "did you mean 'error'? (metrics: error, cost)" },
  { file: "28-scan-no-length", code: "E019", line: 15, col: 5, includes: "scan 'chain' has neither `length` nor `sequences`" },
  { file: "29-final-not-carry", code: "E020", line: 27, col: 25, includes: "'hh' is not a carry of this scan", help: "carries: h" },
  { file: "30-expr-dangling-operator", code: "E021", line: 15, col: 32, includes: "unexpected ')': expected a name, a number or '('" },
  { file: "31-expr-unclosed-paren", code: "E021", line: 15, col: 23, includes: "unclosed '('", help: "add the missing ')'" },
  { file: "32-unknown-function", code: "E022", line: 15, col: 16, includes: "unknown function 'softmaks'", help: "did you mean 'softmax'? (functions: tanh, sigmoid" },
  { file: "33-wrong-arity", code: "E023", line: 15, col: 14, includes: "bernoulli takes 1 argument, found 2", help: "usage: bernoulli(x)" },
  { file: "34-axis-not-integer", code: "E024", line: 19, col: 28, includes: "the axis of sum must be an integer literal" },
  { file: "35-duplicate-list-item", code: "E025", line: 23, col: 28, includes: "'W1' is listed twice in 'losses.cost.l2.params'" },
  { file: "36-uniform-empty-range", code: "E026", line: 11, col: 59, includes: "high (-0.5) must be greater than low (0.5)" },
  { file: "37-classes-on-float", code: "E027", line: 9, col: 36, includes: "input 'x' has `classes` but dtype f32" },
  { file: "38-quoted-expr-unknown", code: "E010", line: 15, col: 29, includes: "unknown tensor 'V'" },
  { file: "39-single-quoted-expr-unknown", code: "E010", line: 15, col: 29, includes: "unknown tensor 'V'" },
  { file: "40-plain-expr-unknown", code: "E010", line: 15, col: 28, includes: "unknown tensor 'V'" },
  { file: "41-scan-body-unknown", code: "E010", line: 25, col: 20, includes: "unknown tensor 'x_s' in the body of scan 'rnn'", help: "did you mean 'x_t'?" },
  { file: "42-scan-body-cycle", code: "E013", line: 19, col: 9, includes: "dependency cycle in the body of scan 'chain': h → v2 → h" },
  { file: "43-init-needs-parameters", code: "E007", line: 14, col: 33, includes: "'normal' needs parameters", help: "`{ normal: { … } }`" },
  { file: "44-empty-expression", code: "E011", line: 15, col: 16, includes: "'graph.p_y_given_x' must not be an empty string" },
  { file: "45-duplicate-phase-name", code: "E012", line: 32, col: 11, includes: "phase name 'train' is used twice" },
  { file: "46-loss-without-terms", code: "E009", line: 17, col: 3, includes: "'losses.cost' needs at least one of: nll, cross_entropy" },
  { file: "47-two-documents", code: "E001", line: 19, col: 1, includes: "more than one YAML document", help: "remove the `---` separator" },
  { file: "48-missing-value", code: "E005", line: 6, col: 3, includes: "found nothing (null)", help: "give it a value" },
  { file: "49-function-as-tensor", code: "E010", line: 15, col: 24, includes: "unknown tensor 'tanh'", help: "'tanh' is a function: call it as tanh(x)" },
  { file: "50-folded-expr-unknown", code: "E010", line: 22, col: 20, includes: "unknown tensor 'chain_ends' in graph.fe_model", help: "did you mean 'chain_end'?" },
  { file: "51-l1-unknown-param", code: "E015", line: 22, col: 24, includes: "unknown parameter 'W3' (losses.cost.l1.params[1])" },
  { file: "52-phase-params-unknown", code: "E015", line: 30, col: 26, includes: "unknown parameter 'B2' (phases[0].params[3])", help: "did you mean 'b2'?" },
  { file: "53-scan-output-not-body", code: "E020", line: 26, col: 22, includes: "'g' is not a body name or carry of this scan", help: "per-step values: h" },
  { file: "54-negative-l2-weight", code: "E006", line: 23, col: 37, includes: "'losses.cost.l2.weight' must be ≥ 0, found -0.0001" },
  { file: "55-patience-float", code: "E005", line: 29, col: 17, includes: "must be an integer, found the number 5000.5" },
  { file: "56-monitor-is-loss", code: "E018", line: 25, col: 32, includes: "'reconstruction' is a loss", help: "add a `metrics:` section" },
  { file: "57-self-reference", code: "E013", line: 15, col: 3, includes: "graph entry 'p_y_given_x' uses itself" },
  { file: "58-unknown-init-key", code: "E003", line: 12, col: 54, includes: "unknown key 'gian' in 'params.W1.init.glorot_uniform'", help: "did you mean 'gain'?" },
  { file: "59-bad-param-key", code: "E008", line: 12, col: 3, includes: "'1W' is not a valid name (a key of 'params')" },
  { file: "60-scan-carry-is-sequence", code: "E012", line: 23, col: 27, includes: "'x_t' is both a sequence and a carry of scan 'rnn'" },
  { file: "61-tab-indent", code: "E001", line: 3, col: 1, includes: "Tabs are not allowed as indentation", help: "indent with spaces" },
  { file: "62-dropout-rate", code: "E029", line: 13, col: 29, includes: "dropout: the drop probability must be a number in [0, 1), found 50", help: "e.g. dropout(h, 0.5)" },
  { file: "63-unknown-schedule", code: "E007", line: 20, col: 45, includes: "'phases[0].optimizer.sgd.schedule' cannot be 'exponentail'", help: "did you mean 'exponential'? (expected `constant` or a mapping with one of: exponential, step_decay, linear, on_plateau)" },
  { file: "64-alias-bomb", code: "E060", line: 4, col: 8, includes: "YAML aliases expand to more than 1000 values", help: "a spec needs no nested aliases; write the repeated value out, or use one alias level" },
  { file: "66-int-targets-cross-entropy", code: "E017", line: 18, col: 51, includes: "losses.cost.cross_entropy.targets must be a float tensor, but 'y' holds integer labels", help: "for integer class labels use the categorical cross-entropy `nll: { probs: p_y_given_x, labels: y }`" },
  { file: "67-flow-graph-comma", code: "E021", line: 14, col: 23, includes: "unclosed '(' in 'softmax(maximum(x @ W' ('graph.p_y_given_x'): inside `{ … }` a comma ends a value, so YAML cut the expression `softmax(maximum(x @ W, 0) + b)` at a comma", help: 'quote the expression: `p_y_given_x: "softmax(maximum(x @ W, 0) + b)"`' },
  { file: "68-flow-expr-term-comma", code: "E021", line: 19, col: 20, includes: "YAML cut the expression `sum(W * W, 0) @ sum(W * W, 1)` at a comma", help: 'quote the expression: `value: "sum(W * W, 0) @ sum(W * W, 1)"`' },
  { file: "65-flow-expr-comma", code: "E008", line: 17, col: 29, includes: "'dropout(x' is not a valid name ('graph.hidden.dense.input'): inside `{ … }` a comma ends a value, so YAML cut the expression `dropout(x, 0.2)` at a comma", help: 'make the expression a graph entry of its own, quoted (`hidden_input: "dropout(x, 0.2)"`), and write `input: hidden_input`' },
];

describe("malformed specs", () => {
  it("every file in test/specs/bad/ has a case, and every case a file", () => {
    const files = readdirSync(BAD).filter((f) => f.endsWith(".yaml") && !f.startsWith("w")).map((f) => f.replace(/\.yaml$/, "")).sort();
    expect(files).toEqual(CASES.map((c) => c.file).sort());
    expect(CASES.length).toBeGreaterThanOrEqual(35);
  });

  it.each(CASES)("$file → $code at $line:$col", (c) => {
    const file = `${BAD}/${c.file}.yaml`;
    const ds = diagnosticsOf(file);
    expect(ds.length, ds.map((d) => formatDiagnostic(d)).join("\n")).toBe(1);
    const d = ds[0]!;
    expect({ code: d.code, line: d.line, col: d.col, severity: d.severity, file: d.file }).toEqual({ code: c.code, line: c.line, col: c.col, severity: "error", file });
    expect(d.message).toContain(c.includes);
    if (c.help !== undefined) expect(d.help).toContain(c.help);
    // Never a stack trace, always the rustc-like header.
    const text = formatDiagnostic(d);
    expect(text.startsWith(`${file}:${c.line}:${c.col} error[${c.code}]: `)).toBe(true);
    expect(text).not.toMatch(/\n\s+at /);
  });

  it("every code in the table is documented in docs/errors.md", () => {
    const doc = readFileSync("docs/errors.md", "utf8");
    for (const code of new Set([...CASES.map((c) => c.code), ...CHECKS.map((c) => c.code)])) expect(doc, code).toContain(`## ${code} — `);
  });

  it("the check table leaves the IR's codes (E030–E049) alone and has unique codes", () => {
    const codes = CHECKS.map((c) => c.code);
    expect(new Set(codes).size).toBe(codes.length);
    for (const c of codes) expect(c).toMatch(/^(E0(0\d|1\d|2\d|5\d|[6-9]\d)|W0\d\d)$/);
  });
});

describe("warnings", () => {
  it.each([
    { file: "w01-unused-entry", code: "W001", line: 16, col: 3, includes: "graph entry 'logits' is not used by any loss, metric, state update, report or sampler" },
    { file: "w02-carry-not-updated", code: "W002", line: 17, col: 22, includes: "carry 't' of scan 'chain' is never updated" },
    { file: "w03-unused-param", code: "W003", line: 14, col: 3, includes: "parameter 'c' is not used" },
  ])("$file → $code at $line:$col (the spec still loads)", (c) => {
    const ls = loadSpec(`${BAD}/${c.file}.yaml`);
    expect(ls.warnings?.length).toBe(1);
    const w = ls.warnings![0]!;
    expect({ code: w.code, line: w.line, col: w.col, severity: w.severity }).toEqual({ code: c.code, line: c.line, col: c.col, severity: "warning" });
    expect(w.message).toContain(c.includes);
    expect(formatDiagnostic(w).split("\n")[0]).toBe(`${BAD}/${c.file}.yaml:${c.line}:${c.col} warning[${c.code}]: ${w.message}`);
  });
});

describe("valid specs", () => {
  const real = readdirSync("specs").filter((f) => f.endsWith(".yaml")).map((f) => `specs/${f}`);
  const tests = readdirSync("test/specs").filter((f) => f.endsWith(".yaml")).map((f) => `test/specs/${f}`);

  it("includes the tutorial's logreg and mlp", () => {
    expect(real).toEqual(expect.arrayContaining(["specs/logreg.yaml", "specs/mlp.yaml"]));
  });

  it.each([...real, ...tests])("%s loads with no errors and no warnings", (file) => {
    const ls = loadSpec(file);
    expect(ls.warnings ?? []).toEqual([]);
    expect(ls.file).toBe(file);
  });

  it("gives the typed spec and positions of keys and values", () => {
    const ls = loadSpec("specs/mlp.yaml");
    expect(ls.spec.model).toBe("mlp");
    expect(ls.spec.data.batch_size).toBe(20);
    expect(ls.spec.params.W1!.init).toEqual({ glorot_uniform: {} });
    expect(ls.spec.phases[0]!.early_stopping?.monitor).toBe("error");
    expect(ls.locate(["data", "batch_size"])).toEqual({ line: 9, col: 15 });
    expect(ls.locate(["data", "batch_size"], { key: true })).toEqual({ line: 9, col: 3 });
    expect(ls.locate(["phases", 0, "optimizer", "sgd", "lr"])).toEqual({ line: 33, col: 29 });
    // A path that does not exist falls back to its nearest ancestor.
    expect(ls.locate(["data", "eval_batch_size"])).toEqual(ls.locate(["data"]));
    expect(ls.locate(["nothing", "here"])).toEqual({ line: 5, col: 1 });
  });
});

describe("positions inside expression strings", () => {
  const base = readFileSync("specs/logreg.yaml", "utf8");
  const at = (entry: string) => {
    const ds = errorsOfText(base.replace("  p_y_given_x: softmax(x @ W + b)", entry));
    expect(ds.length).toBe(1);
    return { code: ds[0]!.code, line: ds[0]!.line, col: ds[0]!.col };
  };

  it("plain, double-quoted and single-quoted scalars", () => {
    expect(at("  p_y_given_x: softmax(x @ V + b)")).toEqual({ code: "E010", line: 17, col: 28 });
    expect(at('  p_y_given_x: "softmax(x @ V + b)"')).toEqual({ code: "E010", line: 17, col: 29 });
    expect(at("  p_y_given_x: 'softmax(x @ V + b)'")).toEqual({ code: "E010", line: 17, col: 29 });
  });

  it("escapes inside quotes shift the column", () => {
    // `\t` is two characters in the file, one in the string.
    expect(at('  p_y_given_x: "softmax(x @ W\\t+ V)"')).toEqual({ code: "E010", line: 17, col: 34 });
    // `''` is one quote in the string (and not part of the language).
    expect(at("  p_y_given_x: 'softmax(x @ W + b'' + V)'")).toEqual({ code: "E021", line: 17, col: 34 });
  });

  it("block and folded scalars point at the right line", () => {
    expect(at("  p_y_given_x: |-\n    softmax(x @ W\n      + V)")).toEqual({ code: "E010", line: 19, col: 9 });
    expect(at("  p_y_given_x: >-\n    softmax(x @ W +\n    V)")).toEqual({ code: "E010", line: 19, col: 5 });
  });

  it("syntax errors in quoted expressions", () => {
    expect(at('  p_y_given_x: "softmax(x @ W + )"')).toEqual({ code: "E021", line: 17, col: 33 });
    expect(at("  p_y_given_x: softmax(x @ W + )")).toEqual({ code: "E021", line: 17, col: 32 });
  });

  it("locateIn maps expression offsets (ExprError.offset, Expr.pos) for the IR builder", () => {
    const ls = loadSpecText(base.replace("softmax(x @ W + b)", '"softmax(x @ W + b)"'), "q.yaml");
    expect(ls.locateIn(["graph", "p_y_given_x"], 0)).toEqual({ line: 17, col: 17 });
    expect(ls.locateIn(["graph", "p_y_given_x"], 10)).toEqual({ line: 17, col: 27 });
    expect(ls.locate(["graph", "p_y_given_x"])).toEqual({ line: 17, col: 16 });
  });

  it("scalarOffset is the identity for plain scalars", () => {
    const text = "a: x + y\n";
    expect(scalarOffset(text, "PLAIN", 3, 8, "x + y", 4)).toBe(7);
  });
});

describe("diagnostic format", () => {
  it("is rustc-like: header, source line, caret, help and notes", () => {
    const ds = diagnosticsOf(`${BAD}/02-duplicate-key.yaml`);
    expect(formatDiagnostic(ds[0]!)).toBe(
      [
        "test/specs/bad/02-duplicate-key.yaml:16:3 error[E002]: duplicate key 'b1' in 'params'",
        "   |",
        "16 |   b1: { shape: [500], init: zeros }",
        "   |   ^^",
        "  = help: each key may appear once in a mapping; remove or rename one",
        "  = note: test/specs/bad/02-duplicate-key.yaml:13:3: 'b1' first defined here",
      ].join("\n"),
    );
  });

  it("underlines a name inside an expression", () => {
    const ds = diagnosticsOf(`${BAD}/50-folded-expr-unknown.yaml`);
    expect(formatDiagnostic(ds[0]!).split("\n").slice(1, 4)).toEqual(["   |", "22 |     - sum(softplus(chain_ends @ W + hbias), 1)", "   |                    ^^^^^^^^^^"]);
  });

  it("diagnosticFromLoc reads the source line from the file", () => {
    const d = diagnosticFromLoc("E031", { file: "specs/logreg.yaml", line: 17, col: 26 }, "operand shapes do not fit", "check W");
    expect(d.severity).toBe("error");
    expect(formatDiagnostic(d)).toBe(
      ["specs/logreg.yaml:17:26 error[E031]: operand shapes do not fit", "   |", "17 |   p_y_given_x: softmax(x @ W + b)", "   |                          ^", "  = help: check W"].join("\n"),
    );
    expect(formatDiagnostic(diagnosticFromLoc("E041", { file: "no/such/file.yaml", line: 3, col: 1 }, "NaN"))).toBe("no/such/file.yaml:3:1 error[E041]: NaN");
  });

  it("SpecError says how many errors it holds", () => {
    const text = readFileSync("specs/logreg.yaml", "utf8").replace("batch_size: 600", "batch_size: 0").replace("lr: 0.13", "lr: -1");
    try {
      loadSpecText(text, "two.yaml");
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(SpecError);
      const ds = (e as SpecError).diagnostics;
      expect(ds.map((d) => [d.code, d.line])).toEqual([
        ["E006", 8],
        ["E006", 27],
      ]);
      expect((e as SpecError).message).toBe("two.yaml:8:15 error[E006]: 'data.batch_size' must be ≥ 1, found 0 (and 1 more)");
    }
  });
});

describe("error reporting across stages", () => {
  const base = readFileSync("specs/mlp.yaml", "utf8");

  it("reports several independent errors, in file order", () => {
    const text = base.replace("input: hidden,", "input: hiden,").replace("monitor: error", "monitor: eror").replace("l2: { params: [W1, W2]", "l2: { params: [W1, W9]");
    expect(errorsOfText(text).map((d) => d.code)).toEqual(["E010", "E015", "E018"]);
  });

  it("a misspelt required key is one error, not two", () => {
    const ds = errorsOfText(base.replace("    epochs: 1000", "    epoch: 1000"));
    expect(ds.map((d) => d.code)).toEqual(["E003"]);
    expect(ds[0]!.help).toContain("did you mean 'epochs'?");
  });

  it("a value of the wrong type is one error, whatever the union", () => {
    expect(errorsOfText(base.replace("init: { glorot_uniform: {} }", "init: [1, 2]")).map((d) => d.code)).toEqual(["E005"]);
    expect(errorsOfText(base.replace("hidden: { dense: { input: x, weight: W1, bias: b1, activation: tanh } }", "hidden: 3")).map((d) => d.message)).toEqual([
      "'graph.hidden' must be an expression string, `{ dense: {...} }` or `{ scan: {...} }`, found the number 3",
    ]);
  });

  it("an empty file and a non-mapping are reported at 1:1", () => {
    expect(errorsOfText("").map((d) => [d.code, d.line, d.col, d.message])).toEqual([["E005", 1, 1, "the spec is empty"]]);
    expect(errorsOfText("- a\n- b\n").map((d) => d.code)).toEqual(["E005"]);
  });

  it("keys that are not scalars are E008", () => {
    expect(errorsOfText(base.replace("params:\n", "params:\n  ? [5]\n  : x\n")).map((d) => [d.code, d.line, d.col])).toEqual([["E008", 15, 5]]);
  });

  it("never throws anything but SpecError (mutated specs)", () => {
    const bases = ["specs/logreg.yaml", "specs/mlp.yaml", "test/specs/elman.yaml", "test/specs/gibbs-chain.yaml"].map((f) => readFileSync(f, "utf8"));
    const chars = " :{}[],-#'\"\nabxyW01.@()*+_";
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let k = 0; k < 1500; k++) {
      let t = bases[rnd(bases.length)]!;
      const lines = t.split("\n");
      const m = rnd(4);
      if (m === 0) lines.splice(rnd(lines.length), 1);
      else if (m === 1) lines.splice(rnd(lines.length), 0, lines[rnd(lines.length)]!);
      if (m <= 1) t = lines.join("\n");
      else {
        const i = rnd(t.length);
        t = t.slice(0, i) + chars[rnd(chars.length)] + t.slice(i + (m === 2 ? 1 : 0));
      }
      for (const d of errorsOfText(t)) {
        expect(d.code).toMatch(/^E0\d\d$/);
        expect(d.line).toBeGreaterThanOrEqual(1);
        expect(d.col).toBeGreaterThanOrEqual(1);
      }
    }
  });
});

describe("schema", () => {
  it("compiles in ajv's strict mode", () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    ajv.addVocabulary(["x-expected"]);
    expect(() => ajv.compile(SCHEMA)).not.toThrow();
  });

  it("describes every property and closes every object", () => {
    const problems: string[] = [];
    const visit = (s: unknown, where: string): void => {
      if (!s || typeof s !== "object") return;
      const o = s as Record<string, unknown>;
      if (o.type === "object" && o.properties && o.additionalProperties !== false) problems.push(`${where}: open object`);
      if (o.properties) {
        for (const [k, v] of Object.entries(o.properties as Record<string, Record<string, unknown>>)) {
          if (typeof v.description !== "string") problems.push(`${where}.${k}: no description`);
        }
      }
      // The entries of a name map (params, graph, …) are keys too: an editor
      // shows this text when one hovers over `W1:`.
      const ap = o.additionalProperties as Record<string, unknown> | boolean | undefined;
      if (ap && typeof ap === "object" && typeof ap.description !== "string" && typeof ap.title !== "string") problems.push(`${where}: entries have no description`);
      for (const [k, v] of Object.entries(o)) if (typeof v === "object") visit(v, `${where}/${k}`);
    };
    visit(SCHEMA, "#");
    for (const [k, v] of Object.entries(SCHEMA.$defs as Record<string, Record<string, unknown>>)) {
      if (typeof v.description !== "string" && typeof v.title !== "string") problems.push(`#/$defs/${k}: no description`);
    }
    expect(problems).toEqual([]);
  });

  it("gives examples that an editor can offer, and every example is valid", () => {
    const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
    ajv.addVocabulary(["x-expected"]);
    const defs = SCHEMA.$defs as Record<string, Record<string, unknown>>;
    for (const k of ["name", "expression", "shape", "input", "param", "init", "graphEntry", "loss", "metric", "optimizer", "schedule", "phase"]) {
      expect(Array.isArray(defs[k]!.examples), `$defs/${k}: examples`).toBe(true);
    }
    let checked = 0;
    const visit = (s: unknown, where: string): void => {
      if (!s || typeof s !== "object") return;
      const o = s as Record<string, unknown>;
      if (Array.isArray(o.examples)) {
        const { $defs: _, $schema: __, $id: ___, ...node } = o;
        const validate = ajv.compile({ ...node, $defs: SCHEMA.$defs });
        for (const e of o.examples) {
          checked++;
          expect(validate(e), `${where}: example ${JSON.stringify(e)} ${JSON.stringify(validate.errors)}`).toBe(true);
        }
      }
      for (const [k, v] of Object.entries(o)) if (k !== "examples" && typeof v === "object") visit(v, `${where}/${k}`);
    };
    visit(SCHEMA, "#");
    expect(checked).toBeGreaterThanOrEqual(30);
  });
});

describe("suggestions", () => {
  it("Damerau–Levenshtein distance counts a transposition as one edit", () => {
    expect(editDistance("sgd", "sdg")).toBe(1);
    expect(editDistance("batch_size", "batch_sise")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("suggests close names only", () => {
    expect(suggest("softmaks", ["tanh", "softmax", "log_softmax"])).toBe("softmax");
    expect(suggest("w", ["x", "W", "b"])).toBe("W");
    expect(suggest("V", ["x", "W", "b"])).toBeUndefined();
    expect(suggest("momentom", ["sgd", "momentum"])).toBe("momentum");
    expect(suggest("adam", ["sgd", "momentum"])).toBeUndefined();
    expect(choiceHelp("sdg", ["sgd", "momentum"], "expected one of")).toBe("did you mean 'sgd'? (expected one of: sgd, momentum)");
    expect(choiceHelp("adam", ["sgd", "momentum"], "expected one of")).toBe("expected one of: sgd, momentum");
  });
});
