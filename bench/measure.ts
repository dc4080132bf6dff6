// One measurement of bench/train-speed.ts, run in a child process of its own
// (forked by the harness, which kills it at the time limit): one model, one
// implementation. Builds the same inputs for every implementation (the
// generated model's initial parameters and the first minibatches of the
// embedded MNIST digits, in order; for rnnslu the first ATIS training
// sentences; for lstm the first rt-polarity minibatches; for rnnrbm the first
// Nottingham pieces), prepares the implementation, warms it up and times repeats of
// whole training steps, reporting each event to the parent as it happens, so
// that a measurement cut short still reports what it finished.
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { BatchIterator } from "../runtime/data/batcher.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { initModel } from "../runtime/train/model-ops.ts";
import type { KernelTiming } from "../runtime/webgpu/executor.ts";
import type { BenchBatch, BenchModel, BenchModelName, MnistModelName, Peer, StepRunner } from "./peers/peer.ts";
import { errorMessage, specHyperparameters } from "./peers/peer.ts";
import { readFileSync } from "node:fs";
import type { LstmBatch, LstmModel } from "./peers/lstm.ts";
import { checkGeneratedDropout, describeBatches, dropoutSalts, keepMask, lstmSpec } from "./peers/lstm.ts";
import type { RnnModel, Sentence } from "./peers/rnn.ts";
import { describeSentences, rnnSpec } from "./peers/rnn.ts";
import type { RbmPiece, RnnRbmModel } from "./peers/rnnrbm.ts";
import type { ExtraBatch, ExtraModel, ExtraModelName } from "./peers/mnist-extra.ts";
import { EXTRA_MODELS, checkGeneratedDraws as checkExtraDraws, distinctBatches, extraSpec, stepUniforms } from "./peers/mnist-extra.ts";

const isExtra = (m: BenchModelName): m is ExtraModelName => (EXTRA_MODELS as readonly string[]).includes(m);
import { checkGeneratedDraws, describePieces, pieceDraws, rnnRbmSpec } from "./peers/rnnrbm.ts";

export interface MeasureRequest {
  readonly model: BenchModelName;
  /** "ours" (with `backend`) or a peer name. */
  readonly impl: string;
  readonly backend: string;
  readonly repeats: number;
  /** Steps per repeat; 0: as many as fill `seconds`. */
  readonly steps: number;
  /** Target duration of one timed repeat, in seconds. */
  readonly seconds: number;
  /** The parent kills the measurement after this many seconds; the child
   * plans its repeats to finish before. */
  readonly limit: number;
}

export type MeasureEvent =
  | { readonly kind: "ready"; readonly prepareMs: number }
  | { readonly kind: "warmup"; readonly ms: number; readonly cost?: number }
  | { readonly kind: "plan"; readonly steps: number; readonly repeats: number }
  | { readonly kind: "repeat"; readonly steps: number; readonly ms: number }
  | { readonly kind: "note"; readonly text: string }
  | { readonly kind: "profile"; readonly kernels: readonly KernelTiming[] }
  | { readonly kind: "error"; readonly message: string }
  | { readonly kind: "done" };

/** Peers by name, loaded on demand: a package that fails to load fails only
 * its own measurement. */
export const PEERS: Readonly<Record<string, () => Promise<Peer>>> = {
  "tfjs-wasm": async () => (await import("./peers/tfjs.ts")).tfjsWasm,
  "tfjs-cpu": async () => (await import("./peers/tfjs.ts")).tfjsCpu,
  jax: async () => (await import("./peers/jax.ts")).jaxPeer,
  "jax-eager": async () => (await import("./peers/jax.ts")).jaxEagerPeer,
};

/** Distinct minibatches cycled through (the first ones of the epoch): all
 * of the 8,000 embedded training digits up to ~4,000 examples. */
const DISTINCT_EXAMPLES = 4000;
/** rnnslu: the first this many training sentences of ATIS fold 3, in
 * order. Sentences differ in length (2–46 words), so a step's time depends
 * on which sentence it trains on: every timed repeat walks whole passes
 * over these (and so the same words per sentence on average, whatever the
 * implementation's speed), and the warm-up one whole pass (jit-compiling
 * peers meet every length there). */
