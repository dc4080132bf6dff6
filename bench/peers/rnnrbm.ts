// The RNN-RBM of specs/rnnrbm.yaml (rnnrbm.py, "Modeling and generating
// sequences of polyphonic music with the RNN-RBM") as the peers of
// bench/train-speed.ts train it: what they are given (the spec's sizes and
// learning rate, the generated model's initial parameters, the pieces with
// the uniform draws of their Gibbs chains) and the checks that the spec still
// is the model they implement.
//
// One step trains on one piece of L ≤ 100 frames v [L, 88]:
//   u_0 = 0;  for t < L:  bv_t = bv + u·Wuv,  bh_t = bh + u·Wuh,
//                         u = tanh(bu + v_t·Wvu + u·Wuu)            (the RNN)
//   v⁰ = v;  vᵏ⁺¹ = [U₂ < σ([U₁ < σ(vᵏ·W + bh)]·Wᵀ + bv)]           (CD-15, all frames at once)
//   FE(x) = −Σ x·bv − Σ softplus(x·W + bh)   per frame
//   cost = Σ_t FE(v)_t − FE(v¹⁵)_t / L     (v¹⁵ held constant)
// then SGD (lr 0.001) on all eight parameters. The step's reported figure
// (what trainStep returns, the spec's `report: monitor`) is the monitor:
//   a = [U₃ < σ(v¹⁵·W + bh)]·Wᵀ + bv;  −Σ v·log σ(a) + (1−v)·log(1−σ(a)) / L
// computed, like the cost, from the parameters before the update.
//
// Random draws: the generated trainer draws its Bernoulli samples from
// Philox keyed by (seed, salt, step, iteration, element): salt 1 the hidden
// units of Gibbs step k ([100, 150]), salt 2 the visible ones ([100, 88]),
// salt 3 the monitor's hidden units (iteration 0). The peers are handed the
// same uniforms, one set per piece (the step that trains on it), so that
// every implementation walks the same chain and the reported figures can be
// compared step by step. The generated trainer pays for its ~372,000 Philox
// draws inside the step; the peers get theirs pre-drawn (not timed), which
// favours the peers.
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import * as rng from "../../runtime/rng/philox.ts";

/** One piece as the generated model takes it, plus its pre-drawn uniforms. */
export interface RbmPiece {
  /** [maxFrames, notes] the piano roll, 0 past the piece's end. */
  readonly roll: Float32Array;
  /** [maxFrames] 1 on the piece's frames. */
  readonly mask: Float32Array;
  /** Frames in the piece: the steps the RNN runs. */
  readonly length: number;
  /** [gibbs, maxFrames, hidden] uniforms of the hidden samples (salt 1). */
  readonly uHidden: Float32Array;
  /** [gibbs, maxFrames, notes] uniforms of the visible samples (salt 2). */
  readonly uVisible: Float32Array;
  /** [maxFrames, hidden] uniforms of the monitor's hidden sample (salt 3). */
  readonly uMonitor: Float32Array;
}

