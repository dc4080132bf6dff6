// The LSTM of specs/lstm.yaml (lstm.py, "LSTM Networks for Sentiment
// Analysis") as the peers of bench/train-speed.ts train it: what they are
// given (the spec's sizes and Adadelta constants, the generated model's
// initial parameters, the minibatches with their dropout masks) and the
// checks that the spec still is the model they implement.
//
// One step trains on one minibatch of 16 sentences, time-major, for T steps
// (T = the batch's longest sentence):
//   x_t = Wemb[words_t]                                   [16, 128]
//   [i f o g] = x_t·W + h·U + b, cut in that order        [16, 4·128]
//   c_t = m_t·(σf·c + σi·tanh g) + (1 − m_t)·c            (masked steps keep c)
//   h_t = m_t·(σo·tanh c_t) + (1 − m_t)·h                 (and h)
//   proj = Σ_t m_t·h_t / Σ_t m_t                           (mean over the words)
//   cost = −mean log softmax(proj·keep/0.5 · U + b)[label] (inverted dropout)
// then Adadelta on all six parameters:
//   a ← ρa + (1−ρ)g²;  Δ = −√((d+ε)/(a+ε))·g;  d ← ρd + (1−ρ)Δ²;  p ← p + Δ.
//
// Dropout: the generated trainer draws its keep mask from Philox keyed by
// (seed, salt 1, step); the peers are handed the same masks, one per
// minibatch (runtime/rng/philox.ts, as the generated code calls it), so that
// every implementation trains the same model step for step and their costs
// can be compared past the first step. A peer drawing its own mask would
// cost one [16, 128] uniform draw a step, negligible beside the LSTM.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import * as rng from "../../runtime/rng/philox.ts";

/** One minibatch as the generated model takes it (batch-major, padded to
 * the spec's maxlen), plus what the peers cut their tensors from. */
export interface LstmBatch {
  /** [batch, maxLength] word ids; 0 past a sentence's end. */
  readonly words: Int32Array;
  /** [batch, maxLength] 1 on a sentence's words, 0 past its end. */
  readonly mask: Float32Array;
  /** [batch] words per sentence. */
  readonly length: Int32Array;
  /** [batch] class labels. */
  readonly label: Int32Array;
  /** The batch's longest sentence: the steps the scan runs. */
  readonly steps: number;
  /** [batch, hidden] dropout keep mask (0 or 1) of the step that trains on
   * this batch, as the generated trainer draws it. */
  readonly keep: Float32Array;
  /** [steps, batch, dim] the embeddings' keep mask of that step (time-major,
   * the batch's scan steps only); empty when the spec has no embedding
   * dropout. */
  readonly embKeep: Float32Array;
}