const RNN_SENTENCES = 100;
/** lstm: the first this many minibatches of 16 rt-polarity training
 * sentences, in order. The scan runs each batch's longest sentence (28–47
 * words in the first 20), so, as for rnnslu, the warm-up is one whole pass
 * and every timed repeat whole passes. */
const LSTM_BATCHES = 20;
/** rnnrbm: the first this many pieces (up to 100 frames of 88 notes) of the
 * Nottingham training split, in order. Most are a whole 100 frames; the
 * warm-up is one whole pass and every timed repeat whole passes, as for
 * rnnslu. */
const RBM_PIECES = 10;
/** Warm-up: at least this many steps and this long... */
const WARMUP_STEPS = 3;
const WARMUP_SECONDS = 1;
/** ...unless the steps are so slow that warm-up would eat this share of the limit. */
const WARMUP_SHARE = 0.3;

/** The generated model, initialised, and a copy of its initial parameters. */
async function initialModel(name: BenchModelName): Promise<{ m: CompiledModel; params: Record<string, { shape: readonly number[]; data: Float32Array }> }> {
  const { Model } = (await import(`../generated/${name}/model.ts`)) as { Model: new () => CompiledModel };
  const m = new Model();
  initModel(m);
  const params: Record<string, { shape: readonly number[]; data: Float32Array }> = {};
  for (const p of m.desc.params) params[p.name] = { shape: p.shape, data: m.params[p.name]!.slice() };
  return { m, params };
}

async function benchInputs(name: MnistModelName): Promise<{ model: BenchModel; batches: BenchBatch[] }> {
  const { m, params: all } = await initialModel(name);
  const { trained, ...hp } = specHyperparameters(name);
  // The phase's own parameters only, where it lists them (sda's fine-tuning
  // leaves the dAs' visible biases out).
  const params = trained
    ? Object.fromEntries(
        trained.map((n) => {
          if (!all[n]) throw new Error(`${name}: phase ${hp.phase} trains ${n}, which generated/${name} has not`);
          return [n, all[n]];
        }),
      )
    : all;
  const label = m.desc.inputs.find((i) => i.dtype === "i32");
  const model: BenchModel = { name, classes: label?.classes ?? 10, ...hp, params };
  const splits = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
  const it = new BatchIterator(splits.train, m.desc.inputs, hp.batchSize, { shuffle: false, seed: 1 });
  it.setEpoch(0);
  const x = m.desc.inputs.find((i) => i.dtype === "f32")!.name;
  const y = label!.name;
  const batches: BenchBatch[] = [];
  const n = Math.min(it.numBatches, Math.max(1, Math.ceil(DISTINCT_EXAMPLES / hp.batchSize)));
  for (let k = 0; k < n; k++) {
    const b = it.fill(k);
    batches.push({ x: (b[x] as Float32Array).slice(), y: (b[y] as Int32Array).slice() });
  }
  return { model, batches };
}

/** da's and dnn's inputs: the spec's model, the first minibatches in order
 * (as for the other MNIST models) and each step's uniforms. */
async function extraInputs(name: ExtraModelName): Promise<{ model: ExtraModel; batches: ExtraBatch[] }> {
  const { m, params } = await initialModel(name);
  const model: ExtraModel = { ...extraSpec(name), params };
  checkExtraDraws(readFileSync(new URL(`../generated/${name}/model.ts`, import.meta.url), "utf8"), model);
  const splits = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
  const it = new BatchIterator(splits.train, m.desc.inputs, model.batchSize, { shuffle: false, seed: 1 });
  it.setEpoch(0);
  const x = m.desc.inputs.find((i) => i.dtype === "f32")!.name;
  const y = m.desc.inputs.find((i) => i.dtype === "i32")?.name;
  const batches: ExtraBatch[] = [];
  const n = distinctBatches(name, Math.min(it.numBatches, Math.max(1, Math.ceil(DISTINCT_EXAMPLES / model.batchSize))));
  for (let k = 0; k < n; k++) {
    const b = it.fill(k);
    batches.push({ x: (b[x] as Float32Array).slice(), y: y ? (b[y] as Int32Array).slice() : new Int32Array(0), uniforms: stepUniforms(m.desc.seed, k, model.draws) });
  }
  return { model, batches };
}

