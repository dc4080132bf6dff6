// The optimisation pipeline applied to every graph before lowering.
import type { Graph } from "../ir/types.ts";
import { cse, dce } from "./rewrite.ts";
import { simplify } from "./simplify.ts";

export function optimize(g: Graph): Graph {
  // CSE first so that softmax's two uses of exp(s) are one node and the
  // log-softmax pattern matches; fold again after CSE exposes constants.
  return dce(simplify(cse(simplify(cse(g)))));
}
