// --check-grad for the gradients a spec writes itself: every `grad(f, x)`
// built on a phase's graph (Builder.derivatives; those inside scan bodies
// live on the body's builder and are covered by training through them) is
// compared, in f64, with central differences of f along a random direction
// of x. x may be an intermediate value: the graph is cut there (x becomes an
// input holding its base value, shifted), which is what grad with respect
// to a graph name means. Sampling specs (HMC) have no trained parameters, so
// these are their gradient checks.

import { ModelBuilder } from "../graph/build-model.ts";
import { interpret } from "../ir/interpret.ts";
import { alloc, type Tensor } from "../ir/tensor.ts";
import type { Graph } from "../ir/types.ts";
import type { LoadedSpec } from "../frontend/types.ts";
import { normal } from "../../runtime/rng/philox.ts";
import { randomInput } from "./random-inputs.ts";
import type { GradCheckRow } from "./gradcheck.ts";

/** Rows (param: the grad call as written) for phase p's grad() calls. */
export function checkGradCalls(ls: LoadedSpec, p: number, batch: number, seed: number, eps: number, tol: number): GradCheckRow[] {
  const spec = ls.spec;
  const phase = spec.phases[p]!;
  const mb = new ModelBuilder(ls, { dtype: "f64", batch });
  // What the phase's step reads: its loss, updates and report.
  if (phase.loss !== undefined) mb.loss(phase.loss);
  for (const src of Object.values(phase.updates ?? {})) mb.resolve(src);
  if (phase.report !== undefined) mb.resolve(phase.report);
  const calls = mb.b.derivatives;
  if (calls.length === 0) return [];
  const g = mb.b.graph;
  const leaves = { input: new Map<string, Tensor>(), param: new Map<string, Tensor>(), state: new Map<string, Tensor>() };
  let salt = 101;
  for (const n of g.nodes) {
    const name = (n.attrs as { name?: string }).name ?? "";
    if (n.op === "input") {
      leaves.input.set(name, randomInput(n.shape, n.dtype === "i32", spec.data.inputs[name]?.classes ?? 2, seed, salt++));
    } else if (n.op === "param" || n.op === "state") {
      const t = alloc(n.shape, "f64");
      // Literal state (a target mean, a precision matrix) as written;
      // anything else small and random.
      const init = (n.op === "param" ? spec.params[name] : spec.state?.[name])?.init;
      const lit = init !== undefined && init !== "zeros" && "constant" in init ? init.constant.value : undefined;
      const values = init !== undefined && init !== "zeros" && "values" in init ? [init.values].flat(Infinity as 1) : undefined;
      for (let i = 0; i < t.data.length; i++) t.data[i] = lit ?? (values?.[i] as number | undefined) ?? 0.5 * normal(seed, salt, 7, 0, i);
      (n.op === "param" ? leaves.param : leaves.state).set(name, t);
      salt++;
    }
  }
  const opts = { seed, step: 3 };
  const base = interpret(g, leaves, opts);
  return calls.map((c) => {
    const x0 = base[c.x] as Tensor;
    const v = alloc(x0.shape, "f64");
    for (let i = 0; i < v.data.length; i++) v.data[i] = normal(seed, salt, 13, 0, i);
    salt++;
    const gv = base[c.g] as Tensor;
    let analytic = 0;
    for (let i = 0; i < v.data.length; i++) analytic += gv.data[i]! * v.data[i]!;
    // x as an input: what it is computed from is held, as grad means.
    const cut: Graph = { ...g, nodes: g.nodes.map((n) => (n.id === c.x ? { ...n, op: "input" as const, inputs: [], attrs: { name: "grad:wrt" } } : n)) } as Graph;
    const fAt = (h: number): number => {
      const t = alloc(x0.shape, "f64");
      for (let i = 0; i < t.data.length; i++) t.data[i] = x0.data[i]! + h * v.data[i]!;
      const input = new Map(leaves.input).set("grad:wrt", t);
      return (interpret(cut, { ...leaves, input }, opts)[c.f] as Tensor).data[0]!;
    };
    const errOf = (numeric: number) => Math.abs(numeric - analytic) / Math.max(1e-8, Math.abs(numeric) + Math.abs(analytic));
    let numeric = NaN;
    let relErr = Infinity;
    for (const h of [eps, eps / 10, eps / 100]) {
      const n = (fAt(h) - fAt(-h)) / (2 * h);
      if (errOf(n) < relErr) [numeric, relErr] = [n, errOf(n)];
      if (relErr <= tol) break;
    }
    return { phase: phase.name, param: c.what, numeric, analytic, relErr, ok: relErr <= tol || Math.abs(numeric - analytic) <= 1e-9 };
  });
}
