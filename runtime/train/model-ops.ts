// Operations on a CompiledModel's buffers that the trainer needs: parameter
// initialisation from the description, copying parameter sets (best-model
// snapshots, checkpoint restore) and evaluating metrics over a whole split.
import { evalOutputNames, RATIO_DENOMINATOR } from "../compiled-model.ts";
import type { Batch, CompiledModel, InitDesc, ModelDescription, ParamDesc, SplitMetricDesc } from "../compiled-model.ts";
import { normal, uniform } from "../rng/philox.ts";
import { orthogonalInit } from "./orthogonal.ts";
import { SALT_PARAM_INIT, SALT_STATE_INIT } from "../salts.ts";
import { PaddedBatches } from "../data/batcher.ts";
import { DataError } from "../data/dataset.ts";
import type { Split } from "../data/dataset.ts";
import { conlleval, type TaggedSentence } from "../data/conlleval.ts";

/** What initialisation may need to know of the data. */
interface InitContext {
  /** Minibatches per epoch of the train split (`steps_per_epoch` state). */
  readonly stepsPerEpoch?: number;
}

/** Fills `out` per `init`, drawing from Philox stream (seed, salt): element i
 * uses counter (step 0, iter 0, index i), so the values do not depend on the
 * order or the number of tensors initialised before. */
function initTensor(out: Float32Array, init: InitDesc, seed: number, salt: number, ctx: InitContext = {}): void {
  switch (init.kind) {
    case "zeros":
      out.fill(0);
      return;
    case "constant":
      out.fill(init.value);
      return;
    case "uniform": {
      const span = init.high - init.low;
      for (let i = 0; i < out.length; i++) out[i] = init.low + span * uniform(seed, salt, 0, 0, i);
      return;
    }
    case "normal":
      for (let i = 0; i < out.length; i++) out[i] = init.mean + init.std * normal(seed, salt, 0, 0, i);
      return;
    case "one":
      out.fill(1);
      return;
    case "orthogonal":
      orthogonalInit(out, init.rows, init.cols, seed, salt);
      return;
    case "values":
      if (init.values.length !== out.length) throw new Error(`an initialiser of ${init.values.length} values for a buffer of ${out.length}`);
      out.set(init.values);
      return;
    case "steps_per_epoch":
      if (ctx.stepsPerEpoch === undefined) throw new Error("a steps_per_epoch state needs the train split's size: initModel(model, { trainExamples })");
      out.fill(ctx.stepsPerEpoch);
      return;
  }
}

function checkBuffer(desc: ParamDesc, buf: Float32Array | undefined, what: string): Float32Array {
  const want = desc.shape.reduce((a, b) => a * b, 1);
  if (!buf) throw new Error(`model has no ${what} buffer "${desc.name}"`);
  if (buf.length !== want) throw new Error(`${what} "${desc.name}": buffer has ${buf.length} values, shape [${desc.shape.join(", ")}] needs ${want}`);
  return buf;
}

/** Initialises parameter i from salt SALT_PARAM_INIT + i and state tensor i
 * from SALT_STATE_INIT + i (runtime/salts.ts). `trainExamples`, the size of
 * the train split, gives `steps_per_epoch` states their value (default: the
 * description's train range, as for full MNIST). */
export function initModel(model: CompiledModel, opts: { readonly trainExamples?: number } = {}): void {
  const d = model.desc;
  const [from, to] = d.data.splits.train;
  const ctx: InitContext = { stepsPerEpoch: Math.floor((opts.trainExamples ?? to - from) / d.data.batchSize) };
  d.params.forEach((p, i) => initTensor(checkBuffer(p, model.params[p.name], "parameter"), p.init, d.seed, SALT_PARAM_INIT + i));
  d.state.forEach((s, i) => initTensor(checkBuffer(s, model.state[s.name], "state"), s.init, d.seed, SALT_STATE_INIT + i, ctx));
}

/** Fresh buffers shaped like the model's parameters (best-model snapshots). */
export function allocParams(desc: ModelDescription): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const p of desc.params) out[p.name] = new Float32Array(p.shape.reduce((a, b) => a * b, 1));
  return out;
}

/** Copies every named buffer of `from` into the same-named buffer of `to`. */
export function copyBuffers(
  names: readonly ParamDesc[],
  from: Readonly<Record<string, Float32Array>> | ReadonlyMap<string, Float32Array>,
  to: Readonly<Record<string, Float32Array>>,
): void {
  for (const p of names) {
    const src = from instanceof Map ? from.get(p.name) : (from as Readonly<Record<string, Float32Array>>)[p.name];
    if (!src) throw new Error(`no buffer "${p.name}" to copy`);
    to[p.name].set(src);
  }
}

