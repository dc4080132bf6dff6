// Per-op gradient check (Theano's verify_grad on a random projection): for
// y = op(inputs) and a random r, the cost C = sum(y * r) has gradient
// VJP(r) with respect to each input. Along a random direction v, the
// central difference (C(x + eps v) - C(x - eps v)) / 2 eps must match
// <VJP(r), v>. Everything runs in f64 through the reference evaluator; the
// cost is summed here in plain JS so the check does not trust mul/reduce_sum.

import { vjpGraph } from "../autodiff/grad.ts";
import { Builder } from "../ir/builder.ts";
import { interpret } from "../ir/interpret.ts";
import { alloc, type Tensor } from "../ir/tensor.ts";
import { type Node, type Prim, fmtShape, isFloat, shapeEq } from "../ir/types.ts";
import type { PrimAttrs } from "../ops/attrs.ts";
import type { Cotangent } from "../ops/op.ts";
import { OPS } from "../ops/registry.ts";
import { normal } from "../../runtime/rng/philox.ts";

export interface GradResult {
  readonly numeric: number;
  readonly analytic: number;
  /** |numeric - analytic| / max(1, |numeric|). */
  readonly relErr: number;
}

export interface OpGradResult extends GradResult {
  /** One entry per operand; null for integer/bool operands (not perturbed). */
  readonly perInput: readonly (GradResult | null)[];
}

export interface VerifyOptions {
  readonly eps?: number;
  readonly seed?: number;
  /** Replaces the op's VJP (to show that the check catches a wrong rule). */
  readonly vjp?: (b: Builder, node: Node, ct: number) => readonly (number | null)[];
}

type VjpFn = (b: Builder, node: Node, ct: Cotangent<"add">) => readonly (number | null)[];

function randn(like: { readonly shape: readonly number[] }, salt: number, seed: number): Tensor {
  const t = alloc(like.shape, "f64");
  for (let i = 0; i < t.data.length; i++) t.data[i] = normal(seed, salt, 0, 0, i);
  return t;
}

function dot(a: Tensor, b: Tensor): number {
  let s = 0;
  for (let i = 0; i < a.data.length; i++) s += a.data[i]! * b.data[i]!;
  return s;
}

/** Checks OPS[op].vjp on the given operand values (floats should be f64;
 * keep them away from kinks and poles: the difference quotient straddles
 * a step of eps on either side). The worst operand is reported on top. */
export function verifyOpGrad<P extends Prim>(op: P, attrs: PrimAttrs[P], inputs: readonly Tensor[], opts: VerifyOptions = {}): OpGradResult {
  const eps = opts.eps ?? 1e-6;
  const seed = opts.seed ?? 1234;
  const b = new Builder();
  const leaves = inputs.map((t, k) => b.leaf("input", `x${k}`, t.shape, t.dtype));
  const y = b.op(op, leaves, attrs);
  const node = b.node(y);
  const rId = b.leaf("input", "r", node.shape, "f64");
  const r = randn(node, 1, seed);
  const rule = (opts.vjp ?? OPS[op].vjp) as VjpFn;
  const grads = rule(b, node, rId);
  if (grads.length !== inputs.length) throw new Error(`${op}: VJP returned ${grads.length} cotangents for ${inputs.length} operands`);

  const feed = (xs: readonly Tensor[]) => {
    const m = new Map<string, Tensor>(xs.map((t, k) => [`x${k}`, t]));
    m.set("r", r);
    return { input: m };
  };
  const vals = interpret(b.graph, feed(inputs));
  const cost = (xs: readonly Tensor[]) => dot(interpret(b.graph, feed(xs))[y] as Tensor, r);

  const perInput = inputs.map((x, k): GradResult | null => {
    if (!isFloat(x.dtype)) return null;
    const v = randn(x, 100 + k, seed);
    const g = grads[k];
    let analytic = 0;
    if (g !== null && g !== undefined) {
      const gt = vals[g] as Tensor;
      if (!shapeEq(gt.shape, x.shape)) throw new Error(`${op}: cotangent of operand ${k} is ${fmtShape(gt.shape)}, operand is ${fmtShape(x.shape)}`);
      analytic = dot(gt, v);
    }
    const shifted = (s: number) => inputs.map((t, j) => (j !== k ? t : { ...t, data: t.data.map((a, i) => a + s * v.data[i]!) }));
    const numeric = (cost(shifted(eps)) - cost(shifted(-eps))) / (2 * eps);
    return { numeric, analytic, relErr: Math.abs(numeric - analytic) / Math.max(1, Math.abs(numeric)) };
  });
  const worst = perInput.reduce<GradResult | null>((w, p) => (p && (!w || !(p.relErr <= w.relErr)) ? p : w), null);
  return { ...(worst ?? { numeric: 0, analytic: 0, relErr: 0 }), perInput };
}

