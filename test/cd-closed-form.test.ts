// The derived gradient of the RBM free-energy difference, with the negative
// sample under stop_gradient, equals the closed-form CD-1 update:
//   ∂/∂W = −(xᵀ σ(xW+c) − ṽᵀ σ(ṽW+c)) / B,  ∂/∂c = −mean(σ(xW+c) − σ(ṽW+c)),
//   ∂/∂b = −mean(x − ṽ)
// where ṽ is the chain's end (the same Bernoulli draws the graph made).

import { describe, expect, it } from "vitest";
import { grad } from "../compiler/autodiff/grad.ts";
import { buildLoss } from "../compiler/graph/build-model.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { alloc, type Tensor } from "../compiler/ir/tensor.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { normal, uniform } from "../runtime/rng/philox.ts";

const sig = (z: number) => 1 / (1 + Math.exp(-z));

describe("CD-1 through stop_gradient", () => {
  it("derived gradient = closed-form CD update", () => {
    const ls = loadSpec("test/specs/rbm-free-energy.yaml");
    const { graph, params, inputs, cost } = buildLoss(ls, 0, { dtype: "f64", batch: 5 });
    const B = 5, V = 6, H = 4;
    const x = alloc([B, V], "f64");
    for (let i = 0; i < x.data.length; i++) x.data[i] = uniform(1, 1, 0, 0, i) < 0.5 ? 1 : 0;
    const W = alloc([V, H], "f64");
    for (let i = 0; i < W.data.length; i++) W.data[i] = 0.5 * normal(1, 2, 0, 0, i);
    const hb = alloc([H], "f64");
    const vb = alloc([V], "f64");
    for (let i = 0; i < H; i++) hb.data[i] = 0.1 * normal(1, 3, 0, 0, i);
    for (let i = 0; i < V; i++) vb.data[i] = 0.1 * normal(1, 4, 0, 0, i);

    const b = new Builder(graph);
    const [gW, ghb, gvb] = grad(b, cost, [params.get("W")!, params.get("hbias")!, params.get("vbias")!]);
    // Read the chain's end as the graph drew it.
    const chainEnd = graph.nodes.find((n) => n.op === "stop_gradient")!.id;
    const leaves = { input: new Map([["x", x]]), param: new Map([["W", W], ["hbias", hb], ["vbias", vb]]) };
    const vals = interpret(graph, leaves, { seed: 11, step: 0 });
    const vt = vals[chainEnd] as Tensor;
    expect(inputs.has("x")).toBe(true);
    // The sample is binary and not all equal to the data (the chain moved).
    expect([...vt.data].every((v) => v === 0 || v === 1)).toBe(true);

    const expW = new Float64Array(V * H), expH = new Float64Array(H), expV = new Float64Array(V);
    for (let n = 0; n < B; n++) {
      for (let j = 0; j < H; j++) {
        let zd = hb.data[j]!, zm = hb.data[j]!;
        for (let i = 0; i < V; i++) {
          zd += x.data[n * V + i]! * W.data[i * H + j]!;
          zm += vt.data[n * V + i]! * W.data[i * H + j]!;
        }
        const pd = sig(zd), pm = sig(zm);
        expH[j] -= (pd - pm) / B;
        for (let i = 0; i < V; i++) expW[i * H + j] -= (x.data[n * V + i]! * pd - vt.data[n * V + i]! * pm) / B;
      }
      for (let i = 0; i < V; i++) expV[i] -= (x.data[n * V + i]! - vt.data[n * V + i]!) / B;
    }
    const close = (got: Tensor, want: Float64Array) => {
      for (let i = 0; i < want.length; i++) expect(got.data[i]).toBeCloseTo(want[i]!, 12);
    };
    close(vals[gW!] as Tensor, expW);
    close(vals[ghb!] as Tensor, expH);
    close(vals[gvb!] as Tensor, expV);
  });
});
