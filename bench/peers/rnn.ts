// The Elman RNN of specs/rnnslu.yaml (rnnslu.py) as the peers of
// bench/train-speed.ts train it: what they are given (the spec's sizes and
// learning rate, the generated model's initial parameters, the sentences)
// and the checks that the spec still is the model they implement.
//
// One step trains on one sentence of T words (T = its length, 2–46):
//   x_t = the 7 embedding rows of word t's context window, concatenated (350)
//   h_t = sigmoid(x_t·Wx + h_{t−1}·Wh + bh), h_{−1} = h0
//   o_t = h_t·W + b
//   cost = −mean_t log_softmax(o_t)[label_t]
// then plain SGD on all seven parameters and every embedding row divided by
// its L2 norm (the spec's after_update, rnnslu.py's normalize()).
import { readFileSync } from "node:fs";
import { parse } from "yaml";

/** One training sentence, as the generated model takes it (padded to the
 * spec's T) plus its length, from which the peers cut their own tensors. */
export interface Sentence {
  /** [maxLength, window] context windows, row-major; `pad` past the end. */
  readonly words: Int32Array;
  /** [maxLength] slot labels; −1 past the end. */
  readonly labels: Int32Array;
  /** Words in the sentence (≥ 1). */
  readonly length: number;
}

export interface RnnModel {
  readonly name: "rnnslu";
  readonly lr: number;
  /** The spec's T: the longest sentence, the padded inputs' first axis. */
  readonly maxLength: number;
  readonly window: number;
  /** Embedding rows (vocabulary + 1): the last is the padding row. */
  readonly vocab: number;
  readonly pad: number;
  readonly dim: number;
  readonly hidden: number;
  readonly classes: number;
  /** Initial parameters in the generated model's layout (read-only): emb
   * [vocab, dim], Wx [window·dim, hidden], Wh [hidden, hidden], W [hidden,
   * classes], bh [hidden], b [classes], h0 [1, hidden]. */
  readonly params: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

interface RnnSpec {
  data: { batch_size: number; window: number; inputs: Record<string, { shape: number[]; classes?: number }> };
  graph: { rnn?: { scan?: { carry: Record<string, string>; body: Record<string, string> } } };
  losses: Record<string, { expr?: { value?: string } }>;
  phases: { loss: string; optimizer: { sgd?: { lr: number } }; after_update?: Record<string, string> }[];
  params: Record<string, { shape: number[] }>;
}

/** Spaces dropped, so that the checks below do not depend on layout. */
const squash = (s: string): string => s.replace(/\s+/g, "");

/** Reads specs/rnnslu.yaml and checks that it is the model the peers
 * implement (they are hand-written: a changed spec must fail loudly here,
 * not be benchmarked as something else). */
export function rnnSpec(specPath = "specs/rnnslu.yaml"): Omit<RnnModel, "params"> {
  const spec = parse(readFileSync(specPath, "utf8")) as RnnSpec;
  const fail = (what: string): never => {
    throw new Error(`${specPath}: ${what}; bench/peers implement the Elman RNN of rnnslu.py (update bench/peers/rnn.ts and the peers with the spec)`);
  };
  const phase = spec.phases[0]!;
  const sgd = phase.optimizer.sgd;
  if (!sgd || Object.keys(phase.optimizer).length !== 1) fail("the first phase's optimizer is not plain SGD");
  if (spec.data.batch_size !== 1) fail(`batch_size is ${spec.data.batch_size}, not 1`);
  const scan = spec.graph.rnn?.scan;
  if (!scan) fail("no scan 'rnn' in the graph");
  const body = Object.fromEntries(Object.entries(scan!.body).map(([k, v]) => [k, squash(v)]));
  const carries = Object.keys(scan!.carry);
  if (carries.length !== 1 || carries[0] !== "h" || scan!.carry.h !== "h0") fail("the scan does not carry h from h0");
  // The state update, under its own name or under the carry's.
  const step = "sigmoid(x_t@Wx+h@Wh+bh)";
  const newState = Object.keys(body).find((k) => body[k] === step);
  if (newState === undefined || (newState !== "h" && body.h !== newState)) fail(`the scan body does not set h to ${step}`);
  // In a scan body a carry's name is its value entering the step
  // (docs/spec.md): `o: h @ W + b` would read h_{t−1}, rnnslu.py reads h_t.
  const read = /^(\w+)@W\+b$/.exec(body.o ?? "")?.[1];
  if (read === undefined || read !== newState || read === "h") fail(`the scan body's o is not the new state ${newState ?? "h_t"} @ W + b (o: ${body.o})`);
  const loss = squash(spec.losses[phase.loss]?.expr?.value ?? "");
  if (loss !== "-sum(gold*log_softmax(logits))/sum(gold)") fail(`the loss is not the mean NLL over the sentence's words`);
  const after = squash(phase.after_update?.emb ?? "");
  const shapeOf = (n: string): number[] => spec.params[n]?.shape ?? fail(`no parameter ${n}`);
  const [vocab, dim] = shapeOf("emb") as [number, number];
  if (after !== `emb/reshape(sqrt(sum(emb*emb,1)),${vocab},1)`) fail("after_update does not normalise the embedding rows");
  const [maxLength, window] = spec.data.inputs.words?.shape ?? fail("no input words");
  const [hidden, classes] = shapeOf("W") as [number, number];
  if (window !== spec.data.window || shapeOf("Wx")[0] !== window! * dim) fail("the windows do not match Wx");
  return { name: "rnnslu", lr: sgd!.lr, maxLength: maxLength!, window: window!, vocab, pad: vocab - 1, dim, hidden, classes };
}

/** The sentences cut to their length, as the peers take them: the context
 * windows [T·window] and labels [T] of the words that are there. */
export function cutSentence(s: Sentence, window: number): { words: Int32Array; labels: Int32Array } {
  return { words: s.words.subarray(0, s.length * window), labels: s.labels.subarray(0, s.length) };
}

/** Labels [T] as one-hot rows [rows, classes], zero rows past T (rows ≥ T:
 * padding to a bucket's length masks the padded words out of the loss). */
export function oneHotRows(labels: Int32Array, classes: number, rows = labels.length): Float32Array {
  const out = new Float32Array(rows * classes);
  for (let t = 0; t < labels.length; t++) if (labels[t]! >= 0) out[t * classes + labels[t]!] = 1;
  return out;
}

/** A line on the sentences walked: how many and how long. */
export function describeSentences(sentences: readonly Sentence[]): string {
  const lengths = sentences.map((s) => s.length);
  const mean = lengths.reduce((a, b) => a + b, 0) / lengths.length;
  return `${sentences.length} sentences (${Math.min(...lengths)}–${Math.max(...lengths)} words, mean ${mean.toFixed(2)}, ${new Set(lengths).size} distinct lengths)`;
}
