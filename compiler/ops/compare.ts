// compare: elementwise a <cmp> b, a bool (0/1) tensor.
import type { CompareKind } from "./attrs.ts";
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";

const CMP_WGSL: { readonly [K in CompareKind]: string } = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "==", ne: "!=" };

export const CMP_JS: { readonly [K in CompareKind]: string } = { lt: "<", le: "<=", gt: ">", ge: ">=", eq: "===", ne: "!==" };

const CMP_FN: { readonly [K in CompareKind]: (a: number, b: number) => boolean } = {
  lt: (a, b) => a < b,
  le: (a, b) => a <= b,
  gt: (a, b) => a > b,
  ge: (a, b) => a >= b,
  eq: (a, b) => a === b,
  ne: (a, b) => a !== b,
};

export const compare = defineOp({
  name: "compare",
  infer: (ins) => inferSame("compare", ins, 2, { dtype: "bool" }),
  // Piecewise constant: no gradient to either side.
  vjp: () => [null, null],
  evaluate: ([x, y], n) => {
    const f = CMP_FN[n.attrs.cmp];
    return evalBinary(x!, y!, (a, b) => (f(a, b) ? 1 : 0), "bool");
  },
  ts: { kind: "elementwise", expr: ([a, b], n) => `(${a} ${CMP_JS[n.attrs.cmp]} ${b} ? 1 : 0)` },
  wgsl: { kind: "elementwise", expr: ([a, b], n) => `select(0u, 1u, ${a} ${CMP_WGSL[n.attrs.cmp]} ${b})` },
});