export interface LstmModel {
  readonly name: "lstm";
  readonly batchSize: number;
  /** The spec's maxlen: the padded inputs' second axis. */
  readonly maxLength: number;
  readonly vocab: number;
  readonly dim: number;
  readonly hidden: number;
  readonly classes: number;
  readonly rho: number;
  readonly eps: number;
  /** Dropout rate p of dropout(proj, p): kept units are scaled by 1/(1−p). */
  readonly dropout: number;
  /** Dropout rate of the embeddings, dropout(embed(...), p); 0: none. */
  readonly embDropout: number;
  /** Initial parameters in the generated model's layout (read-only): Wemb
   * [vocab, dim], lstm_W [dim, 4·hidden], lstm_U [hidden, 4·hidden], lstm_b
   * [4·hidden], U [hidden, classes], b [classes]. */
  readonly params: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

interface LstmSpecFile {
  seed: number;
  data: { batch_size: number; inputs: Record<string, { shape: number[]; classes?: number }> };
  graph: Record<string, string | { scan?: { steps?: string; carry: Record<string, string>; body: Record<string, string> } }>;
  losses: Record<string, { nll?: { probs: string; labels: string } }>;
  phases: { loss: string; optimizer: { adadelta?: { rho: number; eps: number } } }[];
  params: Record<string, { shape: number[] }>;
}

/** Spaces dropped, so that the checks below do not depend on layout. */
const squash = (s: string): string => s.replace(/\s+/g, "");

/** Reads specs/lstm.yaml and checks that it is the model the peers
 * implement (they are hand-written: a changed spec must fail loudly here,
 * not be benchmarked as something else). */
export function lstmSpec(specPath = "specs/lstm.yaml"): Omit<LstmModel, "params"> & { readonly seed: number } {
  const spec = parse(readFileSync(specPath, "utf8")) as LstmSpecFile;
  const fail = (what: string): never => {
    throw new Error(`${specPath}: ${what}; bench/peers implement the LSTM of lstm.py (update bench/peers/lstm.ts and the peers with the spec)`);
  };
  const phase = spec.phases[0]!;
  const ada = phase.optimizer.adadelta;
  if (!ada || Object.keys(phase.optimizer).length !== 1) fail("the first phase's optimizer is not Adadelta");
  const lstm = spec.graph.lstm;
  const scan = typeof lstm === "object" ? lstm.scan : undefined;
  if (!scan || scan.steps !== "length") fail("no scan 'lstm' running `length` steps");
  const body = Object.fromEntries(Object.entries(scan!.body).map(([k, v]) => [k, squash(v)]));
  const want: Record<string, string> = {
    preact: "x_t@lstm_W+h@lstm_U+lstm_b",
    i: "sigmoid(slice(preact,1,0,128))",
    f: "sigmoid(slice(preact,1,128,256))",
    o: "sigmoid(slice(preact,1,256,384))",
    g: "tanh(slice(preact,1,384,512))",
    c_t: "m_t*(f*c+i*g)+(1-m_t)*c",
    h_t: "m_t*(o*tanh(c_t))+(1-m_t)*h",
    c: "c_t",
    h: "h_t",
  };
  for (const [k, v] of Object.entries(want)) if (body[k] !== v) fail(`the scan body's ${k} is not ${v} (${body[k] ?? "absent"})`);
  if (squash(String(spec.graph.proj)) !== "sum(hs*m,0)/sum(m,0)") fail("proj is not the mean of the states over the words");
  const emb = squash(String(spec.graph.emb));
  const embDrop = /^dropout\(embed\(Wemb,time_major\(words\)\),([0-9.]+)\)$/.exec(emb);
  if (!embDrop && emb !== "embed(Wemb,time_major(words))") fail("emb is not embed(Wemb, time_major(words)), with or without dropout");
  const py = /^softmax\(dropout\(proj,([0-9.]+)\)@U\+b\)$/.exec(squash(String(spec.graph.p_y)));
  if (!py) fail("p_y is not softmax(dropout(proj, p) @ U + b)");
  const nll = spec.losses[phase.loss]?.nll;
  if (!nll || nll.probs !== "p_y" || Object.keys(spec.losses[phase.loss]!).length !== 1) fail("the loss is not the NLL of p_y alone");
  const shapeOf = (n: string): number[] => spec.params[n]?.shape ?? fail(`no parameter ${n}`);
  const [vocab, dim] = shapeOf("Wemb") as [number, number];
  const [hidden, classes] = shapeOf("U") as [number, number];
  if (hidden !== 128 || shapeOf("lstm_U").join() !== `${hidden},${4 * hidden}` || shapeOf("lstm_W").join() !== `${dim},${4 * hidden}`) {
    fail("the gate weights are not [dim | hidden, 4·128] (the body's slices assume 128)");
  }
  const maxLength = spec.data.inputs.words?.shape[0] ?? fail("no input words");
  return {
    name: "lstm", seed: spec.seed, batchSize: spec.data.batch_size, maxLength, vocab, dim, hidden, classes,
    rho: ada!.rho, eps: ada!.eps, dropout: Number(py![1]), embDropout: embDrop ? Number(embDrop[1]) : 0,
  };
}

/** A keep mask of the generated trainer at `step` ([size], as its code
 * draws it: uniform(seed, salt, step, 0, i) < keep probability). The salts
 * number the spec's random ops in graph order: the embeddings' dropout
 * (when the spec has one) is salt 1, the projection's the next;
 * checkGeneratedDropout below holds the generated source to them. */
export function keepMask(seed: number, salt: number, step: number, size: number, rate: number): Float32Array {
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = rng.uniform(seed, salt, step, 0, i) < 1 - rate ? 1 : 0;
  return out;
}

/** The salts of the embeddings' and the projection's masks. */
export function dropoutSalts(m: Pick<LstmModel, "embDropout">): { emb: number; proj: number } {
  return m.embDropout > 0 ? { emb: 1, proj: 2 } : { emb: 0, proj: 1 };
}

/** Fails unless generated/lstm/model.ts draws its dropout masks as keepMask
 * does (a recompiled spec that moved a salt would silently desynchronise
 * the peers' masks from ours). */
export function checkGeneratedDropout(source: string, m: Pick<LstmModel, "batchSize" | "hidden" | "dim" | "maxLength" | "dropout" | "embDropout">): void {
  // As compiler/emit/ts/render.ts writes a draw: the runtime's Philox kernel
  // fills the mask's buffer, then the loop (loops.wat, commented with its
  // formula in model.ts) compares.
  const salts = dropoutSalts(m);
  const fill = (n: number, salt: number) => new RegExp(`this\\.k\\.uniformFill\\(\\{ dst: \\d+, n: ${n}, seed: this\\.desc\\.seed, salt: ${salt}, step: step, iter: 0 \\}\\)`);
  const want: [RegExp, string][] = [[fill(m.batchSize * m.hidden, salts.proj), `= cast(compare(random_uniform(), ${1 - m.dropout}))`]];
  if (m.embDropout > 0) want.push([fill(m.maxLength * m.batchSize * m.dim, salts.emb), `= cast(compare(random_uniform(), ${1 - m.embDropout}))`]);
  for (const [re, formula] of want) {
    if (!re.test(source) || !source.includes(formula)) {
      throw new Error(`generated/lstm/model.ts no longer draws a dropout mask as bench/peers/lstm.ts keepMask does (${re.source}; ${formula})`);
    }
  }
}

/** The embeddings' keep mask / (1 − p) for the batch's steps, [steps·batch·dim]
 * (all 1 when the spec has no embedding dropout). */
export function embScale(b: LstmBatch, m: Pick<LstmModel, "batchSize" | "dim" | "embDropout">, steps = b.steps): Float32Array {
  const out = new Float32Array(steps * m.batchSize * m.dim);
  if (m.embDropout === 0) return out.fill(1);
  const n = Math.min(steps, b.steps) * m.batchSize * m.dim;
  for (let i = 0; i < n; i++) out[i] = b.embKeep[i]! / (1 - m.embDropout);
  return out;
}

/** The batch's words and mask cut to its `steps` and made time-major
 * ([steps, batch]), as the peers' loops walk them. */
export function timeMajor(b: LstmBatch, batch: number, maxLength: number, steps = b.steps): { words: Int32Array; mask: Float32Array } {
  const words = new Int32Array(steps * batch);
  const mask = new Float32Array(steps * batch);
  for (let t = 0; t < Math.min(steps, maxLength); t++) {
    for (let n = 0; n < batch; n++) {
      words[t * batch + n] = b.words[n * maxLength + t]!;
      mask[t * batch + n] = b.mask[n * maxLength + t]!;
    }
  }
  return { words, mask };
}

/** Labels as one-hot rows [batch, classes]. */
export function oneHotLabels(label: Int32Array, classes: number): Float32Array {
  const out = new Float32Array(label.length * classes);
  for (let n = 0; n < label.length; n++) out[n * classes + label[n]!] = 1;
  return out;
}

/** A line on the minibatches walked: how many and how long their scans run. */
export function describeBatches(batches: readonly LstmBatch[], batch: number): string {
  const steps = batches.map((b) => b.steps);
  const words = batches.reduce((a, b) => a + b.length.reduce((x, y) => x + y, 0), 0);
  return `${batches.length} minibatches of ${batch} (${batches.length * batch} sentences, mean ${(words / (batches.length * batch)).toFixed(1)} words; the scan runs the batch's longest: ${Math.min(...steps)}–${Math.max(...steps)} steps, mean ${(steps.reduce((a, b) => a + b, 0) / steps.length).toFixed(1)})`;
}
