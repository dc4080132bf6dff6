// The language of sampling specs (specs/hmc.yaml): `dataset: none`, phases
// of `draws` with `updates` and `record`, and literal initialisers (`values`,
// `inverse_of`) — each refusal located at its spec line with its code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { diagnosticsOf } from "../compiler/compile-text.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";

const FILE = "specs/case.yaml";
const hmc = readFileSync("specs/hmc.yaml", "utf8");

const sub = (text: string, from: string | RegExp, to: string) => {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`fixture: '${String(from)}' not found`);
  return out;
};

/** The first error of `code` (a fixture may have others, reported with it). */
function errorOf(text: string, code?: string) {
  try {
    compileSpec(loadSpecText(text, FILE));
  } catch (e) {
    const ds = diagnosticsOf(e, FILE);
    if (ds === null) throw e;
    const d = code === undefined ? ds[0] : ds.find((x) => x.code === code);
    if (d === undefined) throw new Error(`no ${code} among: ${ds.map((x) => `${x.code} ${x.message}`).join("; ")}`);
    return d;
  }
  throw new Error("expected a compile error");
}

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

describe("sampling specs compile", () => {
  it("hmc.yaml: two sampling phases, no params, losses or data", () => {
    const c = compileSpec(loadSpecText(hmc, "specs/hmc.yaml"));
    expect(c.desc.params).toEqual([]);
    expect(c.desc.phases.map((p) => [p.name, p.draws, p.epochs])).toEqual([
      ["burn_in", 1000, 1],
      ["sample", 1000, 1],
    ]);
    expect(c.desc.phases[1]!.record).toEqual([{ name: "samples", state: "position", targetMean: "mu", targetCov: "cov" }]);
    // cov is read by the trainer only (the printed target): a plain array.
    expect(c.files.get("model.ts")).toMatch(/cov: new Float32Array\(25\)/);
  });
});

describe("sampling specs: refusals", () => {
  it.each([
    ["E003", "a loss in a sampling phase", sub(hmc, "  - name: burn_in\n    draws: 1000", "  - name: burn_in\n    loss: cost\n    draws: 1000"), "    loss: cost", /'loss' is not a key of a sampling phase/],
    ["E003", "record in a training phase", sub(hmc, /  - name: sample\n    draws: 1000\n    updates: \{[^}]*\}\n    report: new_acceptance_rate\n/, "  - name: sample\n    loss: cost\n    optimizer: { sgd: { lr: 0.1 } }\n    epochs: 1\n    report: new_acceptance_rate\n"), "    record:", /'record' is a key of sampling phases/],
    ["E007", "a training phase without data", sub(hmc, /  - name: sample\n    draws: 1000\n    updates: \{[^}]*\}\n    report: new_acceptance_rate\n    record:\n.*\n/, "  - name: sample\n    loss: cost\n    optimizer: { sgd: { lr: 0.1 } }\n    epochs: 1\nlosses:\n  cost: { expr: { value: sum(position) } }\nparams:\n  w: { shape: [1], init: zeros }\n"), "  dataset: none", /dataset 'none' has no examples for training phase 'sample'/],
    ["E031", "values of the wrong shape", sub(hmc, "values: [6.96469186, 2.86139335, 2.26851454, 5.51314769, 7.1946897]", "values: [6.96469186, 2.86139335, 2.26851454, 5.51314769]"), "  mu: {", /state\.mu: values has 4 entries, axis 0 of the shape \[5\] has 5/],
    // Spec numbers reach generated code only finite: the schema refuses .nan and .inf.
    ["E005", "a value that is not finite", sub(hmc, "values: [6.96469186, 2.86139335,", "values: [.nan, 2.86139335,"), "  mu: {", /'state\.mu\.init\.values\[0\]' must be a list or a number, found the number NaN/],
    ["E005", "an infinite value", sub(hmc, "values: [6.96469186, 2.86139335,", "values: [.inf, 2.86139335,"), "  mu: {", /'state\.mu\.init\.values\[0\]' must be a list or a number/],
    ["E031", "inverse_of a tensor without values", sub(hmc, "init: { inverse_of: cov }", "init: { inverse_of: position }"), "  cov_inv:", /inverse_of 'position': needs a state tensor or parameter initialised with `values`/],
    ["E031", "inverse_of a singular matrix", sub(hmc, "        - [0.66197111, 1.0, 0.31053199, 0.45455485, 0.37991646]", "        - [1.0, 0.66197111, 0.71141257, 0.55766643, 0.35753822]"), "  cov_inv:", /the matrix is singular/],
    ["E028", "record of something that is not a state tensor", sub(hmc, "samples: { state: position,", "samples: { state: new_position,"), "      samples:", /'new_position' is a graph entry: only state tensors are recorded/],
  ])("%s: %s", (code, _what, text, line, message) => {
    const d = errorOf(text, code);
    expect(d.message).toMatch(message);
    expect(d.line).toBe(lineOf(text, line));
  });

  it("E004: a training phase needs losses (and params)", () => {
    const text = readFileSync("specs/logreg.yaml", "utf8").replace(/^losses:\n(  .*\n)+/m, "");
    const d = errorOf(text);
    expect(d.code).toBe("E004");
    expect(d.message).toBe("missing required key 'losses' at the top level");
  });
});
