// Algebraic rewrites: constant folding, identities, and the numerically
// stable log-softmax. Each is a short rule in a table keyed by op.

import type { Builder } from "../ir/builder.ts";
import type { Tensor } from "../ir/tensor.ts";
import { alloc } from "../ir/tensor.ts";
import { type Graph, type Node, shapeEq } from "../ir/types.ts";
import type { EvalCtx } from "../ops/op.ts";
import { OPS } from "../ops/registry.ts";
import { type Rule, type RuleTable, rewrite } from "./rewrite.ts";

const constOf = (b: Builder, id: number): number | undefined => {
  const n = b.node(id);
  return n.op === "const" ? (n as Node<"const">).attrs.value : undefined;
};

/** Folds an elementwise op whose operands are all constants by evaluating it
 * on one element (constants are uniform fills). */
const FOLDABLE = ["add", "sub", "mul", "div", "maximum", "minimum", "pow", "neg", "exp", "log", "tanh", "sigmoid", "softplus", "abs", "sqrt", "compare", "select", "cast"] as const;

const noCtx: EvalCtx = {
  seed: 0,
  step: 0,
  iter: 0,
  runBody: () => {
    throw new Error("constant folding evaluates no scan");
  },
  leaf: () => {
    throw new Error("constant folding evaluates no leaf");
  },
  arg: () => {
    throw new Error("constant folding evaluates no scan argument");
  },
};

function foldConst(b: Builder, n: Node): number | undefined {
  const vals = n.inputs.map((i) => constOf(b, i));
  if (vals.some((v) => v === undefined)) return undefined;
  const ins: Tensor[] = n.inputs.map((i, k) => {
    const t = alloc([], b.dtype(i));
    t.data[0] = vals[k]!;
    return t;
  });
  const one = { ...n, shape: [] } as Node;
  const r = (OPS[n.op].evaluate as (i: Tensor[], n: Node, c: EvalCtx) => Tensor)(ins, one, noCtx);
  return b.constant(r.data[0]!, n.shape, n.dtype);
}

const isConst = (b: Builder, id: number, v: number) => constOf(b, id) === v;

function arith(n: Node, b: Builder): number | undefined {
  const f = foldConst(b, n);
  if (f !== undefined) return f;
  const [x, y] = n.inputs as [number, number];
  switch (n.op) {
    case "add":
      if (isConst(b, y, 0)) return x;
      if (isConst(b, x, 0)) return y;
      // x + x (a value fanning out to both operands of a product's VJP) → 2x.
      if (x === y) return b.mul(b.constant(2, n.shape, n.dtype), x);
      break;
    case "sub":
      if (isConst(b, y, 0)) return x;
      break;
    case "mul": {
      if (isConst(b, y, 1)) return x;
      if (isConst(b, x, 1)) return y;
      // c1 · (c2 · z) → (c1 c2) · z, so chains of scalings fold into one.
      const [c, z] = constOf(b, x) !== undefined ? [x, y] : constOf(b, y) !== undefined ? [y, x] : [undefined, undefined];
      if (c !== undefined && z !== undefined) {
        const inner = b.node(z);
        if (inner.op === "mul") {
          const [u, v] = inner.inputs as [number, number];
          const k = constOf(b, u) ?? constOf(b, v);
          if (k !== undefined) return b.mul(b.constant(k * constOf(b, c)!, n.shape, n.dtype), constOf(b, u) !== undefined ? v : u);
        }
      }
      break;
    }
    case "neg": {
      // −(c · z) → (−c) · z
      const inner = b.node(x);
      if (inner.op === "mul") {
        const [u, v] = inner.inputs as [number, number];
        const k = constOf(b, u) ?? constOf(b, v);
        if (k !== undefined) return b.mul(b.constant(-k, n.shape, n.dtype), constOf(b, u) !== undefined ? v : u);
      }
      break;
    }
    case "div":
      if (isConst(b, y, 1)) return x;
      break;
  }
  return undefined;
}

/** log(exp(s) / Σexp(s)) → s − log Σexp(s): softmax followed by log (the
 * NLL of softmax probabilities) becomes a log-softmax that never takes log 0. */
const stableLogSoftmax: Rule<"log"> = (b, n) => {
  const d = b.node(n.inputs[0]!);
  if (d.op !== "div") return undefined;
  const [e, den] = d.inputs as [number, number];
  const E = b.node(e);
  if (E.op !== "exp") return undefined;
  // den = broadcast(reshape(reduce_sum(e)))
  let r = b.node(den);
  const chain: Node[] = [];
  while (r.op === "broadcast" || r.op === "reshape") {
    chain.push(r);
    r = b.node(r.inputs[0]!);
  }
  if (r.op !== "reduce_sum" || r.inputs[0] !== e) return undefined;
  let lse = b.unary("log", r.id);
  for (const c of chain.reverse()) lse = c.op === "reshape" ? b.reshape(lse, c.shape) : b.broadcastTo(lse, c.shape);
  return b.sub(E.inputs[0]!, lse);
};

function foldLayout(b: Builder, n: Node): number | undefined {
  const x = n.inputs[0]!;
  const v = constOf(b, x);
  if (v !== undefined) return b.constant(v, n.shape, n.dtype);
  // reshape(reshape(y)) → reshape(y); a reshape to its own shape is y.
  if (n.op === "reshape") {
    const src = b.node(x).op === "reshape" ? b.node(x).inputs[0]! : x;
    if (shapeEq(b.shape(src), n.shape)) return src;
    if (src !== x) return b.reshape(src, n.shape);
  }
  return undefined;
}

export function simplify(g: Graph): Graph {
  const table: Record<string, Rule<never>> = {};
  for (const op of FOLDABLE) table[op] = ((b: Builder, n: Node) => arith(n, b)) as Rule<never>;
  table.broadcast = ((b: Builder, n: Node) => foldLayout(b, n)) as Rule<never>;
  table.reshape = ((b: Builder, n: Node) => foldLayout(b, n)) as Rule<never>;
  const logRule = ((b: Builder, n: Node<"log">) => foldConst(b, n) ?? stableLogSoftmax(b, n)) as Rule<never>;
  table.log = logRule;
  return rewrite(g, table as RuleTable);
}