/** Second derivatives of an op (Theano's verify_grad applied to a graph that
 * contains a gradient). The first-order gradients g_k = VJP(r) wrt each
 * operand are built by the reverse pass itself (vjpGraph), then projected on
 * random w_k: S(x, r) = Σ_k <g_k(x, r), w_k>, summed here in plain JS. The
 * reverse pass applied again gives ∂S/∂x and ∂S/∂r; both are compared with
 * central differences along a random direction of all of x and r at once.
 * Linear ops have ∂S/∂x = 0, but S is linear in r with a nonzero slope, so
 * a VJP that is itself wrongly differentiated fails either way. */
export function verifyOpGrad2<P extends Prim>(op: P, attrs: PrimAttrs[P], inputs: readonly Tensor[], opts: { readonly eps?: number; readonly seed?: number } = {}): GradResult {
  const eps = opts.eps ?? 1e-5;
  const seed = opts.seed ?? 4321;
  const b = new Builder();
  const leaves = inputs.map((t, k) => b.leaf("input", `x${k}`, t.shape, t.dtype));
  const y = b.op(op, leaves, attrs);
  const rId = b.leaf("input", "r", b.shape(y), "f64");
  const r = randn(b.node(y), 1, seed);
  const floats = inputs.map((t, k) => (isFloat(t.dtype) ? k : -1)).filter((k) => k >= 0);
  const first = vjpGraph(b, [[y, rId]], floats.map((k) => leaves[k]!));
  const ws = first.map((g, j) => (g === null ? null : randn(inputs[floats[j]!]!, 200 + j, seed)));
  const wIds = first.map((g, j) => (g === null ? null : b.leaf("input", `w${j}`, b.shape(g), "f64")));
  const seeds = first.flatMap((g, j) => (g === null ? [] : [[g, wIds[j]!] as const]));
  const wrt = [...floats.map((k) => leaves[k]!), rId];
  const second = vjpGraph(b, seeds, wrt);

  const feed = (xs: readonly Tensor[], rv: Tensor) => {
    const m = new Map<string, Tensor>(xs.map((t, k) => [`x${k}`, t]));
    m.set("r", rv);
    ws.forEach((w, j) => w && m.set(`w${j}`, w));
    return { input: m };
  };
  const S = (xs: readonly Tensor[], rv: Tensor) => {
    const vals = interpret(b.graph, feed(xs, rv));
    return first.reduce<number>((s, g, j) => (g === null ? s : s + dot(vals[g] as Tensor, ws[j]!)), 0);
  };
  // One random direction over every float operand and r.
  const dirs = wrt.map((_, j) => randn(j < floats.length ? inputs[floats[j]!]! : r, 300 + j, seed));
  const vals = interpret(b.graph, feed(inputs, r));
  let analytic = 0;
  second.forEach((g, j) => {
    if (g === null) return;
    const gt = vals[g] as Tensor;
    const like = j < floats.length ? inputs[floats[j]!]! : r;
    if (!shapeEq(gt.shape, like.shape)) throw new Error(`${op}: second-order cotangent ${j} is ${fmtShape(gt.shape)}, expected ${fmtShape(like.shape)}`);
    analytic += dot(gt, dirs[j]!);
  });
  const shift = (t: Tensor, d: Tensor, s: number): Tensor => ({ ...t, data: t.data.map((a, i) => a + s * d.data[i]!) });
  const moved = (s: number) => {
    const xs = inputs.map((t, k) => {
      const j = floats.indexOf(k);
      return j < 0 ? t : shift(t, dirs[j]!, s);
    });
    return S(xs, shift(r, dirs[floats.length]!, s));
  };
  const numeric = (moved(eps) - moved(-eps)) / (2 * eps);
  return { numeric, analytic, relErr: Math.abs(numeric - analytic) / Math.max(1, Math.abs(numeric)) };
}