/** rnnslu's inputs: the spec's model and the first RNN_SENTENCES training
 * sentences, as the atis dataset gives them to the generated trainer. */
async function rnnInputs(): Promise<{ model: RnnModel; sentences: Sentence[] }> {
  const { m, params } = await initialModel("rnnslu");
  const model: RnnModel = { ...rnnSpec(), params };
  const splits = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
  const named = splits.train.named;
  if (!named?.words || !named.labels || !named.length) throw new Error("rnnslu: the atis dataset gave no words/labels/length tensors");
  const W = model.maxLength * model.window;
  const T = model.maxLength;
  const sentences: Sentence[] = [];
  for (let k = 0; k < Math.min(RNN_SENTENCES, splits.train.n); k++) {
    sentences.push({
      words: (named.words.data as Int32Array).slice(k * W, (k + 1) * W),
      labels: (named.labels.data as Int32Array).slice(k * T, (k + 1) * T),
      length: named.length.data[k]!,
    });
  }
  return { model, sentences };
}

/** lstm's inputs: the spec's model and the first LSTM_BATCHES training
 * minibatches as the rt-polarity dataset gives them to the generated
 * trainer, each with the dropout mask our trainer draws at that step. */
async function lstmInputs(): Promise<{ model: LstmModel; batches: LstmBatch[] }> {
  const { m, params } = await initialModel("lstm");
  const { seed, ...spec } = lstmSpec();
  if (seed !== m.desc.seed) throw new Error(`lstm: spec seed ${seed}, generated model ${m.desc.seed} (recompile)`);
  const model: LstmModel = { ...spec, params };
  const B = model.batchSize;
  const H = B * model.hidden;
  checkGeneratedDropout(readFileSync(new URL("../generated/lstm/model.ts", import.meta.url), "utf8"), model);
  const salts = dropoutSalts(model);
  const splits = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
  const named = splits.train.named;
  if (!named?.words || !named.mask || !named.length || !named.label) throw new Error("lstm: the rt-polarity dataset gave no words/mask/length/label tensors");
  const L = model.maxLength;
  const batches: LstmBatch[] = [];
  for (let k = 0; k < Math.min(LSTM_BATCHES, Math.floor(splits.train.n / B)); k++) {
    const length = (named.length.data as Int32Array).slice(k * B, (k + 1) * B);
    batches.push({
      words: (named.words.data as Int32Array).slice(k * B * L, (k + 1) * B * L),
      mask: (named.mask.data as Float32Array).slice(k * B * L, (k + 1) * B * L),
      length,
      label: (named.label.data as Int32Array).slice(k * B, (k + 1) * B),
      steps: Math.min(L, Math.max(...length)),
      keep: keepMask(seed, salts.proj, k, H, model.dropout),
      embKeep: model.embDropout > 0 ? keepMask(seed, salts.emb, k, Math.min(L, Math.max(...length)) * B * model.dim, model.embDropout) : new Float32Array(0),
    });
  }
  return { model, batches };
}

/** rnnrbm's inputs: the spec's model and the first RBM_PIECES training
 * pieces as the nottingham dataset gives them to the generated trainer,
 * each with the uniforms our trainer draws at that step. */
async function rnnRbmInputs(): Promise<{ model: RnnRbmModel; pieces: RbmPiece[] }> {
  const { m, params } = await initialModel("rnnrbm");
  const { seed, ...spec } = rnnRbmSpec();
  if (seed !== m.desc.seed) throw new Error(`rnnrbm: spec seed ${seed}, generated model ${m.desc.seed} (recompile)`);
  const model: RnnRbmModel = { ...spec, params };
  checkGeneratedDraws(readFileSync(new URL("../generated/rnnrbm/model.ts", import.meta.url), "utf8"), spec);
  const splits = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
  const named = splits.train.named;
  if (!named?.roll || !named.length || !named.mask) throw new Error("rnnrbm: the nottingham dataset gave no roll/length/mask tensors");
  const F = model.maxFrames * model.notes;
  const T = model.maxFrames;
  const pieces: RbmPiece[] = [];
  for (let k = 0; k < Math.min(RBM_PIECES, splits.train.n); k++) {
    pieces.push({
      roll: (named.roll.data as Float32Array).slice(k * F, (k + 1) * F),
      mask: (named.mask.data as Float32Array).slice(k * T, (k + 1) * T),
      length: Math.min(T, named.length.data[k]!),
      ...pieceDraws(seed, k, spec),
    });
  }
  return { model, pieces };
}

