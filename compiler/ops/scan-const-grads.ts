// How backpropagation through time sums a loop constant's gradient (a
// weight read at every step) over the steps, for the reverse scan that
// scan.ts's VJP builds.
//
// The plain way is an accumulator carry: acc ← acc + g_t at every step. For
// a weight W the step's gradient is typically a product g_t = x_tᵀ·δ_t, so
// every step writes a W-sized product, adds it into the carry and copies the
// carry: three W-sized passes per step (for the Elman RNN, 135k floats per
// word; most of its step). Instead:
//   - each product term xᵀ·δ of g_t becomes two step outputs, x and δ
//     (small: one row each for a sentence), and after the loop one product
//     of the stacked values, Xᵀ·Δ = Σ_t x_tᵀ·δ_t, gives the sum;
//   - a small g_t (a bias's) becomes a step output, summed after the loop;
//   - anything else keeps the accumulator carry.
// Steps a counted scan does not run leave their stacked outputs 0, so they
// add nothing to the products, as to the carry. Only the f32 rounding of the
// sums changes (one long dot product instead of a running sum).

import type { Builder } from "../ir/builder.ts";
import { numel } from "../ir/types.ts";

/** Gradients at most this many elements are stacked and summed after the
 * loop instead of carried. */
const SMALL = 4096;

export type ConstGrad =
  | { readonly kind: "none" }
  | { readonly kind: "carry"; readonly step: number }
  | { readonly kind: "stacked"; readonly step: number }
  | { readonly kind: "products"; readonly terms: readonly { readonly x: number; readonly d: number }[]; readonly rest: number | null };

/** Splits the step gradient `g` (a node of the backward body `bb`) into
 * what the loop must carry and what it can hand out per step. */
export function planConstGrad(bb: Builder, g: number | null | undefined): ConstGrad {
  if (g == null) return { kind: "none" };
  if (numel(bb.shape(g)) <= SMALL) return { kind: "stacked", step: g };
  const terms: { x: number; d: number }[] = [];
  const rest: number[] = [];
  const walk = (id: number): void => {
    const n = bb.graph.nodes[id]!;
    if (n.op === "add") return n.inputs.forEach(walk);
    const a = n.attrs as { transA?: boolean; transB?: boolean };
    const [x, d] = n.inputs;
    if (n.op === "matmul" && a.transA && !a.transB && bb.shape(x!).length === 2 && bb.shape(d!).length === 2) terms.push({ x: x!, d: d! });
    else rest.push(id);
  };
  walk(g);
  if (terms.length === 0) return { kind: "carry", step: g };
  return { kind: "products", terms, rest: rest.length ? rest.reduce((s, r) => bb.add(s, r)) : null };
}

/** The step outputs a plan adds to the reverse scan. */
export function stepOutputsOf(p: ConstGrad): number[] {
  if (p.kind === "stacked") return [p.step];
  if (p.kind === "products") return p.terms.flatMap((t) => [t.x, t.d]);
  return [];
}

/** The per-step value a plan accumulates in a carry, if any. */
export function carriedOf(p: ConstGrad): number | null {
  return p.kind === "carry" ? p.step : p.kind === "products" ? p.rest : null;
}

/** The summed gradient in the outer graph, from the plan's stacked step
 * outputs (in stepOutputsOf's order) and its carry's final value. */
export function sumOf(b: Builder, p: ConstGrad, stacked: readonly number[], final: number | null): number | null {
  if (p.kind === "none") return null;
  if (p.kind === "carry") return final;
  if (p.kind === "stacked") return b.sum(stacked[0]!, [0]);
  const flat = (id: number) => {
    const [L, k, w] = b.shape(id) as [number, number, number];
    return b.reshape(id, [L * k, w]);
  };
  const products = p.terms.map((_, i) => b.matmul(flat(stacked[2 * i]!), flat(stacked[2 * i + 1]!), true, false));
  const sum = products.reduce((s, x) => b.add(s, x));
  return final === null ? sum : b.add(final, sum);
}
