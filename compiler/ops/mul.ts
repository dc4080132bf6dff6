// mul: elementwise a * b.
import { defineOp } from "./op.ts";
import { evalBinary, inferSame } from "./elementwise.ts";

export const mul = defineOp({
  name: "mul",
  infer: (ins) => inferSame("mul", ins, 2),
  vjp: (b, n, ct) => {
    const [x, y] = n.inputs as [number, number];
    return [b.mul(ct, y), b.mul(ct, x)];
  },
  evaluate: ([x, y]) => evalBinary(x!, y!, (a, b) => a * b),
  ts: { kind: "elementwise", expr: ([a, b]) => `(${a} * ${b})` },
  wgsl: { kind: "elementwise", expr: ([a, b]) => `(${a} * ${b})` },
  wasm: { expr: ([a, b]) => `(f32x4.mul ${a} ${b})` },
});
