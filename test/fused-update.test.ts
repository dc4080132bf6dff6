// Which in-place updates become accumulating matrix products
// (compiler/lower/fused-update.ts). Numerical agreement of the fused code with the
// reference evaluator is in emit-agreement.test.ts (logreg, the tied-weight
// dA and the RBMs fuse); here, the cases that must NOT fuse.
import { describe, expect, it } from "vitest";
import { Builder } from "../compiler/ir/builder.ts";
import { analyzeFusion } from "../compiler/lower/fusion.ts";
import { findFusedUpdates } from "../compiler/lower/fused-update.ts";
import type { Node } from "../compiler/ir/types.ts";

/** W[4,3] ← W − 0.1·(build(b, x, g)), x: [2,4], g: [2,3]; returns the fused updates. */
function updatesOf(grad: (b: Builder, x: number, g: number, W: number) => number, extraOutputs: (b: Builder, ids: { x: number; g: number; W: number }) => void = () => {}) {
  const b = new Builder();
  const x = b.leaf("input", "x", [2, 4], "f32");
  const g = b.leaf("input", "g", [2, 3], "f32");
  const W = b.leaf("param", "W", [4, 3], "f32");
  const u = b.sub(W, b.mul(b.constant(0.1, [4, 3]), grad(b, x, g, W)));
  b.graph.outputs.set("param:W", u);
  extraOutputs(b, { x, g, W });
  const f = analyzeFusion(b.graph);
  const leafOf = (name: string): Node | undefined => (name === "param:W" ? b.node(W) : undefined);
  return findFusedUpdates(b.graph, f, leafOf);
}

describe("fused SGD updates", () => {
  it("W − c·Xᵀ·G fuses into one product with alpha −c", () => {
    const u = updatesOf((b, x, g) => b.matmul(x, g, true));
    const [only] = [...u.values()];
    expect(only?.terms.map((t) => Math.fround(t.alpha))).toEqual([Math.fround(-0.1)]);
  });

  it("a sum and a difference of products fuse with their signs (tied weights, CD)", () => {
    const u = updatesOf((b, x, g) => b.sub(b.matmul(x, g, true), b.neg(b.matmul(x, g, true))));
    expect([...u.values()][0]!.terms.map((t) => t.alpha)).toEqual([-0.1, -0.1]);
    const v = updatesOf((b, x, g) => b.sub(b.matmul(x, g, true), b.matmul(x, g, true)));
    expect([...v.values()][0]!.terms.map((t) => t.alpha)).toEqual([-0.1, 0.1]);
  });

  it("an elementwise term (L2) stays in the loop, the product still fuses", () => {
    const u = [...updatesOf((b, x, g, W) => b.add(b.matmul(x, g, true), b.mul(b.constant(0.01, [4, 3]), W))).values()];
    expect(u.map((x) => [x.terms.length, x.rest])).toEqual([[1, true]]);
    const v = [...updatesOf((b, x, g) => b.matmul(x, g, true)).values()];
    expect(v.map((x) => [x.terms.length, x.rest])).toEqual([[1, false]]);
  });

  it("does not fuse an update without a product, a shared product, or a product reading a parameter", () => {
    expect(updatesOf((b, _x, _g, W) => b.mul(b.constant(0.01, [4, 3]), W)).size).toBe(0);
    // The product is also an output of its own: it must keep its buffer.
    let product = -1;
    expect(updatesOf((b, x, g) => (product = b.matmul(x, g, true)), (b) => b.graph.outputs.set("grad", product)).size).toBe(0);
    // A product reading a parameter, even through a reshape (same buffer), stays put.
    expect(updatesOf((b, _x, g, W) => b.matmul(b.reshape(W, [3, 4]), b.matmul(g, g, true), true)).size).toBe(0);
    // A product reading W itself would move past other in-place writes.
    expect(updatesOf((b, x, g, W) => b.matmul(W, b.matmul(W, b.matmul(x, g, true), true, false), false, false)).size).toBe(0);
  });
});
