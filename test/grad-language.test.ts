// grad(f, x) in spec expressions: its values against closed forms (first
// and second order, through graph names, inside a scan body), its refusals
// (E046–E049) located at the spec line, and stop_gradient's zeros. Gradient
// checks of specs holding a grad run with every spec in compiler.test.ts
// (test/specs/double-backprop.yaml, test/specs/grad-in-scan.yaml); second
// derivatives of every primitive in ops-grad.test.ts and conv.test.ts.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { diagnosticsOf } from "../compiler/compile-text.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { ModelBuilder } from "../compiler/graph/build-model.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";

const FILE = "specs/case.yaml";

/** A spec over x [3] (batch 2) and params W [3, 3], v [3] with graph
 * entries `graph` (YAML lines) and a loss reading `loss`. */
function spec(graph: string, loss = "sum(x)"): string {
  return `model: grad_case
seed: 1
data:
  dataset: synthetic
  batch_size: 2
  inputs:
    x: { shape: [3], dtype: f32 }
    y: { shape: [], dtype: i32, classes: 3 }
params:
  W: { shape: [3, 3], init: zeros }
  v: { shape: [3], init: zeros }
graph:
${graph}
losses:
  total:
    expr: { value: ${loss} }
phases:
  - name: train
    loss: total
    optimizer: { sgd: { lr: 0.1 } }
    epochs: 1
`;
}

const X = [0.3, -0.7, 1.1, 0.5, 0.2, -0.4];
const W = [0.2, -0.1, 0.4, 0.3, 0.5, -0.2, -0.3, 0.1, 0.6];
const V = [0.7, -0.5, 0.25];

/** The values of graph names, in f64, for the inputs above. */
function values(graph: string, names: readonly string[]): Map<string, number[]> {
  const mb = new ModelBuilder(loadSpecText(spec(graph), FILE), { dtype: "f64", batch: 2 });
  const ids = names.map((n) => mb.resolve(n));
  const vals = interpret(mb.b.graph, {
    input: new Map([
      ["x", fromArray([2, 3], "f64", X)],
      ["y", fromArray([2], "i32", [0, 2])],
    ]),
    param: new Map([
      ["W", fromArray([3, 3], "f64", W)],
      ["v", fromArray([3], "f64", V)],
    ]),
  });
  return new Map(names.map((n, k) => [n, [...(vals[ids[k]!] as Tensor).data]]));
}

function errorOf(text: string) {
  try {
    compileSpec(loadSpecText(text, FILE));
  } catch (e) {
    const ds = diagnosticsOf(e, FILE);
    if (ds === null) throw e;
    return ds[0]!;
  }
  throw new Error("expected a compile error");
}

const close = (got: readonly number[], want: readonly number[]) => {
  expect(got.length).toBe(want.length);
  got.forEach((g, i) => expect(g).toBeCloseTo(want[i]!, 12));
};

describe("grad: values", () => {
  it("of a quadratic: grad(sum(x * x), x) = 2x", () => {
    close(values("  g: grad(sum(x * x), x)", ["g"]).get("g")!, X.map((a) => 2 * a));
  });

  it("with respect to a parameter: ∂ Σ tanh(x W) / ∂W = xᵀ (1 − tanh²)", () => {
    const g = values("  g: grad(sum(tanh(x @ W)), W)", ["g"]).get("g")!;
    const want = new Array<number>(9).fill(0);
    for (let n = 0; n < 2; n++) {
      for (let j = 0; j < 3; j++) {
        let a = 0;
        for (let i = 0; i < 3; i++) a += X[n * 3 + i]! * W[i * 3 + j]!;
        const d = 1 - Math.tanh(a) ** 2;
        for (let i = 0; i < 3; i++) want[i * 3 + j]! += X[n * 3 + i]! * d;
      }
    }
    close(g, want);
  });

  it("with respect to a graph name holds what it is computed from fixed (Theano's rule)", () => {
    // h = sigmoid(a): ∂ Σ h / ∂a = h (1 − h), the contractive penalty's factor.
    const v = values("  a: x @ W + v\n  h: sigmoid(a)\n  s: grad(sum(h), a)", ["h", "s"]);
    close(v.get("s")!, v.get("h")!.map((h) => h * (1 - h)));
  });

  it("of a gradient: grad(sum(grad(sum(x * x * x), x)), x) = 6x", () => {
    close(values("  g: grad(sum(x * x * x), x)\n  gg: grad(sum(g), x)", ["gg"]).get("gg")!, X.map((a) => 6 * a));
  });

  it("through stop_gradient only: zeros, as asked", () => {
    close(values("  g: grad(sum(stop_gradient(x) * v), x)", ["g"]).get("g")!, [0, 0, 0, 0, 0, 0]);
  });

  it("inside a scan body, of the carry entering the step", () => {
    // Gradient descent on E(h) = Σ h²/2 with step 0.25: h ← h − 0.25 h.
    const v = values(
      `  zeros: broadcast(0.0, 3, 2, 3)
  walk:
    scan:
      sequences: { z: zeros }
      carry: { h: x }
      body:
        e: 0.5 * sum(h * h)
        h: h - 0.25 * grad(e, h)
      finals: { h_end: h }`,
      ["h_end"],
    );
    close(v.get("h_end")!, X.map((a) => a * 0.75 ** 3));
  });
});

describe("grad: refusals, located", () => {
  it.each([
    ["E046", "  g: grad(x * v, x)", /grad\(x \* v, x\): x \* v has shape \[2, 3\]; .* write grad\(sum\(x \* v\), x\)/],
    ["E046", "  g: grad(sum(argmax(x, 1)), x)", /is i32, not a float/],
    ["E047", "  g: grad(sum(x * v), v * 2)", /must be the name of the value .* got v \* 2/],
    ["E047", "  g: grad(sum(x), v)", /sum\(x\) does not depend on v/],
    ["E047", "  g: grad(sum(x), y)", /y is i32; only float values have gradients/],
    ["E048", "  g: grad(sum(where(x > v, 1.0, 0.0)), v)", /every path from v to .* passes through a comparison \(specs\/case\.yaml:13:23\)/],
    ["E048", "  g: grad(sum(one_hot(argmax(x * v, 1), 3)), v)", /passes through argmax/],
  ])("%s: %s", (code, graph, message) => {
    const d = errorOf(spec(graph, "sum(g)"));
    expect(d.code).toBe(code);
    expect(d.line).toBe(13);
    expect(d.message).toMatch(message);
  });

  it("E049: training a gradient taken through a scan (second-order BPTT)", () => {
    const elman = readFileSync("test/specs/elman.yaml", "utf8")
      .replace("  labels: reshape(time_major(y), 8)", "  labels: reshape(time_major(y), 8)\n  g: grad(sum(h_last * h_last), Wx)")
      .replace("expr: { value: 0.01 * sum(h_last * h_last) }", "expr: { value: 0.5 * sum(g * g) }");
    const d = errorOf(elman);
    expect(d.code).toBe("E049");
    expect(d.message).toMatch(/^scan: a gradient through this scan is differentiated again/);
    expect(readFileSync("test/specs/elman.yaml", "utf8").split("\n")[d.line - 1]).toMatch(/^\s+scan:/);
  });
});