export interface RnnRbmModel {
  readonly name: "rnnrbm";
  readonly maxFrames: number;
  readonly notes: number;
  readonly hidden: number;
  readonly recurrent: number;
  /** CD-k's k: Gibbs steps from the data. */
  readonly gibbs: number;
  readonly lr: number;
  /** Initial parameters in the generated model's layout (read-only): W
   * [notes, hidden], bv [notes], bh [hidden], Wuh [recurrent, hidden], Wuv
   * [recurrent, notes], Wvu [notes, recurrent], Wuu [recurrent, recurrent],
   * bu [recurrent]. */
  readonly params: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

interface RbmSpecFile {
  seed: number;
  data: { batch_size: number; inputs: Record<string, { shape: number[] }> };
  graph: Record<string, string | { scan?: { length: number; steps?: string; body: Record<string, string> } }>;
  losses: Record<string, { expr?: { value: string } }>;
  phases: { loss: string; report?: string; optimizer: { sgd?: { lr: number } } }[];
  params: Record<string, { shape: number[] }>;
}

/** Spaces dropped, so that the checks below do not depend on layout. */
const squash = (s: string): string => s.replace(/\s+/g, "");

/** Reads specs/rnnrbm.yaml and checks that it is the model the peers
 * implement (they are hand-written: a changed spec must fail loudly here,
 * not be benchmarked as something else). */
export function rnnRbmSpec(specPath = "specs/rnnrbm.yaml"): Omit<RnnRbmModel, "params"> & { readonly seed: number } {
  const spec = parse(readFileSync(specPath, "utf8")) as RbmSpecFile;
  const fail = (what: string): never => {
    throw new Error(`${specPath}: ${what}; bench/peers implement the RNN-RBM of rnnrbm.py (update bench/peers/rnnrbm.ts and the peers with the spec)`);
  };
  const phase = spec.phases[0]!;
  const sgd = phase.optimizer.sgd;
  if (!sgd || Object.keys(phase.optimizer).length !== 1) fail("the first phase's optimizer is not plain SGD");
  if (spec.data.batch_size !== 1) fail("the batch is not one piece");
  if (phase.report !== "monitor") fail("the first phase does not report the monitor");
  const scanOf = (n: string): { length: number; steps?: string; body: Record<string, string> } => {
    const g = spec.graph[n];
    return (typeof g === "object" ? g.scan : undefined) ?? fail(`no scan ${n}`);
  };
  const rnn = scanOf("rnn");
  const want: Record<string, string> = { bv_t: "bv+u@Wuv", bh_t: "bh+u@Wuh", u: "tanh(bu+v_t@Wvu+u@Wuu)" };
  for (const [k, v] of Object.entries(want)) if (squash(rnn.body[k] ?? "") !== v) fail(`the RNN body's ${k} is not ${v}`);
  if (rnn.steps !== "length") fail("the RNN does not run `length` steps");
  const gibbs = scanOf("gibbs");
  if (squash(gibbs.body.vk ?? "") !== "bernoulli(sigmoid(bernoulli(sigmoid(vk@W+bh_all))@W.T+bv_all))") fail("the Gibbs step is not rnnrbm.py's");
  const exact: Record<string, string> = {
    v_sample: "stop_gradient(v_chain)",
    fe_data: "-sum(v*bv_all,1)-sum(softplus(v@W+bh_all),1)",
    fe_sample: "-sum(v_sample*bv_all,1)-sum(softplus(v_sample@W+bh_all),1)",
    a_mean: "bernoulli(sigmoid(v_sample@W+bh_all))@W.T+bv_all",
    monitor: "-sum(m*(v*softplus(-a_mean)+(1-v)*softplus(a_mean)))/frames",
  };
  for (const [k, v] of Object.entries(exact)) if (squash(String(spec.graph[k])) !== v) fail(`${k} is not ${v}`);
  if (squash(spec.losses[phase.loss]?.expr?.value ?? "") !== "sum(reshape(m,100)*(fe_data-fe_sample))/frames") fail("the loss is not the masked free-energy difference per frame");
  const shapeOf = (n: string): number[] => spec.params[n]?.shape ?? fail(`no parameter ${n}`);
  const [notes, hidden] = shapeOf("W") as [number, number];
  const [recurrent] = shapeOf("Wuu") as [number];
  const [maxFrames] = spec.data.inputs.roll?.shape ?? fail("no input roll");
  return { name: "rnnrbm", seed: spec.seed, maxFrames: maxFrames!, notes, hidden, recurrent, gibbs: gibbs.length, lr: sgd!.lr };
}

/** The uniforms the generated trainer draws at `step` (see the header). */
export function pieceDraws(seed: number, step: number, m: Omit<RnnRbmModel, "params">): Pick<RbmPiece, "uHidden" | "uVisible" | "uMonitor"> {
  const H = m.maxFrames * m.hidden;
  const V = m.maxFrames * m.notes;
  const uHidden = new Float32Array(m.gibbs * H);
  const uVisible = new Float32Array(m.gibbs * V);
  const uMonitor = new Float32Array(H);
  for (let k = 0; k < m.gibbs; k++) {
    for (let i = 0; i < H; i++) uHidden[k * H + i] = rng.uniform(seed, 1, step, k, i);
    for (let i = 0; i < V; i++) uVisible[k * V + i] = rng.uniform(seed, 2, step, k, i);
  }
  for (let i = 0; i < H; i++) uMonitor[i] = rng.uniform(seed, 3, step, 0, i);
  return { uHidden, uVisible, uMonitor };
}

/** Fails unless generated/rnnrbm/model.ts's training step draws as
 * pieceDraws does (a recompiled spec that moved a salt would silently
 * desynchronise the peers' chains from ours). */
export function checkGeneratedDraws(source: string, m: Omit<RnnRbmModel, "params">): void {
  const H = m.maxFrames * m.hidden;
  const V = m.maxFrames * m.notes;
  // The draws of a step, as compiler/emit/ts/render.ts writes them: the
  // runtime's Philox kernel fills the sample's buffer, the loop compares.
  const fill = (n: number, salt: number, iter: string) => new RegExp(`this\\.k\\.uniformFill\\(\\{ dst: \\d+, n: ${n}, seed: this\\.desc\\.seed, salt: ${salt}, step: step, iter: ${iter} \\}\\)`);
  const want = [fill(H, 1, "t\\$\\d+"), fill(V, 2, "t\\$\\d+"), fill(H, 3, "0")];
  const train = source.slice(source.indexOf("private step0("));
  for (const w of want) {
    if (!w.test(train)) throw new Error(`generated/rnnrbm/model.ts no longer draws as bench/peers/rnnrbm.ts pieceDraws does (missing: ${w.source})`);
  }
}

/** The piece's first `length` rows of a [rows, width] block. */
export function frames(block: Float32Array, length: number, width: number, offset = 0): Float32Array {
  return block.slice(offset, offset + length * width);
}

/** A line on the pieces walked. */
export function describePieces(pieces: readonly RbmPiece[]): string {
  const lengths = pieces.map((p) => p.length);
  const total = lengths.reduce((a, b) => a + b, 0);
  return `${pieces.length} pieces (${Math.min(...lengths)}–${Math.max(...lengths)} frames, ${total} in all)`;
}
