// stop_gradient: identity whose input is treated as a constant by autodiff
// (Theano's consider_constant), e.g. for the CD-k negative-phase samples.
import { defineOp } from "./op.ts";
import { evalUnary, inferSame } from "./elementwise.ts";

export const stop_gradient = defineOp({
  name: "stop_gradient",
  infer: (ins) => inferSame("stop_gradient", ins, 1),
  vjp: () => [null],
  evaluate: ([x]) => evalUnary(x!, (a) => a),
  // The value passes through unchanged: the output aliases the input buffer.
  ts: { kind: "view" },
  wgsl: { kind: "view" },
});
