// Lowers an expression AST (compiler/frontend/parse-expr.ts) to IR through the library.
// Names resolve through a scope function; every node gets the location of the
// sub-expression it comes from.

import type { Builder } from "../ir/builder.ts";
import { IRError, type SpecLoc } from "../ir/types.ts";
import { BATCH, type Expr, spellExpr } from "../frontend/parse-expr.ts";
import { gradOf } from "../autodiff/grad.ts";
import * as lib from "./library.ts";

export interface ExprEnv {
  readonly b: Builder;
  /** Resolves a name to a node id, or throws with a located error. */
  resolve(name: string, loc: SpecLoc): number;
  readonly salts: lib.SaltCounter;
  /** File location of character `pos` of the expression string (the loader
   * knows how quoting and block scalars shift it). */
  at(pos: number): SpecLoc;
  /** The graph's float dtype (f32, or f64 for gradient checks). */
  readonly dtype?: "f32" | "f64";
  /** Training graphs apply dropout; evaluation and sampling graphs do not. */
  readonly mode?: "train" | "eval";
  /** The graph's batch size: what `batch` means in a shape. */
  readonly batch?: number;
}

function locAt(env: ExprEnv, pos: number): SpecLoc {
  return env.at(pos);
}

function intLiteral(e: Expr, what: string): number {
  const v = e.kind === "num" ? e.value : e.kind === "unary" && e.arg.kind === "num" ? -e.arg.value : NaN;
  if (!Number.isInteger(v)) throw new IRError(`${what} must be an integer literal`);
  return v;
}

/** A shape's dimension: an integer literal or `batch`. */
function dimension(env: ExprEnv, e: Expr, what: string): number {
  if (e.kind === "name" && e.name === BATCH) {
    if (env.batch === undefined) throw new IRError(`${what}: 'batch' has no value here`);
    return env.batch;
  }
  return intLiteral(e, what);
}

export function lowerExpr(env: ExprEnv, e: Expr): number {
  const b = env.b;
  const saved = b.loc;
  b.loc = locAt(env, e.pos);
  try {
    return lower(env, e);
  } finally {
    b.loc = saved;
  }
}

function lower(env: ExprEnv, e: Expr): number {
  const b = env.b;
  switch (e.kind) {
    case "num":
      // A literal on its own (no operand to take a dtype from) has the
      // graph's float dtype, so f64 gradient checks stay in f64.
      return b.constant(e.value, [], env.dtype ?? "f32");
    case "name":
      return env.resolve(e.name, locAt(env, e.pos));
    case "unary":
      return b.neg(lowerExpr(env, e.arg));
    case "transpose": {
      const x = lowerExpr(env, e.arg);
      const r = b.shape(x).length;
      return b.transpose(x, [...Array(r).keys()].reverse());
    }
    case "binary":
      return binary(env, e.op, e.left, e.right);
    case "call":
      return call(env, e.fn, e.args);
  }
}

/** Float scalar literals adopt the dtype of the other operand. */
function operands(env: ExprEnv, l: Expr, r: Expr): [number, number] {
  const b = env.b;
  const a = l.kind === "num" ? null : lowerExpr(env, l);
  const c = r.kind === "num" ? null : lowerExpr(env, r);
  const like = a ?? c;
  const mk = (e: Expr, id: number | null) => (id !== null ? id : like !== null && e.kind === "num" ? b.scalarLike(e.value, like) : lowerExpr(env, e));
  return [mk(l, a), mk(r, c)];
}

