// A spec's inference graph as ONNX: the graph names asked for (default: the
// probabilities its metrics score, else its first cross-entropy term's
// reconstruction), built in evaluation mode (dropout off) at a static batch
// size, with the given parameter values as initializers.
import type { LoadedSpec } from "../../frontend/types.ts";
import { ModelBuilder } from "../../graph/build-model.ts";
import { IRError } from "../../ir/types.ts";
import { optimize } from "../../passes/pipeline.ts";
import { BATCH_SENTINEL, exportOnnx } from "./model.ts";

export interface InferenceOptions {
  /** Graph names to output (default: defaultOutputs). */
  readonly outputs?: readonly string[];
  /** The exported batch size: "dynamic" (default; a symbolic `batch`
   * dimension, the graph built at BATCH_SENTINEL) or a static size. */
  readonly batch?: number | "dynamic";
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

/** The ONNX bytes, the names of the model's inputs and outputs, and the
 * batch it was exported with: dynamic unless asked otherwise or unless the
 * spec's own shapes fix the batch (a literal `1` in a reshape: rnnslu's one
 * sentence a step), in which case the spec's batch size. */
export function inferenceOnnx(ls: LoadedSpec, values: ReadonlyMap<string, Float32Array>, opts: InferenceOptions = {}): { bytes: Uint8Array; inputs: string[]; outputs: string[]; batch: number | "dynamic" } {
  const outputs = [...(opts.outputs ?? defaultOutputs(ls) ?? [])];
  if (outputs.length === 0) throw new IRError("the spec has no metric or cross-entropy term to take an output from: name one with --output NAME", { file: ls.file, line: 1, col: 1 }, "E070");
  const want = opts.batch ?? "dynamic";
  if (want !== "dynamic") return { ...build(ls, values, outputs, want, opts.doc), batch: want };
  try {
    return { ...build(ls, values, outputs, "dynamic", opts.doc), batch: "dynamic" };
  } catch (e) {
    // Shapes written for the spec's batch size do not fit another one.
    if (!(e instanceof IRError) || e.code !== "E031") throw e;
    const batch = ls.spec.data.batch_size;
    return { ...build(ls, values, outputs, batch, opts.doc), batch };
  }
}

function build(ls: LoadedSpec, values: ReadonlyMap<string, Float32Array>, outputs: readonly string[], batch: number | "dynamic", doc: string | undefined): { bytes: Uint8Array; inputs: string[]; outputs: string[] } {
  const dynamicBatch = batch === "dynamic";
  const mb = new ModelBuilder(ls, { dtype: "f32", batch: dynamicBatch ? BATCH_SENTINEL : batch, mode: "eval" });
  for (const name of outputs) {
    const l = ls.locate(["graph", name]);
    mb.b.graph.outputs.set(`out:${name}`, mb.resolve(name, { file: ls.file, line: l.line, col: l.col, what: `output ${name}` }));
  }
  const g = optimize(mb.b.graph);
  const bytes = exportOnnx({ name: ls.spec.model, graph: g, outputs: new Map(outputs.map((n) => [n, g.outputs.get(`out:${n}`)!])), values, doc: doc ?? `${ls.file}, batch ${batch}`, dynamicBatch });
  const inputs = [...new Set(g.nodes.filter((n) => n.op === "input").map((n) => (n.attrs as { name: string }).name))];
  return { bytes, inputs, outputs: [...outputs] };
}
