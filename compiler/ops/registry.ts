// The op registry, typed exhaustively over every primitive: an op without a
// shape rule, VJP, reference evaluation or emitter does not compile here.

import type { Prim } from "../ir/types.ts";
import type { OpDef } from "./op.ts";
import { input, param, state, scan_arg } from "./leaves.ts";
import { constant } from "./const.ts";
import { add } from "./add.ts";
import { sub } from "./sub.ts";
import { mul } from "./mul.ts";
import { div } from "./div.ts";
import { maximum } from "./maximum.ts";
import { minimum } from "./minimum.ts";
import { pow } from "./pow.ts";
import { neg } from "./neg.ts";
import { exp } from "./exp.ts";
import { log } from "./log.ts";
import { tanh } from "./tanh.ts";
import { sigmoid } from "./sigmoid.ts";
import { softplus } from "./softplus.ts";
import { abs } from "./abs.ts";
import { sqrt } from "./sqrt.ts";
import { compare } from "./compare.ts";
import { select } from "./select.ts";
import { cast } from "./cast.ts";
import { stop_gradient } from "./stop-gradient.ts";
import { reduce_sum } from "./reduce-sum.ts";
import { reduce_max } from "./reduce-max.ts";
import { argmax } from "./argmax.ts";
import { one_hot } from "./one-hot.ts";
import { gather } from "./gather.ts";
import { scatter_add } from "./scatter-add.ts";
import { broadcast } from "./broadcast.ts";
import { reshape } from "./reshape.ts";
import { transpose } from "./transpose.ts";
import { slice } from "./slice.ts";
import { pad } from "./pad.ts";
import { concat } from "./concat.ts";
import { matmul } from "./matmul.ts";
import { conv2d } from "./conv2d.ts";
import { conv2d_filter_grad } from "./conv2d-filter-grad.ts";
import { flip } from "./flip.ts";
import { max_pool2d } from "./max-pool2d.ts";
import { max_pool2d_grad } from "./max-pool2d-grad.ts";
import { random_uniform } from "./random-uniform.ts";
import { step_one_hot } from "./step-one-hot.ts";
import { random_normal } from "./random-normal.ts";
import { scan } from "./scan.ts";
import { tuple_get } from "./tuple-get.ts";

export const OPS: { readonly [P in Prim]: OpDef<P> } = {
  input,
  param,
  state,
  const: constant,
  scan_arg,
  add,
  sub,
  mul,
  div,
  maximum,
  minimum,
  pow,
  neg,
  exp,
  log,
  tanh,
  sigmoid,
  softplus,
  abs,
  sqrt,
  compare,
  select,
  cast,
  stop_gradient,
  reduce_sum,
  reduce_max,
  argmax,
  one_hot,
  gather,
  scatter_add,
  broadcast,
  reshape,
  transpose,
  slice,
  pad,
  concat,
  matmul,
  conv2d,
  conv2d_filter_grad,
  flip,
  max_pool2d,
  max_pool2d_grad,
  random_uniform,
  random_normal,
  step_one_hot,
  scan,
  tuple_get,
};
