// The contractive autoencoder's two penalties (specs/ca.yaml: cA.py's
// Jacobian h·(1 − h)·W, one [784, 500] matrix per example; specs/ca-grad.yaml:
// ‖J‖² from grad(sum(h), a)) agree in value, in their parameter gradients
// and in the whole cost's, evaluated in f64 by the reference evaluator on
// the same parameters and digits. Both specs pass --check-grad with the
// others (compiler.test.ts); a training run's curves are in docs/results.md.
import { describe, expect, it } from "vitest";
import { grad } from "../compiler/autodiff/grad.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { ModelBuilder } from "../compiler/graph/build-model.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

const BATCH = 3;
const PARAMS = { W: [784, 500], b: [500], b_prime: [784] } as const;

/** Per-example penalty, and gradients of its mean and of the cost. */
function evaluate(file: string) {
  const mb = new ModelBuilder(loadSpec(file), { dtype: "f64", batch: BATCH });
  const b = mb.b;
  const penalty = mb.resolve("jacobian_sq");
  const cost = mb.loss("cost");
  const names = Object.keys(PARAMS) as (keyof typeof PARAMS)[];
  const ids = names.map((n) => mb.params.get(n)!);
  const dPenalty = grad(b, b.mean(penalty), ids);
  const dCost = grad(b, cost, ids);
  const param = new Map<string, Tensor>(
    names.map((n, k) => {
      const shape = PARAMS[n];
      const size = shape.reduce((p, d) => p * d, 1);
      return [n, fromArray(shape, "f64", Array.from({ length: size }, (_, i) => 0.15 * normal(11, k + 1, 0, 0, i)))];
    }),
  );
  const x = fromArray([BATCH, 784], "f64", Array.from({ length: BATCH * 784 }, (_, i) => (uniform(12, 1, 0, 0, i) < 0.6 ? 0 : uniform(12, 2, 0, 0, i))));
  const v = interpret(b.graph, { input: new Map([["x", x]]), param });
  // null: no gradient flows (the penalty does not read b′).
  const read = (id: number | null): number[] | null => (id === null ? null : [...(v[id] as Tensor).data]);
  return { penalty: read(penalty)!, cost: read(cost)![0]!, dPenalty: dPenalty.map(read), dCost: dCost.map(read) };
}

function expectSame(a: readonly number[], b: readonly number[], what: string) {
  expect(a.length, what).toBe(b.length);
  let worst = 0;
  let scale = 0;
  a.forEach((x, i) => {
    worst = Math.max(worst, Math.abs(x - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  });
  expect(scale, `${what}: all zeros would prove nothing`).toBeGreaterThan(1e-3);
  expect(worst / scale, what).toBeLessThan(1e-12);
}

describe("contractive penalty: cA.py's Jacobian = grad's", () => {
  const code = evaluate("specs/ca.yaml");
  const derived = evaluate("specs/ca-grad.yaml");

  it("‖J_n‖²_F per example", () => expectSame(derived.penalty, code.penalty, "penalty"));

  it("the gradients of the penalty with respect to W, b and b′ (b′ gets none)", () => {
    expectSame(derived.dPenalty[0]!, code.dPenalty[0]!, "∂/∂W");
    expectSame(derived.dPenalty[1]!, code.dPenalty[1]!, "∂/∂b");
    expect(code.dPenalty[2]).toBeNull();
    expect(derived.dPenalty[2]).toBeNull();
  });

  it("the whole cost and its gradients", () => {
    expect(derived.cost).toBeCloseTo(code.cost, 9);
    derived.dCost.forEach((g, k) => expectSame(g!, code.dCost[k]!, `∂cost/∂${Object.keys(PARAMS)[k]}`));
  });
});