async function runStep(run: StepRunner): Promise<number | undefined> {
  const r = run.step();
  const v = r instanceof Promise ? await r : r;
  return typeof v === "number" ? v : undefined;
}

export async function measure(req: MeasureRequest, emit: (e: MeasureEvent) => void): Promise<void> {
  const t0 = performance.now();
  const elapsed = (): number => (performance.now() - t0) / 1000;
  if (req.impl === "torch") {
    // PyTorch times its own steps in Python (bench/peers/torch.ts).
    const { measureTorch } = await import("./peers/torch.ts");
    if (req.model === "lstm") {
      const { model, batches } = await lstmInputs();
      emit({ kind: "note", text: `lstm: rt-polarity, the first ${describeBatches(batches, model.batchSize)} of the training split, in order; every implementation applies the dropout mask our trainer draws at that step (bench/peers/lstm.ts)` });
      return measureTorch({ kind: "lstm", model, batches }, req, emit);
    }
    if (isExtra(req.model)) {
      const { model, batches } = await extraInputs(req.model);
      return measureTorch({ kind: "extra", model, batches }, req, emit);
    }
    if (req.model === "rnnslu") {
      const { model, sentences } = await rnnInputs();
      emit({ kind: "note", text: `rnnslu: ATIS fold 3, the first ${describeSentences(sentences)} of the training split, in order, one a step` });
      return measureTorch({ kind: "rnn", model, sentences }, req, emit);
    }
    if (req.model === "rnnrbm") {
      const { model, pieces } = await rnnRbmInputs();
      emit({ kind: "note", text: `rnnrbm: Nottingham, the first ${describePieces(pieces)} of the training split, in order, one a step; every implementation samples its Gibbs chains with the uniforms our trainer draws at that step (bench/peers/rnnrbm.ts)` });
      return measureTorch({ kind: "rnnrbm", model, pieces }, req, emit);
    }
    const { model, batches } = await benchInputs(req.model);
    return measureTorch({ kind: "mnist", model, batches }, req, emit);
  }
  let peer: Peer;
  if (req.impl === "ours") {
    peer = (await import("./peers/ours.ts")).oursPeer(req.backend);
  } else {
    const load = PEERS[req.impl];
    if (!load) throw new Error(`unknown implementation "${req.impl}" (ours, ${Object.keys(PEERS).join(", ")})`);
    peer = await load();
  }
  // `cycle`: a repeat's steps are a whole number of passes over the inputs
  // (1: any number, the MNIST minibatches being alike).
  let run: StepRunner;
  let cycle = 1;
  let tp: number;
  if (req.model === "rnnslu") {
    const { model, sentences } = await rnnInputs();
    if (!peer.prepareRnn) throw new Error(`${peer.name} does not implement the RNN`);
    emit({ kind: "note", text: `rnnslu: ATIS fold 3, the first ${describeSentences(sentences)} of the training split, in order, one a step` });
    cycle = sentences.length;
    tp = performance.now();
    run = await peer.prepareRnn(model, sentences);
  } else if (req.model === "lstm") {
    const { model, batches } = await lstmInputs();
    if (!peer.prepareLstm) throw new Error(`${peer.name} does not implement the LSTM`);
    emit({ kind: "note", text: `lstm: rt-polarity, the first ${describeBatches(batches, model.batchSize)} of the training split, in order; every implementation applies the dropout mask our trainer draws at that step (bench/peers/lstm.ts)` });
    cycle = batches.length;
    tp = performance.now();
    run = await peer.prepareLstm(model, batches);
  } else if (req.model === "rnnrbm") {
    const { model, pieces } = await rnnRbmInputs();
    if (!peer.prepareRnnRbm) throw new Error(`${peer.name} does not implement the RNN-RBM`);
    emit({ kind: "note", text: `rnnrbm: Nottingham, the first ${describePieces(pieces)} of the training split, in order, one a step; every implementation samples its Gibbs chains with the uniforms our trainer draws at that step (bench/peers/rnnrbm.ts)` });
    cycle = pieces.length;
    tp = performance.now();
    run = await peer.prepareRnnRbm(model, pieces);
  } else if (isExtra(req.model)) {
    const { model, batches } = await extraInputs(req.model);
    if (!peer.prepareExtra) throw new Error(`${peer.name} does not implement ${req.model}`);
    const what = { da: "corrupts the pixels", dnn: "drops the units", newmu_convnet: "drops the units", rbm: "samples its persistent chain (PCD-15) with the uniforms", dbn: "samples the first RBM's CD-1 chain with the uniforms" }[req.model];
    emit({ kind: "note", text: `${req.model}: every implementation ${what} our trainer does at that step (the uniforms it draws, bench/peers/mnist-extra.ts)` });
    tp = performance.now();
    run = await peer.prepareExtra(model, batches);
  } else {
    const { model, batches } = await benchInputs(req.model);
    tp = performance.now();
    run = await peer.prepare(model, batches);
  }
  emit({ kind: "ready", prepareMs: performance.now() - tp });
  const note = peer.note?.();
  if (note) emit({ kind: "note", text: note });

  // Warm-up (one-time costs: compilation, allocation, JIT tiers).
  const warm: number[] = [];
  const start = elapsed();
  while (warm.length < Math.max(WARMUP_STEPS, cycle) || elapsed() - start < WARMUP_SECONDS) {
    const ts = performance.now();
    const cost = await runStep(run);
    const ms = performance.now() - ts;
    warm.push(ms);
    emit({ kind: "warmup", ms, ...(cost !== undefined ? { cost } : {}) });
    if (elapsed() > WARMUP_SHARE * req.limit) break;
  }
  const tensors = run.liveTensors?.();

  // Steps per repeat fill `seconds` at the settled step time; repeats are
  // cut to what fits in the time left (90 % of the limit).
  // Sentences of different lengths: the median step (the fastest would be
  // the shortest sentence's, and the mean carries jit compilations).
  const sorted = warm.slice(1).sort((a, b) => a - b);
  const stepMs = warm.length <= 1 ? warm[0]! : cycle > 1 ? sorted[sorted.length >> 1]! : sorted[0]!;
  const wanted = req.steps > 0 ? req.steps : Math.max(1, Math.round((req.seconds * 1000) / stepMs));
  const steps = Math.ceil(wanted / cycle) * cycle;
  const left = 0.9 * req.limit - elapsed();
  const repeats = Math.max(0, Math.min(req.repeats, Math.floor((left * 1000) / (steps * stepMs))));
  emit({ kind: "plan", steps, repeats });
  for (let r = 0; r < repeats; r++) {
    const ts = performance.now();
    for (let s = 0; s < steps; s++) {
      const v = run.step();
      if (v instanceof Promise) await v;
    }
    emit({ kind: "repeat", steps, ms: performance.now() - ts });
  }
  if (run.profile) emit({ kind: "profile", kernels: await run.profile() });
  const after = run.liveTensors?.();
  if (tensors !== undefined && after !== undefined && after > tensors) {
    emit({ kind: "note", text: `${peer.name}: live tensors grew from ${tensors} to ${after} during the timed steps (a leak)` });
  }
  await run.dispose?.();
  emit({ kind: "done" });
}

// Child-process entry: the request comes as the JSON argument after --child,
// events go back over the IPC channel (each send awaited before exiting).
const i = process.argv.indexOf("--child");
if (i >= 0 && process.send) {
  const sent: Promise<void>[] = [];
  const send = (e: MeasureEvent): void => {
    sent.push(new Promise((resolve) => process.send!(e, undefined, undefined, () => resolve())));
  };
  try {
    await measure(JSON.parse(process.argv[i + 1]!) as MeasureRequest, send);
  } catch (e) {
    send({ kind: "error", message: errorMessage(e) });
  }
  await Promise.all(sent);
  process.exit(0);
}
