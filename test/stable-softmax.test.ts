// The stable log-softmax rewrite (compiler/passes/simplify.ts): the NLL of
// softmax probabilities, log(exp(s) / Σexp(s)), becomes s − log Σexp(s), so
// a class whose logit is ~800 below the largest costs ~800 instead of
// log(0) = −∞. Without the rewrite only snapshots of the IR change; here the
// generated code's cost on such logits must be finite and equal to
// logsumexp(z) − z_y computed in f64 by hand, and the optimised IR must take
// no log of a quotient (a softmax).

import { afterAll, describe, expect, it } from "vitest";
import type { Graph } from "../compiler/ir/types.ts";
import { compileAndLoad, removeCompiled } from "./setup/compiled-spec.ts";

afterAll(removeCompiled);

const FILE = "test/stable-softmax.test.ts";
// logits = x @ W + b with W = I and b = 0: the logits are the data.
const SPEC = `
model: stable_softmax_probe
seed: 5
data:
  dataset: synthetic
  batch_size: 4
  inputs:
    x: { shape: [3], dtype: f32 }
    y: { shape: [], dtype: i32, classes: 3 }
params:
  W: { shape: [3, 3], init: zeros }
  b: { shape: [3], init: zeros }
graph:
  p: softmax(x @ W + b)
losses:
  cost:
    nll: { probs: p, labels: y }
metrics:
  cost: { nll: { probs: p, labels: y } }
phases:
  - name: train
    loss: cost
    optimizer: { sgd: { lr: 0.1 } }
    epochs: 1
`;

const LOGITS = [
  [0, -800, 5],
  [0, -800, 5],
  [0, -800, 5],
  [800, 0, -3],
];
const LABELS = [0, 1, 2, 1];

/** −log softmax(z)[y] = logsumexp(z) − z_y, in f64, shifted by the maximum. */
function nllByHand(z: readonly number[], y: number): number {
  const m = Math.max(...z);
  return m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0)) - z[y]!;
}

function expectNear(got: number, want: number, what: string): void {
  expect(Number.isFinite(got), `${what}: ${got} is not finite`).toBe(true);
  expect(Math.abs(got - want), `${what}: generated ${got}, by hand ${want}`).toBeLessThanOrEqual(1e-5 * Math.abs(want) + 1e-5);
}

async function probe() {
  const { c, model } = await compileAndLoad(SPEC, FILE);
  model.params.W!.set([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  model.params.b!.fill(0);
  const batch = { x: Float32Array.from(LOGITS.flat()), y: Int32Array.from(LABELS) };
  return { c, model, batch };
}

describe("stable log-softmax", () => {
  it("the by-hand values: classes 800 below the maximum cost about 800", () => {
    expect(nllByHand([0, -800, 5], 1)).toBeCloseTo(805 + Math.log1p(Math.exp(-5)), 12);
    expect(nllByHand([800, 0, -3], 1)).toBeCloseTo(800, 10);
  });

  it("the generated training step's cost on logits like [0, −800, 5] is finite and equals mean(logsumexp − z_y)", async () => {
    const { model, batch } = await probe();
    const want = LOGITS.reduce((s, z, k) => s + nllByHand(z, LABELS[k]!), 0) / LOGITS.length;
    const cost = await model.trainStep(0, batch, 0);
    expectNear(cost, want, "cost");
    // The gradient step that followed left the parameters finite.
    for (const [name, p] of Object.entries(model.params)) expect([...p].every(Number.isFinite), `param ${name}`).toBe(true);
  });

  it("the generated evaluation's per-example nll is finite and equals logsumexp − z_y", async () => {
    const { c, model, batch } = await probe();
    const out = { cost: new Float32Array(c.desc.evalBatchSize) };
    await model.evaluate(batch, out);
    LOGITS.forEach((z, k) => expectNear(out.cost[k]!, nllByHand(z, LABELS[k]!), `nll of example ${k}`));
  });

  it("the optimised IR takes no log of a softmax: log Σexp instead", async () => {
    const { c } = await probe();
    const graphs: [string, Graph][] = [...c.steps.map((g, i) => [`step ${i}`, g] as [string, Graph]), ["evaluation", c.evalGraph]];
    for (const [what, g] of graphs) {
      const logs = g.nodes.filter((n) => n.op === "log");
      const ofQuotient = logs.filter((n) => g.nodes[n.inputs[0]!]!.op === "div");
      expect(ofQuotient.map((n) => `%${n.id} = log(%${n.inputs[0]} = div …)`), what).toEqual([]);
      // The rewrite's form: log(reduce_sum(exp(s))).
      const lse = logs.filter((n) => {
        const sum = g.nodes[n.inputs[0]!]!;
        return sum.op === "reduce_sum" && g.nodes[sum.inputs[0]!]!.op === "exp";
      });
      expect(lse.length, `${what}: a log Σexp`).toBeGreaterThan(0);
    }
  });
});
