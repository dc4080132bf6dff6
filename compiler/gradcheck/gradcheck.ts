// Full-spec gradient checking (dlt-compile --check-grad): the derived gradient
// of each phase's loss, evaluated in f64 by the reference evaluator, against
// central finite differences along a random direction per parameter (Theano's
// verify_grad on a random projection). Inputs are random data of the declared
// shapes; parameters are small random values (a zero init would hide errors).

import { grad } from "../autodiff/grad.ts";
import { buildLoss } from "../graph/build-model.ts";
import { checkGradCalls } from "./grad-calls.ts";
import { randomInput } from "./random-inputs.ts";
import { Builder } from "../ir/builder.ts";
import { interpret } from "../ir/interpret.ts";
import { alloc, type Tensor } from "../ir/tensor.ts";
import { numel } from "../ir/types.ts";
import { optimize } from "../passes/pipeline.ts";
import type { LoadedSpec } from "../frontend/types.ts";
import { normal, uniform } from "../../runtime/rng/philox.ts";

/** One gradient check: a phase's loss (or a grad() call) with respect to one
 * tensor, the numeric and the derived directional derivative, their relative
 * error, and whether it is within tolerance. */
export interface GradCheckRow {
  readonly phase: string;
  readonly param: string;
  readonly numeric: number;
  readonly analytic: number;
  readonly relErr: number;
  readonly ok: boolean;
}

export interface GradCheckOptions {
  readonly batch?: number;
  readonly eps?: number;
  readonly tol?: number;
  readonly seed?: number;
}

function randomTensor(shape: readonly number[], dtype: "f64" | "i32", salt: number, seed: number, classes: number, scale: number): Tensor {
  const t = alloc(shape, dtype);
  for (let i = 0; i < t.data.length; i++) {
    t.data[i] = dtype === "i32" ? Math.floor(uniform(seed, salt, 7, 0, i) * classes) : scale * normal(seed, salt, 7, 0, i);
  }
  return t;
}

export function checkSpecGradients(ls: LoadedSpec, opts: GradCheckOptions = {}): GradCheckRow[] {
  const spec = ls.spec;
  // State tensors (persistent chains) are shaped by the real batch size.
  const batch = opts.batch ?? (spec.state ? spec.data.batch_size : Math.min(spec.data.batch_size, 8));
  const eps = opts.eps ?? 1e-6;
  const tol = opts.tol ?? 1e-5;
  const seed = opts.seed ?? 20240;
  const rows: GradCheckRow[] = [];
  spec.phases.forEach((phase, p) => {
    rows.push(...checkGradCalls(ls, p, batch, seed, eps, tol));
    // A sampling phase trains nothing: its grad() calls are its checks.
    if (phase.loss === undefined) return;
    const { graph, params, inputs, cost } = buildLoss(ls, p, { dtype: "f64", batch });
    const names = phase.params ?? [...params.keys()];
    const leaves = { input: new Map<string, Tensor>(), param: new Map<string, Tensor>(), state: new Map<string, Tensor>() };
    let salt = 1;
    for (const [name, id] of inputs) {
      const n = graph.nodes[id]!;
      leaves.input.set(name, randomInput(n.shape, n.dtype === "i32", spec.data.inputs[name]!.classes ?? 2, seed, salt++));
    }
    for (const [name, id] of params) leaves.param.set(name, randomTensor(graph.nodes[id]!.shape, "f64", salt++, seed, 0, 0.1));
    // State in [0, 1) (a chain of samples or probabilities).
    for (const n of graph.nodes) {
      if (n.op !== "state") continue;
      const t = alloc(n.shape, "f64");
      for (let i = 0; i < t.data.length; i++) t.data[i] = uniform(seed, salt, 11, 0, i);
      salt++;
      leaves.state.set((n.attrs as { name: string }).name, t);
    }

    // Analytic gradients: differentiate, optimise, evaluate.
    const b = new Builder(graph);
    const gs = grad(b, cost, names.map((n) => params.get(n)!));
    names.forEach((n, i) => {
      const gid = gs[i];
      graph.outputs.set(`grad:${n}`, gid ?? b.fill(0, params.get(n)!));
    });
    const g2 = optimize(b.graph);
    const base = interpret(g2, { input: leaves.input, param: leaves.param, state: leaves.state }, { seed, step: 3 });
    // What the gradient holds constant (stop_gradient: a Gibbs chain's end)
    // is held at its base value for the finite differences too, as Theano's
    // consider_constant means. Otherwise a shifted parameter can flip one
    // Bernoulli sample of the chain and the difference quotient explodes.
    const held = new Map(leaves.input);
    const gHeld = { ...g2, nodes: g2.nodes.map((n) => (n.op === "stop_gradient" ? { ...n, op: "input" as const, inputs: [], attrs: { name: `stop_gradient:${n.id}` } } : n)) } as typeof g2;
    for (const n of g2.nodes) if (n.op === "stop_gradient") held.set(`stop_gradient:${n.id}`, base[n.id] as Tensor);
    const lossAt = (pv: Map<string, Tensor>) => (interpret(gHeld, { input: held, param: pv, state: leaves.state }, { seed, step: 3 })[g2.outputs.get("cost")!] as Tensor).data[0]!;

    for (const name of names) {
      const g = base[g2.outputs.get(`grad:${name}`)!] as Tensor;
      const p0 = leaves.param.get(name)!;
      const v = randomTensor(p0.shape, "f64", salt++, seed, 0, 1);
      let analytic = 0;
      for (let i = 0; i < numel(p0.shape); i++) analytic += g.data[i]! * v.data[i]!;
      const shifted = (h: number) => {
        const t = alloc(p0.shape, "f64");
        for (let i = 0; i < t.data.length; i++) t.data[i] = p0.data[i]! + h * v.data[i]!;
        return new Map(leaves.param).set(name, t);
      };
      const errOf = (numeric: number) => Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
      // A kink of the loss (relu, max-pooling: an input crossing zero or two
      // window entries swapping order) within eps of the point spoils the
      // central difference. Such a kink lies at some distance from the point,
      // so smaller steps clear it; a wrong gradient stays wrong at every
      // step. Retry with eps/10 and eps/100 (not below: f64 rounding).
      let numeric = NaN;
      let relErr = Infinity;
      for (const h of [eps, eps / 10, eps / 100]) {
        const n = (lossAt(shifted(h)) - lossAt(shifted(-h))) / (2 * h);
        if (errOf(n) < relErr) [numeric, relErr] = [n, errOf(n)];
        if (relErr <= tol) break;
      }
      rows.push({ phase: phase.name, param: name, numeric, analytic, relErr, ok: relErr <= tol || Math.abs(numeric - analytic) <= 1e-9 });
    }
  });
  return rows;
}
