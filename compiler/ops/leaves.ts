// Leaves: named graph inputs (input, param, state) and scan body arguments.
// Their type lives in the node itself (Builder.leaf / Builder.scanArg append
// them directly), so infer() has nothing to infer from and refuses.
import { IRError } from "../ir/types.ts";
import { defineOp } from "./op.ts";

function noInfer(op: string): never {
  throw new IRError(`${op} nodes carry their own type: build them with Builder.leaf/scanArg`);
}

export const input = defineOp({
  name: "input",
  infer: () => noInfer("input"),
  vjp: () => [],
  evaluate: (_ins, n, ctx) => ctx.leaf("input", n.attrs.name),
  ts: { kind: "leaf" },
  wgsl: { kind: "leaf" },
});

export const param = defineOp({
  name: "param",
  infer: () => noInfer("param"),
  vjp: () => [],
  evaluate: (_ins, n, ctx) => ctx.leaf("param", n.attrs.name),
  ts: { kind: "leaf" },
  wgsl: { kind: "leaf" },
});

export const state = defineOp({
  name: "state",
  infer: () => noInfer("state"),
  vjp: () => [],
  evaluate: (_ins, n, ctx) => ctx.leaf("state", n.attrs.name),
  ts: { kind: "leaf" },
  wgsl: { kind: "leaf" },
});

export const scan_arg = defineOp({
  name: "scan_arg",
  infer: () => noInfer("scan_arg"),
  vjp: () => [],
  evaluate: (_ins, n, ctx) => ctx.arg(n.attrs.index),
  ts: { kind: "leaf" },
  wgsl: { kind: "leaf" },
});
