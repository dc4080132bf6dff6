// The language pieces the sequence models brought (specs/rnnslu.yaml,
// specs/lstm.yaml): embed, slice, `batch` in shapes, per-example step
// counts, after_update rules, the on_plateau schedule, chunk_f1 and the
// orthogonal initialiser — what each accepts, and each refusal located at
// its spec line with its code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { diagnosticsOf } from "../compiler/compile-text.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { orthogonalInit } from "../runtime/train/orthogonal.ts";

const rnnslu = readFileSync("specs/rnnslu.yaml", "utf8");
const lstm = readFileSync("specs/lstm.yaml", "utf8");

const sub = (text: string, from: string | RegExp, to: string) => {
  const out = text.replace(from, to);
  if (out === text) throw new Error(`fixture: '${String(from)}' not found`);
  return out;
};

function errorOf(text: string) {
  try {
    compileSpec(loadSpecText(text, "specs/case.yaml"));
  } catch (e) {
    const ds = diagnosticsOf(e, "specs/case.yaml");
    if (ds === null) throw e;
    return ds[0]!;
  }
  throw new Error("compiling must fail");
}

const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;

describe("refusals", () => {
  const cases = [
    { name: "after_update reads another tensor", text: sub(rnnslu, "emb: emb / reshape(sqrt(sum(emb * emb, 1)), 573, 1)", "emb: emb / reshape(sqrt(sum(Wx * Wx, 1)), 573, 1)"), code: "E010", at: "emb: emb / reshape", includes: "after_update of 'emb' may read only 'emb' (its updated value), not 'Wx'" },
    { name: "after_update changes the shape", text: sub(rnnslu, "emb: emb / reshape(sqrt(sum(emb * emb, 1)), 573, 1)", "emb: sum(emb, 1)"), code: "E031", at: "emb: sum(emb, 1)", includes: "after_update of 'emb' has shape [573], the parameter [573, 50]" },
    { name: "on_plateau without early stopping", text: sub(rnnslu, /    early_stopping: \{ monitor: f1.*\n/, ""), code: "E045", at: "      sgd:", includes: "the on_plateau schedule decays from the best validation" },
    { name: "chunk_f1 labels that are not an input", text: sub(rnnslu, "f1: { chunk_f1: { probs: p_y, labels: labels, length: length } }", "f1: { chunk_f1: { probs: p_y, labels: gold, length: length } }"), code: "E016", at: "chunk_f1", includes: "'gold'" },
    { name: "chunk_f1 labels that are an i32 tensor but not an input", text: sub(sub(rnnslu, "  gold: one_hot", "  lab: reshape(labels, 1, 46)\n  gold: one_hot"), "labels: labels, length: length } }", "labels: lab, length: length } }"), code: "E031", at: "chunk_f1", includes: "metric 'f1': labels 'lab' must be an i32 data input of shape [T] per example" },
    { name: "chunk_f1 probabilities of another shape", text: sub(rnnslu, "labels: labels, length: length } }", "labels: labels, length: length } }\n  f1b: { chunk_f1: { probs: gold, labels: labels, length: length } }").replace("probs: gold", "probs: x"), code: "E031", at: "f1b:", includes: "probs 'x' has shape [46, 1, 350]" },
    { name: "slice past the axis", text: sub(lstm, "g: tanh(slice(preact, 1, 384, 512))", "g: tanh(slice(preact, 1, 384, 513))"), code: "E031", at: "g: tanh(slice", includes: "slice: axis 1, 384..513 does not fit [16, 512]" },
  ];
  it.each(cases)("$name → $code", ({ text, code, at, includes }) => {
    const d = errorOf(text);
    expect(d.code).toBe(code);
    expect(d.message).toContain(includes);
    expect(d.line).toBe(lineOf(text, at));
  });

  it("`batch` is a dimension only in reshape and broadcast", () => {
    const d = errorOf(sub(lstm, "proj: sum(hs * m, 0) / sum(m, 0)", "proj: sum(hs * m, batch) / sum(m, 0)"));
    expect(d.message).toContain("the axis of sum must be an integer literal");
  });
});

describe("what they compute", () => {
  it("`batch` is the graph's batch size: the LSTM compiles at 16 and its gradient check at another", () => {
    const c = compileSpec(loadSpecText(lstm, "specs/lstm.yaml"));
    const zeros = c.evalGraph.nodes.find((n) => n.loc?.what === "graph.zeros" && n.shape.length === 2);
    expect(zeros?.shape).toEqual([16, 128]);
    const c8 = compileSpec(loadSpecText(sub(lstm, "batch_size: 16", "batch_size: 8"), "specs/lstm.yaml"));
    expect(c8.evalGraph.nodes.some((n) => n.loc?.what === "graph.zeros" && n.shape.join() === "8,128")).toBe(true);
  });

  it("a vector of step counts runs the longest (the f64 reference)", () => {
    const text = sub(sub(lstm, "batch_size: 16", "batch_size: 2"), "dataset: rt-polarity", "dataset: synthetic");
    const c = compileSpec(loadSpecText(text, "specs/lstm.yaml"));
    const g = c.evalGraph;
    const param = new Map(c.desc.params.map((p, k) => [p.name, fromArray(p.shape, "f64", Float64Array.from({ length: p.shape.reduce((a, b) => a * b, 1) }, (_, i) => Math.sin(i * 0.37 + k) * 0.3))]));
    const run = (lengths: [number, number]) => {
      const mask = Float64Array.from({ length: 200 }, (_, i) => (i % 100 < lengths[Math.floor(i / 100)]! ? 1 : 0));
      const input = new Map<string, Tensor>([
        ["words", fromArray([2, 100], "i32", Int32Array.from({ length: 200 }, (_, i) => (i * 7) % 50))],
        ["mask", fromArray([2, 100], "f64", mask)],
        ["length", fromArray([2], "i32", Int32Array.from(lengths))],
        ["label", fromArray([2], "i32", Int32Array.of(0, 1))],
      ]);
      const out = interpret(g, { input, param }, { seed: 1, step: 0 });
      return Array.from((out[g.outputs.get("metric:cost")!] as Tensor).data);
    };
    // Sentence 0 has 3 words: its cost is the same whether the scan runs 3
    // steps (both 3 long) or 7 (its neighbour 7 long): its mask keeps its
    // state over the extra steps. Sentence 1's cost depends on its own length.
    const [a0, a1] = run([3, 3]);
    const [b0, b1] = run([3, 7]);
    expect(Math.abs(a0! - b0!)).toBeLessThan(1e-12);
    expect(Math.abs(a1! - b1!)).toBeGreaterThan(1e-6);
  });
});

describe("the gradient through time", () => {
  it("sums the weights' gradients after the loop: rnnslu's reverse scan carries only the hidden state's cotangent", () => {
    const c = compileSpec(loadSpecText(rnnslu, "specs/rnnslu.yaml"));
    const scans = c.steps[0]!.nodes.filter((n) => n.op === "scan");
    const reverse = scans.find((n) => (n.attrs as { reverse: boolean }).reverse)!;
    // Wx, Wh, W: their per-word products x_tᵀ·δ_t become step outputs (two
    // each) and one product of the stacked values; bh, b: stacked and summed.
    expect((reverse.attrs as { nCarry: number; nStepOut: number }).nCarry).toBe(1);
    expect((reverse.attrs as { nCarry: number; nStepOut: number }).nStepOut).toBe(1 + 3 * 2 + 2);
    const sums = c.steps[0]!.nodes.filter((n) => n.op === "matmul" && n.shape.join() === "350,200");
    expect(sums.length).toBeGreaterThan(0);
  });
});

describe("orthogonal initialisation", () => {
  it.each([
    [128, 512],
    [512, 128],
    [50, 50],
  ])("[%i, %i]: every square block has orthonormal columns", (rows, cols) => {
    const w = new Float32Array(rows * cols);
    orthogonalInit(w, rows, cols, 123, 7);
    const n = Math.min(rows, cols);
    for (let blk = 0; blk < Math.max(rows, cols) / n; blk++) {
      const at = (r: number, c: number) => (cols >= rows ? r * cols + blk * n + c : (blk * n + r) * cols + c);
      for (const [p, q] of [[0, 0], [0, 1], [n - 1, n - 1], [3, n - 2]] as const) {
        let dot = 0;
        for (let r = 0; r < n; r++) dot += w[at(r, p)]! * w[at(r, q)]!;
        expect(Math.abs(dot - (p === q ? 1 : 0)), `block ${blk} columns ${p}, ${q}`).toBeLessThan(1e-5);
      }
    }
  });

  it("blocks differ, and the same seed gives the same matrix", () => {
    const a = new Float32Array(128 * 512);
    const b = new Float32Array(128 * 512);
    orthogonalInit(a, 128, 512, 123, 7);
    orthogonalInit(b, 128, 512, 123, 7);
    expect(a).toEqual(b);
    expect(a[0]).not.toBe(a[128]);
  });

  it("refuses a matrix that is not of square blocks", () => {
    expect(() => orthogonalInit(new Float32Array(6), 2, 3, 1, 1)).toThrow(/\[n, k·n\] or \[k·n, n\]/);
  });
});