/** The model's metrics over every example of a split, in batches of
 * desc.evalBatchSize (the last one padded, its padding ignored): per-example
 * metrics as means (summed in doubles, so the mean does not depend on batch
 * size); split metrics (chunk_f1) scored once over all the split's
 * sentences. */
export class Evaluator {
  private readonly out: Record<string, Float32Array> = {};
  private readonly batches = new Map<Split, PaddedBatches>();
  private readonly splitMetrics: ReadonlyMap<string, SplitMetricDesc>;

  constructor(private readonly model: CompiledModel) {
    const d = model.desc;
    this.splitMetrics = new Map((d.splitMetrics ?? []).map((m) => [m.name, m]));
    for (const m of evalOutputNames(d)) {
      const sm = this.splitMetrics.get(m);
      this.out[m] = new Float32Array(d.evalBatchSize * (sm?.kind === "chunk_f1" ? sm.tokens : 1));
    }
    // Requested outputs (compile's `outputs`) are written too; unread here.
    for (const o of d.outputs ?? []) this.out[o.name] = new Float32Array(d.evalBatchSize * o.shape.reduce((a, b) => a * b, 1));
  }

  get enabled(): boolean {
    return this.model.desc.metrics.length > 0;
  }

  async evaluate(split: Split, what: string): Promise<Record<string, number>> {
    const d = this.model.desc;
    let pb = this.batches.get(split);
    if (!pb) {
      // A CPU model that reads its pixels where they lie gets the split
      // placed in its memory once (whole batches are views of it) and the
      // last batch's padded copy made there too.
      const resident = split.named ? undefined : this.model.resident?.bind(this.model);
      const x = resident?.(split.x);
      pb = new PaddedBatches(x ? { ...split, x } : split, d.inputs, d.evalBatchSize, what, resident && ((n) => resident(new Float32Array(n))));
      this.batches.set(split, pb);
    }
    const sums = d.metrics.map(() => 0);
    const denominators = new Map<string, number>();
    const sentences = new Map<string, TaggedSentence[]>([...this.splitMetrics.values()].filter((m) => m.kind === "chunk_f1").map((m) => [m.name, []]));
    for (let k = 0; k < pb.numBatches; k++) {
      const { batch, count } = pb.fill(k);
      // Only a GPU model answers with a promise; a CPU model's result is ready.
      const done = this.model.evaluate(batch, this.out) as Promise<void> | undefined;
      if (done) await done;
      d.metrics.forEach((m, j) => {
        const v = this.out[m];
        const sm = this.splitMetrics.get(m);
        if (sm?.kind === "chunk_f1") {
          sentences.get(m)!.push(...taggedSentences(sm, batch, v, count, split, what));
          return;
        }
        let s = 0;
        for (let r = 0; r < count; r++) s += v[r];
        sums[j] += s;
        if (sm?.kind === "ratio") {
          const den = this.out[`${m}${RATIO_DENOMINATOR}`]!;
          let t = 0;
          for (let r = 0; r < count; r++) t += den[r]!;
          denominators.set(m, (denominators.get(m) ?? 0) + t);
        }
      });
    }
    const means: Record<string, number> = {};
    d.metrics.forEach((m, j) => {
      const tagged = sentences.get(m);
      const den = denominators.get(m);
      means[m] = tagged ? (tagged.length > 0 ? conlleval(tagged).f1 : NaN) : den !== undefined ? (den > 0 ? (100 * sums[j]!) / den : NaN) : split.n > 0 ? sums[j] / split.n : NaN;
    });
    return means;
  }
}

/** The `count` sentences of an evaluated batch as label-name sequences:
 * gold from the batch's labels input, predicted from the evaluation's
 * output, each cut to its length. */
function taggedSentences(m: SplitMetricDesc & { kind: "chunk_f1" }, batch: Batch, pred: Float32Array, count: number, split: Split, what: string): TaggedSentence[] {
  const names = split.labelNames;
  if (!names) throw new DataError(`${what}: metric "${m.name}" scores label sequences, but the data has no label names (chunk_f1 needs a dataset such as atis)`);
  const labels = batch[m.labels] as Int32Array;
  const lengths = batch[m.length] as Int32Array;
  const T = m.tokens;
  const out: TaggedSentence[] = [];
  for (let r = 0; r < count; r++) {
    const n = lengths[r]!;
    const gold: string[] = [];
    const guess: string[] = [];
    for (let t = 0; t < n; t++) {
      gold.push(names[labels[r * T + t]!] ?? "O");
      guess.push(names[Math.round(pred[r * T + t]!)] ?? "O");
    }
    out.push({ words: gold.map(() => "w"), gold, pred: guess });
  }
  return out;
}
