// A spec's inference graph as ONNX: the graph names asked for (default: the
// probabilities its metrics score, else its first cross-entropy term's
// reconstruction), built in evaluation mode (dropout off) at a static batch
// size, with the given parameter values as initializers.
import type { LoadedSpec } from "../../frontend/types.ts";
import { ModelBuilder } from "../../graph/build-model.ts";
import { IRError } from "../../ir/types.ts";
import { optimize } from "../../passes/pipeline.ts";
import { exportOnnx } from "./model.ts";

export interface InferenceOptions {
  /** Graph names to output (default: defaultOutputs). */
  readonly outputs?: readonly string[];
  /** Static batch size of the exported model (default 1). */
  readonly batch?: number;
  readonly doc?: string;
}

/** The probabilities the metrics score, else the first cross-entropy
 * term's probabilities; null when the spec has neither. */
export function defaultOutputs(ls: LoadedSpec): string[] | null {
  const out: string[] = [];
  for (const m of Object.values(ls.spec.metrics ?? {})) {
    const probs = "zero_one" in m ? m.zero_one.probs : "nll" in m ? m.nll.probs : "chunk_f1" in m ? m.chunk_f1.probs : undefined;
    if (probs !== undefined && !out.includes(probs)) out.push(probs);
  }
  if (out.length) return out;
  for (const terms of Object.values(ls.spec.losses)) if (terms.cross_entropy) return [terms.cross_entropy.probs];
  return null;
}

/** The ONNX bytes and the names of the model's inputs and outputs. */
export function inferenceOnnx(ls: LoadedSpec, values: ReadonlyMap<string, Float32Array>, opts: InferenceOptions = {}): { bytes: Uint8Array; inputs: string[]; outputs: string[] } {
  const outputs = [...(opts.outputs ?? defaultOutputs(ls) ?? [])];
  if (outputs.length === 0) throw new IRError("the spec has no metric or cross-entropy term to take an output from: name one with --output NAME", { file: ls.file, line: 1, col: 1 }, "E070");
  const batch = opts.batch ?? 1;
  const mb = new ModelBuilder(ls, { dtype: "f32", batch, mode: "eval" });
  for (const name of outputs) {
    const l = ls.locate(["graph", name]);
    mb.b.graph.outputs.set(`out:${name}`, mb.resolve(name, { file: ls.file, line: l.line, col: l.col, what: `output ${name}` }));
  }
  const g = optimize(mb.b.graph);
  const bytes = exportOnnx({ name: ls.spec.model, graph: g, outputs: new Map(outputs.map((n) => [n, g.outputs.get(`out:${n}`)!])), values, doc: opts.doc ?? `${ls.file}, batch ${batch}` });
  const inputs = [...new Set(g.nodes.filter((n) => n.op === "input").map((n) => (n.attrs as { name: string }).name))];
  return { bytes, inputs, outputs };
}
