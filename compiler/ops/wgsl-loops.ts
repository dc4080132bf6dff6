// How long one WGSL invocation may loop, and how long each op's kernel does.
//
// Trap: Mesa's llvmpipe — what Dawn's OpenGL ES backend runs on without a
// GPU, and what this project's tests and CPU-only machines use — stops
// every loop of a shader invocation after 65,535 iterations in total,
// shared by all loops of the shader (LP_MAX_TGSI_LOOP_ITERATIONS, fixed at
// compile time; there is no setting). Past that every loop exits at once,
// silently, with a wrong result: a sum of 392,000 ones gives 65,535, two
// nested loops stop at 65,533 in total (docs/webgpu.md). Real GPUs have no
// such limit, so only a check at plan time catches it (error E033).
//
// The budget is half that cap. Trip counts are computed from the WGSL we
// write, and the driver's count is not exactly ours: nested loops lost two
// iterations above, a compiler may keep a loop we expect unrolled, and
// library functions (Philox) may loop. A factor of two keeps plans that pass
// the check clear of the cap without needing exact counts.

import type { Node, TensorType } from "../ir/types.ts";
import { OPS } from "./registry.ts";

/** The most loop iterations (all loops of the shader together) that one
 * WGSL invocation may run: half of llvmpipe's silent cap of 65,535. Used by
 * the planner (per op kernel, through `wgslLoopTrips`) and by the reduction
 * templates (compiler/emit/wgsl/templates.ts). */
export const WGSL_LOOP_BUDGET = 32768;

/** Loop iterations one GPU invocation of `node`'s kernel runs (its op's
 * `loopTrips` hook); 0 for ops with no kernel of their own (elementwise
 * expressions, leaves, views, structural ops). */
export function wgslLoopTrips(node: Node, inTypes: readonly TensorType[]): number {
  const em = OPS[node.op].wgsl;
  if (em.kind !== "kernel" && em.kind !== "tiled") return 0;
  return (em.loopTrips as (n: Node, t: readonly TensorType[]) => number)(node, inTypes);
}