function binary(env: ExprEnv, op: string, l: Expr, r: Expr): number {
  const b = env.b;
  if (op === "@") {
    // Fold a transpose of a 2-D operand into the matmul instead of materialising it.
    const ta = l.kind === "transpose";
    const tb = r.kind === "transpose";
    const x = lowerExpr(env, ta ? (l as { arg: Expr }).arg : l);
    const y = lowerExpr(env, tb ? (r as { arg: Expr }).arg : r);
    return b.matmul(x, y, ta, tb);
  }
  const [x, y] = operands(env, l, r);
  switch (op) {
    case "+":
      return b.add(x, y);
    case "-":
      return b.sub(x, y);
    case "*":
      return b.mul(x, y);
    case "/":
      return b.div(x, y);
    case "**":
      return b.pow(x, y);
    case "<":
      return b.compare("lt", x, y);
    case "<=":
      return b.compare("le", x, y);
    case ">":
      return b.compare("gt", x, y);
    case ">=":
      return b.compare("ge", x, y);
    case "==":
      return b.compare("eq", x, y);
    case "!=":
      return b.compare("ne", x, y);
    default:
      throw new IRError(`unknown operator '${op}'`);
  }
}

function call(env: ExprEnv, fn: string, args: readonly Expr[]): number {
  const b = env.b;
  const arg = (i: number) => lowerExpr(env, args[i]!);
  const axisArg = (x: number) => {
    if (args.length < 2) return undefined;
    const a = intLiteral(args[1]!, `${fn}: the axis`);
    return [a < 0 ? a + b.shape(x).length : a];
  };
  switch (fn) {
    case "tanh":
    case "sigmoid":
    case "exp":
    case "log":
    case "abs":
    case "sqrt":
    case "softplus":
    case "stop_gradient":
      return b.unary(fn, arg(0));
    case "relu":
      return lib.relu(b, arg(0));
    case "softmax":
      return lib.softmax(b, arg(0));
    case "log_softmax":
      return lib.logSoftmax(b, arg(0));
    case "sum": {
      const x = arg(0);
      return b.sum(x, axisArg(x));
    }
    case "mean": {
      const x = arg(0);
      return b.mean(x, axisArg(x));
    }
    case "max": {
      const x = arg(0);
      return b.max(x, axisArg(x) ?? [...b.shape(x).keys()]);
    }
    case "argmax": {
      const x = arg(0);
      return b.op("argmax", [x], { axis: axisArg(x)![0]! });
    }
    case "bernoulli":
      return lib.bernoulli(b, arg(0), env.salts);
    case "uniform_like": {
      const x = arg(0);
      return b.randomUniform(b.shape(x), b.dtype(x), env.salts.take());
    }
    case "normal_like": {
      const x = arg(0);
      return b.randomNormal(b.shape(x), b.dtype(x), env.salts.take());
    }
    case "binomial_mask": {
      // x * Bernoulli(p_keep): the dA's masking corruption and dropout's mask.
      const x = arg(0);
      const p = args[1]!.kind === "num" ? b.scalarLike((args[1] as { value: number }).value, x) : arg(1);
      return b.mul(x, lib.bernoulli(b, b.broadcastTo(p, b.shape(x)), env.salts));
    }
    case "dropout": {
      // Newmu's dropout: X·Bernoulli(retain)/retain while training (so the
      // expected activation is unchanged), the identity when evaluating.
      const x = arg(0);
      const p = args[1]!.kind === "num" ? (args[1] as { value: number }).value : NaN;
      if (!(p >= 0 && p < 1)) throw new IRError(`dropout: the drop probability must be a number literal in [0, 1), got ${Number.isNaN(p) ? "an expression" : p}`, b.loc, "E029");
      if (env.mode === "eval" || p === 0) return x;
      const keep = b.scalarLike(1 - p, x);
      return b.div(b.mul(x, lib.bernoulli(b, b.broadcastTo(keep, b.shape(x)), env.salts)), b.broadcastTo(keep, b.shape(x)));
    }
    case "step_one_hot":
      return b.stepOneHot(intLiteral(args[0]!, "step_one_hot: the depth"), env.dtype ?? "f32");
    case "one_hot":
      // one_hot is f32 by contract; an f64 graph (gradient checks) casts it,
      // or a product with it would silently drop to f32.
      return b.cast(b.op("one_hot", [arg(0)], { depth: intLiteral(args[1]!, "one_hot: the depth") }), env.dtype ?? "f32");
    case "slice": {
      const x = arg(0);
      const shape = b.shape(x);
      const a = intLiteral(args[1]!, "slice: the axis");
      const axis = a < 0 ? a + shape.length : a;
      const start = intLiteral(args[2]!, "slice: the start");
      const end = intLiteral(args[3]!, "slice: the end");
      if (axis < 0 || axis >= shape.length || start < 0 || end > shape[axis]! || start >= end) {
        throw new IRError(`slice: axis ${a}, ${start}..${end} does not fit [${shape.join(", ")}] (0 ≤ start < end ≤ the axis' length)`, b.loc, "E031");
      }
      return b.op("slice", [x], { starts: shape.map((_, k) => (k === axis ? start : 0)), ends: shape.map((d, k) => (k === axis ? end : d)) });
    }
    case "grad": {
      // grad(f, x): the wrt argument is a name (an input, parameter, state
      // tensor, graph name, or in a scan body a carry, sequence or body
      // name). f is lowered first, so a graph name it reads is already built
      // and x resolves to that very node.
      const w = args[1]!;
      if (w.kind !== "name") throw new IRError(`grad: the second argument must be the name of the value to differentiate with respect to, got ${spellExpr(w)}`, b.loc, "E047");
      const f = arg(0);
      const x = env.resolve(w.name, locAt(env, w.pos));
      return gradOf(b, f, x, { f: spellExpr(args[0]!), x: w.name }, b.loc);
    }
    case "embed":
      return b.op("gather", [arg(0), arg(1)], {});
    case "maximum":
    case "minimum": {
      const [x, y] = operands(env, args[0]!, args[1]!);
      return fn === "maximum" ? b.maximum(x, y) : b.minimum(x, y);
    }
    case "where":
      return b.select(arg(0), arg(1), arg(2));
    case "time_major": {
      // [batch, time, ...] → [time, batch, ...]: scans iterate the first axis.
      const x = arg(0);
      const r = b.shape(x).length;
      return b.transpose(x, [1, 0, ...[...Array(r).keys()].slice(2)]);
    }
    case "broadcast":
      return b.broadcastTo(arg(0), args.slice(1).map((a, i) => dimension(env, a, `broadcast: dimension ${i + 1}`)));
    case "conv2d":
    case "conv2d_full":
      return b.op("conv2d", [arg(0), arg(1)], { border: fn === "conv2d" ? "valid" : "full" });
    case "max_pool":
      return b.op("max_pool2d", [arg(0)], { size: [intLiteral(args[1]!, "max_pool: the pool height"), intLiteral(args[2]!, "max_pool: the pool width")] });
    case "max_pool_ceil":
      return lib.maxPoolCeil(b, arg(0), intLiteral(args[1]!, "max_pool_ceil: the pool height"), intLiteral(args[2]!, "max_pool_ceil: the pool width"));
    case "flatten": {
      const x = arg(0);
      const s = b.shape(x);
      if (s.length < 1) throw new IRError(`flatten needs a batch axis, got a scalar`, b.loc, "E031");
      return b.reshape(x, [s[0]!, s.slice(1).reduce((p, d) => p * d, 1)]);
    }
    case "reshape": {
      const x = arg(0);
      const shape = args.slice(1).map((a, i) => dimension(env, a, `reshape: dimension ${i + 1}`));
      const from = b.shape(x).reduce((p, d) => p * d, 1);
      // One dimension may be -1: whatever the others leave (the batch size,
      // so a spec does not hard-code it).
      const free = shape.indexOf(-1);
      if (free >= 0 && shape.indexOf(-1, free + 1) < 0) {
        const rest = shape.reduce((p, d, i) => (i === free ? p : p * d), 1);
        if (rest > 0 && from % rest === 0) shape[free] = from / rest;
      }
      const to = shape.reduce((p, d) => p * d, 1);
      if (from !== to) throw new IRError(`reshape: [${b.shape(x).join(", ")}] has ${from} elements, [${shape.join(", ")}] has ${to}`, b.loc, "E031");
      return b.reshape(x, shape);
    }
    default:
      throw new IRError(`unknown function '${fn}'`);
  }
}
