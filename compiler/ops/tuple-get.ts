// tuple_get: element `index` of the tuple a scan produces. Its cotangent is
// collected per element by the differentiator and handed to the scan's VJP.
import { IRError } from "../ir/types.ts";
import { defineOp } from "./op.ts";

export const tuple_get = defineOp({
  name: "tuple_get",
  infer: () => {
    // The element type lives in the scan's body outputs; Builder.tupleGet sets it.
    throw new IRError("tuple_get nodes are created by Builder.tupleGet");
  },
  vjp: () => {
    throw new IRError("tuple_get cotangents are collected by the differentiator, not by a VJP rule");
  },
  evaluate: ([tuple], n) => {
    const t = tuple![n.attrs.index];
    if (!t) throw new IRError(`tuple_get ${n.attrs.index}: tuple has ${tuple!.length} elements`, n.loc);
    return t;
  },
  ts: { kind: "structural" },
  wgsl: { kind: "structural" },
});
