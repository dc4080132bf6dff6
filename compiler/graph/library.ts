// The layer, activation, loss and sampler library: compositions of primitive
// ops through the Builder. Nothing here has gradient code; autodiff derives
// it from the primitives. Comments record the numerical choices.

import type { Builder } from "../ir/builder.ts";
import { IRError, fmtShape } from "../ir/types.ts";

/** Salts for random ops: each random node draws from its own stream. */
export class SaltCounter {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

export function relu(b: Builder, x: number): number {
  return b.maximum(x, b.scalarLike(0, x));
}

/** Softmax over the last axis. Subtracting the row maximum keeps exp() finite;
 * the shift cancels mathematically, so it is held constant for the gradient
 * (stop_gradient) and costs no reduce_max VJP. */
export function softmax(b: Builder, x: number): number {
  const e = b.unary("exp", shiftByMax(b, x));
  const r = b.shape(x).length - 1;
  return b.div(e, b.broadcastTo(b.reshape(b.sum(e, [r]), keep(b, x)), b.shape(x)));
}

export function logSoftmax(b: Builder, x: number): number {
  const s = shiftByMax(b, x);
  const r = b.shape(x).length - 1;
  const lse = b.unary("log", b.sum(b.unary("exp", s), [r]));
  return b.sub(s, b.broadcastTo(b.reshape(lse, keep(b, x)), b.shape(x)));
}

function keep(b: Builder, x: number): number[] {
  const s = b.shape(x);
  return [...s.slice(0, -1), 1];
}

function shiftByMax(b: Builder, x: number): number {
  const r = b.shape(x).length - 1;
  const m = b.unary("stop_gradient", b.max(x, [r]));
  return b.sub(x, b.broadcastTo(b.reshape(m, keep(b, x)), b.shape(x)));
}

export function activation(b: Builder, name: string, x: number): number {
  switch (name) {
    case "identity":
      return x;
    case "tanh":
    case "sigmoid":
      return b.unary(name, x);
    case "relu":
      return relu(b, x);
    case "softmax":
      return softmax(b, x);
    default:
      throw new IRError(`unknown activation '${name}'`);
  }
}

/** act(x @ W + b), or with Wᵀ for tied-weight decoders. */
export function dense(b: Builder, x: number, w: number, bias: number | null, transposeW: boolean, act: string): number {
  const ws = b.shape(w);
  const xs = b.shape(x);
  const k = transposeW ? ws[1] : ws[0];
  if (xs.length !== 2 || ws.length !== 2 || xs[1] !== k) {
    throw b.typeError(`dense: input ${fmtShape(xs)} does not fit weight ${fmtShape(ws)}${transposeW ? " (transposed)" : ""}`, [x, w]);
  }
  let z = b.matmul(x, w, false, transposeW);
  if (bias !== null) z = b.add(z, bias);
  return activation(b, act, z);
}

function checkLabels(b: Builder, probs: number, labels: number, what: string): void {
  const ps = b.shape(probs);
  const ls = b.shape(labels);
  if (b.dtype(labels) !== "i32") throw b.typeError(`${what}: labels must be integer class indices, got ${b.dtype(labels)}`, [labels], "E032");
  if (ps.length !== ls.length + 1 || ls.some((d, i) => d !== ps[i])) {
    // One class index per row of probabilities: labels are probs' shape
    // without its last axis ([batch] for [batch, classes]).
    const want = ps.length ? fmtShape(ps.slice(0, -1)) : "one axis shorter than the probabilities";
    const perExample = ps.length === 2 ? " (a data input of class labels is declared `shape: []`: the batch is prepended)" : "";
    throw b.typeError(`${what}: labels must be ${want}, one class index per row of the probabilities ${fmtShape(ps)}; found labels ${fmtShape(ls)}${perExample}`, [probs, labels]);
  }
}

/** Per-example negative log-likelihood −log p[y] (shape: the label shape).
 * log(softmax(z)) is rewritten into a stable log-softmax by a pass. */
export function nllPerExample(b: Builder, probs: number, labels: number): number {
  checkLabels(b, probs, labels, "nll");
  const ps = b.shape(probs);
  const onehot = b.cast(b.op("one_hot", [labels], { depth: ps[ps.length - 1]! }), b.dtype(probs));
  const logp = b.unary("log", probs);
  return b.neg(b.sum(b.mul(onehot, logp), [ps.length - 1]));
}

/** 1 where argmax(probs) differs from the label, else 0. */
export function zeroOnePerExample(b: Builder, probs: number, labels: number): number {
  checkLabels(b, probs, labels, "zero_one");
  const pred = b.op("argmax", [probs], { axis: b.shape(probs).length - 1 });
  return b.cast(b.compare("ne", pred, labels), b.dtype(probs));
}

/** Per-example binary cross-entropy −Σ t log p + (1−t) log(1−p), summed over
 * all but the first axis (the dA reconstruction cost). */
export function crossEntropyPerExample(b: Builder, probs: number, targets: number): number {
  const one = b.scalarLike(1, probs);
  const t = b.add(b.mul(targets, b.unary("log", probs)), b.mul(b.sub(one, targets), b.unary("log", b.sub(one, probs))));
  const r = b.shape(t).length;
  return b.neg(b.sum(t, [...Array(r).keys()].slice(1)));
}

export function squaredErrorPerExample(b: Builder, pred: number, target: number): number {
  const d = b.sub(pred, target);
  const r = b.shape(d).length;
  return b.sum(b.mul(d, d), [...Array(r).keys()].slice(1));
}

export function l1(b: Builder, params: readonly number[]): number {
  return params.map((p) => b.sum(b.unary("abs", p))).reduce((a, c) => b.add(a, c));
}

/** Squared L2 norm (mlp.py's L2_sqr). */
export function l2(b: Builder, params: readonly number[]): number {
  return params.map((p) => b.sum(b.mul(p, p))).reduce((a, c) => b.add(a, c));
}

/** Max-pooling over non-overlapping ph×pw windows of the last two axes that
 * keeps the partial windows at the bottom and right borders (Theano's
 * max_pool_2d with ignore_border=False, the default of Newmu's tutorials):
 * the input is extended with −∞ rows and columns up to a multiple of the
 * pool size, so a partial window's maximum is that of its real elements
 * (and the gradient, routed to the maximum, never reaches the padding). */
export function maxPoolCeil(b: Builder, x: number, ph: number, pw: number): number {
  const s = b.shape(x);
  const r = s.length;
  if (r < 2 || !(ph >= 1 && pw >= 1)) throw b.typeError(`max_pool_ceil: cannot pool ${fmtShape(s)} by ${ph}×${pw}`, [x]);
  let y = x;
  for (const [axis, k] of [[r - 2, ph], [r - 1, pw]] as const) {
    const d = b.shape(y)[axis]!;
    const extra = (k - (d % k)) % k;
    if (extra === 0) continue;
    const fill = b.constant(-Infinity, b.shape(y).map((n, a) => (a === axis ? extra : n)), b.dtype(y));
    y = b.op("concat", [y, fill], { axis });
  }
  return b.op("max_pool2d", [y], { size: [ph, pw] });
}

/** A 0/1 sample with P(1) = p, from the counter-based RNG. */
export function bernoulli(b: Builder, p: number, salts: SaltCounter): number {
  const u = b.randomUniform(b.shape(p), b.dtype(p), salts.take());
  return b.cast(b.compare("lt", u, p), b.dtype(p));
}
