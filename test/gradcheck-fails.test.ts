// The whole-spec gradient checker (dlt-compile --check-grad,
// compiler/gradcheck/gradcheck.ts) must FAIL on a wrong gradient, as the
// per-op checker does in test/ops-grad.test.ts. The wrong gradient is made
// by swapping tanh's VJP rule in the op table for the test's duration
// (1 − y instead of 1 − y², restored in `finally`): the parameters below the
// tanh (W1, b1) get a wrong derived gradient, those above it (W2, b2) keep a
// right one. A checker that never fails, or that fails everything, breaks
// one of the two.

import { describe, expect, it, vi } from "vitest";
import { printGradCheck } from "../compiler/cli/check-grad-print.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { checkSpecGradients, type GradCheckRow } from "../compiler/gradcheck/gradcheck.ts";
import type { Builder } from "../compiler/ir/builder.ts";
import type { Node } from "../compiler/ir/types.ts";
import { OPS } from "../compiler/ops/registry.ts";

const SPEC = `
model: gradcheck_probe
seed: 3
data:
  dataset: synthetic
  batch_size: 4
  inputs:
    x: { shape: [5], dtype: f32 }
    y: { shape: [], dtype: i32, classes: 3 }
params:
  W1: { shape: [5, 4], init: zeros }
  b1: { shape: [4], init: zeros }
  W2: { shape: [4, 3], init: zeros }
  b2: { shape: [3], init: zeros }
graph:
  hidden: { dense: { input: x, weight: W1, bias: b1, activation: tanh } }
  p: { dense: { input: hidden, weight: W2, bias: b2, activation: softmax } }
losses:
  cost:
    nll: { probs: p, labels: y }
phases:
  - name: train
    loss: cost
    optimizer: { sgd: { lr: 0.1 } }
    epochs: 1
`;

const check = () => checkSpecGradients(loadSpecText(SPEC, "test/gradcheck-fails.test.ts"));

/** The rows and what printGradCheck (the CLI's verdict) says of them. */
function verdict(rows: readonly GradCheckRow[]): { passed: boolean; printed: string } {
  const lines: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((s: string | Uint8Array) => {
    lines.push(String(s));
    return true;
  });
  try {
    return { passed: printGradCheck(rows), printed: lines.join("") };
  } finally {
    spy.mockRestore();
  }
}

/** Runs `f` with tanh's VJP replaced by d tanh = (1 − y) dx (wrong: 1 − y²). */
function withWrongTanhGrad<T>(f: () => T): T {
  const def = OPS.tanh as { vjp: unknown };
  const right = def.vjp;
  def.vjp = (b: Builder, n: Node, ct: number) => [b.mul(ct, b.sub(b.scalarLike(1, n.id), n.id))];
  try {
    return f();
  } finally {
    def.vjp = right;
  }
}

describe("checkSpecGradients", () => {
  it("passes the derived gradient of a tanh network", () => {
    const rows = check();
    expect(rows.map((r) => r.param)).toEqual(["W1", "b1", "W2", "b2"]);
    for (const r of rows) expect(r.ok, `${r.param}: numeric ${r.numeric}, derived ${r.analytic}, relErr ${r.relErr}`).toBe(true);
    expect(verdict(rows).passed).toBe(true);
  });

  it("fails a wrong gradient (tanh's VJP with 1 − y for 1 − y²) on the parameters below the tanh only", () => {
    const rows = withWrongTanhGrad(check);
    expect(OPS.tanh.vjp.toString()).toMatch(/b\.mul\(n\.id, n\.id\)/); // restored
    const by = new Map(rows.map((r) => [r.param, r]));
    for (const p of ["W1", "b1"]) {
      const r = by.get(p)!;
      expect(r.ok, `${p} must fail: numeric ${r.numeric}, derived ${r.analytic}, relErr ${r.relErr}`).toBe(false);
      expect(r.relErr).toBeGreaterThan(1e-3);
      expect(Math.abs(r.numeric - r.analytic)).toBeGreaterThan(1e-6);
    }
    for (const p of ["W2", "b2"]) expect(by.get(p)!.ok, `${p} keeps a right gradient`).toBe(true);
    const v = verdict(rows);
    expect(v.passed).toBe(false);
    expect(v.printed).toMatch(/^FAIL train\/W1: /m);
    expect(v.printed).toMatch(/^FAIL train\/b1: /m);
    expect(v.printed).toMatch(/^ok {3}train\/W2: /m);
  });

  it("the finite differences do not depend on the rule, the derived values do", () => {
    // (The checker retries failing rows with smaller steps, so the numeric
    // values agree to the differences' accuracy, not bit for bit.)
    const right = check();
    const wrong = withWrongTanhGrad(check);
    right.forEach((r, k) => expect(Math.abs(wrong[k]!.numeric - r.numeric), r.param).toBeLessThanOrEqual(1e-6 * Math.abs(r.numeric) + 1e-9));
    expect(Math.abs(wrong[0]!.analytic - right[0]!.analytic)).toBeGreaterThan(1e-3 * Math.abs(right[0]!.analytic));
  });
});
