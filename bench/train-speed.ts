// Training throughput of the generated trainers against their peers, in one run:
// for each model, our generated trainer (generated/<model>/model.ts) and then
// each peer (bench/peers/: PyTorch where a python3 imports torch (logreg,
// mlp, lenet, lstm), TensorFlow.js on its wasm and cpu backends,
// jax-js under jit on its wasm device) train the spec's model, from the same
// initial parameters on the same minibatches of the embedded MNIST digits
// (sda: the stacked denoising autoencoder's fine-tuning step, its phase
// "finetune", from the initial parameters: the pretraining phases do not run;
// rnnslu, the Elman RNN: on the same ATIS sentences, one a step, see
// bench/peers/rnn.ts; examples/s is then sentences/s; lstm: on the same
// minibatches of 16 rt-polarity sentences with the same dropout masks, see
// bench/peers/lstm.ts; rnnrbm: on the same Nottingham pieces, one a step, with
// the same Gibbs-chain uniforms, see bench/peers/rnnrbm.ts; examples/s is
// then pieces/s).
// A measurement is one whole SGD step (forward, gradient, update) repeated:
// a warm-up, then several timed repeats whose length adapts to the step
// time; the table gives the median examples/s, the spread, and the ratio
// ours/peer (> 1: ours is faster).
//
//   npm run bench                                   # logreg, mlp, lenet, da, sda, dnn, rbm, dbn, newmu_convnet, rnnslu, lstm, rnnrbm × ours, torch, tfjs-wasm, tfjs-cpu, jax
//   npm run bench -- --models rnnslu --repeats 5
//   npm run bench -- --models lstm --repeats 3
//   npm run bench -- --models rnnrbm --repeats 3
//   npm run bench -- --models mlp --peers ours,jax --repeats 9
//   npm run bench -- --models sda --peers ours,torch,tfjs-wasm,jax --repeats 3
//   npm run bench -- --backend cpu,webgpu --peers ours   # our WebGPU program too (llvmpipe without a GPU)
//   npm run bench -- --models lenet --peers ours,tfjs-cpu --limit 600   # let a very slow peer finish
//
// Options: --models (logreg,mlp,lenet,da,sda,dnn,rbm,dbn,newmu_convnet,rnnslu,lstm,rnnrbm), --peers (ours,torch,tfjs-wasm,
// tfjs-cpu,jax; also jax-eager), --backend (ours' backends: cpu, webgpu),
// --repeats (5), --steps (steps per repeat; default: enough for --seconds,
// 1 s; for rnnslu, lstm and rnnrbm rounded up to whole passes over their inputs), --limit
// (seconds one measurement may take, including its warm-up, default 60: a
// measurement past it is stopped and reports what it finished), --rounds
// (1: each implementation measured once; R > 1: the model's implementations
// measured in turn R times, ours then each peer, and each peer's ratio taken
// per round against the ours of that round, the table giving the median of
// the rounds' ratios and their range — on a machine whose neighbours move a
// whole minute's speed by ±25 %, ratios of adjacent measurements hold
// better than one measurement each).
//
// Each measurement runs in a child process of its own (bench/measure.ts), so
// the libraries do not share a heap, a crash or a hang costs one row, and a
// peer that fails to load reports its error in the notes.
// Not a test: nothing is asserted; the figures go in docs/performance.md.
import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import { classTable } from "./gpu-classes.ts";
import { PEERS } from "./measure.ts";
import type { MeasureEvent, MeasureRequest } from "./measure.ts";
import { BENCH_MODELS, specBatchSize } from "./peers/peer.ts";
import type { BenchModelName } from "./peers/peer.ts";

// torch: PyTorch in Python (bench/peers/torch.ts), where python3 imports it;
// elsewhere its rows say why not.
const DEFAULT_PEERS = ["ours", "torch", "tfjs-wasm", "tfjs-cpu", "jax"];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

function list(name: string, fallback: readonly string[]): string[] {
  return arg(name, fallback.join(","))
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

interface Outcome {
  readonly model: BenchModelName;
  readonly label: string;
  readonly batch: number;
  readonly events: MeasureEvent[];
  /** Why the measurement ended early, if it did. */
  readonly failure?: string;
}

/** Runs one measurement in a child process, killed after `limit` seconds. */
function runChild(req: MeasureRequest, label: string, batch: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const events: MeasureEvent[] = [];
    let output = "";
    const child = fork(fileURLToPath(new URL("./measure.ts", import.meta.url)), ["--child", JSON.stringify(req)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const keep = (d: Buffer): void => {
      output = (output + d.toString()).slice(-4000);
    };
    child.stdout!.on("data", keep);
    child.stderr!.on("data", keep);
    child.on("message", (m) => events.push(m as MeasureEvent));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, req.limit * 1000);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      const error = events.find((e) => e.kind === "error");
      let failure: string | undefined;
      if (error?.kind === "error") failure = error.message;
      else if (timedOut) {
        const warm = events.filter((e) => e.kind === "warmup").length;
        failure = `stopped at the --limit of ${req.limit} s ${warm === 0 ? "before its first step finished" : `after ${warm} warm-up step${warm > 1 ? "s" : ""}`} (raise --limit for a figure)`;
      }
      else if (!events.some((e) => e.kind === "done")) {
        const last = output.trim().split("\n").filter((l) => l.trim() && !l.startsWith("    at ")).pop() ?? "";
        failure = `exited (${signal ?? `code ${code}`}) before finishing${last ? `: ${last.slice(0, 200)}` : ""}`;
      }
      resolve({ model: req.model, label, batch, events, ...(failure ? { failure } : {}) });
    });
  });
}

interface Summary {
  /** Median examples/s of the timed repeats, or a lower bound from the warm-up. */
  readonly rate?: number;
  readonly bound?: boolean;
  readonly min?: number;
  readonly max?: number;
  readonly shape: string;
  readonly costs: number[];
}

/** `shown`: how many first costs to keep for the check; `varied`: steps
 * differ in size (rnnslu's sentences), so that the fastest warm-up step is
 * the shortest sentence's and bounds nothing. */
function summarize(o: Outcome, shown: number, varied: boolean): Summary {
  const rates = o.events.flatMap((e) => (e.kind === "repeat" ? [(e.steps * o.batch) / (e.ms / 1000)] : [])).sort((a, b) => a - b);
  const warm = o.events.flatMap((e) => (e.kind === "warmup" ? [e] : []));
  const costs = warm.flatMap((e) => (e.cost !== undefined ? [e.cost] : [])).slice(0, shown);
  const plan = o.events.find((e) => e.kind === "plan");
  if (rates.length > 0) {
    const n = rates.length;
    const steps = plan?.kind === "plan" ? plan.steps : 0;
    const wanted = plan?.kind === "plan" ? plan.repeats : n;
    return { rate: median(rates), min: rates[0]!, max: rates[n - 1]!, shape: `${steps}×${n}${n < wanted ? ` of ${wanted}` : ""}`, costs };
  }
  if (warm.length > 0) {
    // No timed repeat: the fastest warm-up step (which still carries
    // one-time costs) bounds the settled rate from below; with steps of
    // varied size, the warm-up's mean rate (its sentences' mix of lengths
    // is only roughly that of the timed passes).
    const ms = varied ? warm.reduce((a, w) => a + w.ms, 0) / warm.length : Math.min(...warm.map((w) => w.ms));
    return { rate: (o.batch * 1000) / ms, bound: true, shape: `${warm.length} warm-up`, costs };
  }
  return { shape: "—", costs };
}

function fmtRate(r: number): string {
  return r >= 100 ? Math.round(r).toLocaleString("en-US") : r >= 10 ? r.toFixed(1) : r.toFixed(2);
}

/** The first costs of each implementation against ours' (the check that
 * they train the same model): the largest relative difference. */
function costCheck(outcomes: readonly { o: Outcome; s: Summary }[]): string | undefined {
  const ref = outcomes.find(({ o, s }) => o.label.startsWith("ours") && s.costs.length > 0);
  if (!ref) return undefined;
  const diffs = outcomes
    .filter(({ o, s }) => o !== ref.o && s.costs.length > 0)
    .map(({ o, s }) => {
      const n = Math.min(s.costs.length, ref.s.costs.length);
      let worst = 0;
      for (let i = 0; i < n; i++) worst = Math.max(worst, Math.abs(s.costs[i]! - ref.s.costs[i]!) / Math.abs(ref.s.costs[i]!));
      return `${o.label} ${worst.toExponential(1)}${worst > 1e-4 ? " (DISAGREES: > 1e-4)" : ""}`;
    });
  return diffs.length > 0 ? `largest relative difference from ${ref.o.label}'s: ${diffs.join("; ")}` : undefined;
}

/** The median of sorted numbers. */
function median(sorted: readonly number[]): number {
  const n = sorted.length;
  return n % 2 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
}

function fmtRatio(r: number): string {
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`;
}

async function main(): Promise<void> {
  const models = list("models", BENCH_MODELS);
  const impls = list("peers", DEFAULT_PEERS);
  const backends = list("backend", ["cpu"]);
  const base = { repeats: Number(arg("repeats", "5")), steps: Number(arg("steps", "0")), seconds: Number(arg("seconds", "1")), limit: Number(arg("limit", "60")) };
  const rounds = Number(arg("rounds", "1"));
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number ≥ 1, got ${arg("rounds", "")}`);
  for (const [k, v] of Object.entries(base)) {
    if (!Number.isFinite(v) || v < 0 || (v === 0 && (k === "repeats" || k === "limit"))) throw new Error(`--${k}: expected a number > 0, got ${arg(k, "")}`);
  }
  for (const p of impls) if (p !== "ours" && p !== "torch" && !(p in PEERS)) throw new Error(`--peers: unknown implementation "${p}" (ours, torch, ${Object.keys(PEERS).join(", ")})`);
  for (const m of models) if (!(BENCH_MODELS as readonly string[]).includes(m)) throw new Error(`--models: unknown model "${m}" (${BENCH_MODELS.join(", ")})`);

  const rows: string[] = [];
  const profiles: string[] = [];
  const notes = new Set<string>();
  const problems: string[] = [];
  const t0 = performance.now();
  for (const model of models as BenchModelName[]) {
    const batch = specBatchSize(model);
    const runs = impls.flatMap((impl) => (impl === "ours" ? backends.map((b) => ({ impl, backend: b, label: b === "cpu" ? "ours" : `ours-${b}` })) : [{ impl, backend: "cpu", label: impl }]));
    const outcomes: { o: Outcome; s: Summary }[] = [];
    // Later rounds: each run's rate per round (round 1's outcomes carry the
    // rows, notes and cost check).
    const perRound: (number | undefined)[][] = runs.map(() => []);
    for (let round = 1; round <= rounds; round++) for (const [ri, r] of runs.entries()) {
      if (round > 1) {
        process.stderr.write(`${model}/${r.label} (round ${round}): `);
        const o = await runChild({ model, impl: r.impl, backend: r.backend, ...base }, r.label, batch);
        const s = summarize(o, 2, model === "rnnslu" || model === "lstm" || model === "rnnrbm");
        perRound[ri]!.push(s.bound ? undefined : s.rate);
        process.stderr.write(`${s.rate !== undefined ? `${fmtRate(s.rate)} examples/s` : "no figure"}\n`);
        continue;
      }
      process.stderr.write(`${model}/${r.label}: `);
      const o = await runChild({ model, impl: r.impl, backend: r.backend, ...base }, r.label, batch);
      const varied = model === "rnnslu" || model === "lstm" || model === "rnnrbm";
      // sda: W4 starts at zero, so the first update moves only the output
      // layer; the third cost is the first that the hidden layers' update
      // reaches.
      const s = summarize(o, varied || model === "sda" ? 3 : 2, varied);
      outcomes.push({ o, s });
      perRound[ri]!.push(s.bound ? undefined : s.rate);
      for (const e of o.events) {
        if (e.kind === "note") notes.add(e.text);
        if (e.kind === "profile") profiles.push("", ...classTable(`${model} (${r.label})`, e.kernels));
      }
      if (o.failure) problems.push(`${model}/${r.label}: ${o.failure}`);
      process.stderr.write(`${s.rate !== undefined ? `${s.bound ? "≥ " : ""}${fmtRate(s.rate)} examples/s` : "no figure"}${o.failure ? ` (${o.failure})` : ""}\n`);
    }
    const ref = outcomes.find(({ o, s }) => o.label.startsWith("ours") && s.rate !== undefined && !s.bound);
    const refIndex = ref ? outcomes.indexOf(ref) : -1;
    for (const [oi, { o, s }] of outcomes.entries()) {
      const ours = o.label.startsWith("ours");
      let ratio = ours || !ref || s.rate === undefined ? "—" : `${s.bound ? "≤ " : ""}${fmtRatio(ref.s.rate! / s.rate)}`;
      if (rounds > 1 && !ours && refIndex >= 0) {
        const rs = perRound[oi]!.flatMap((rate, k) => (rate !== undefined && perRound[refIndex]![k] !== undefined ? [perRound[refIndex]![k]! / rate] : []));
        if (rs.length > 0) {
          const sorted = [...rs].sort((a, b) => a - b);
          ratio = `${fmtRatio(median(sorted))} (${rs.map(fmtRatio).join(", ")})`;
        }
      }
      const rate = s.rate === undefined ? "—" : `${s.bound ? "≥ " : ""}${fmtRate(s.rate)}`;
      const spread = s.min !== undefined ? `${fmtRate(s.min)}–${fmtRate(s.max!)}` : "—";
      rows.push(`| ${model} | ${o.label} | ${batch} | ${rate} | ${spread} | ${ratio} | ${s.shape} |`);
    }
    const costs = outcomes.filter(({ s }) => s.costs.length > 0).map(({ o, s }) => `${o.label} ${s.costs.map((c) => c.toFixed(5)).join(", ")}`);
    const what =
      model === "rnnslu"
        ? "sentence cost of the first three steps (same start, same sentences)"
        : model === "lstm"
          ? "minibatch cost of the first three steps (same start, same batches, same dropout masks)"
          : model === "rnnrbm"
            ? "monitor (the reported figure) of the first three steps (same start, same pieces, same Gibbs uniforms)"
            : model === "da" || model === "dnn" || model === "newmu_convnet"
              ? "minibatch cost of the first two steps (same start, same batches, same random draws)"
              : model === "dbn"
                ? "reconstruction cross-entropy (the reported figure) of the first two steps of the first RBM's CD-1 (same start, same batches, same Gibbs uniforms)"
              : model === "rbm"
                ? "pseudo-likelihood (the reported figure) of the first two steps (same start, same batches, same Gibbs uniforms)"
              : model === "sda"
                ? "minibatch cost of the first three fine-tuning steps (same start, no pretraining, same batches; W4 starts at zero, so the third is the first the hidden layers' update reaches)"
              : "minibatch cost of the first two steps (same start, same batches)";
    const check = costCheck(outcomes);
    if (costs.length > 0) notes.add(`${model}: ${what}: ${costs.join("; ")}${check ? `; ${check}` : ""}`);
  }
  const out = [
    "| model | implementation | batch | examples/s (median) | min–max | ratio ours/peer | steps×repeats |",
    "| --- | --- | --- | --- | --- | --- | --- |",
    ...rows,
    "",
    `examples/s: batch × steps / wall time of one timed repeat of whole SGD steps (forward, gradient, update), after a warm-up; ` +
      (rounds > 1
        ? `ratio: the median over ${rounds} rounds of the round's "ours" median / the peer's, each round's in brackets (> 1: ours faster); the rates are round 1's. `
        : `ratio: the median of the model's first "ours" row / the peer's (> 1: ours faster). `) +
      `"≥": no timed repeat fitted in --limit ${base.limit} s, the fastest warm-up step bounds the rate from below (rnnslu, lstm, rnnrbm: the mean rate of the warm-up steps). ` +
      `Every implementation starts from the generated model's initial parameters and walks the same minibatches; ` +
      `data tensors are made before timing; each measurement runs in its own process.`,
    ...[...notes].map((n) => `- ${n}`),
    ...problems.map((p) => `- ${p}`),
    `- total ${((performance.now() - t0) / 1000).toFixed(0)} s`,
    ...(profiles.length > 0
      ? [
          "",
          "Our WebGPU step by kernel class: each kernel of the step timed alone (20 dispatches in one pass, one submit, the fastest of three, an empty submit's time taken off; bench/gpu-classes.ts), so the sum leaves out what overlapping and the per-step upload, submit and readback add; GFLOP/s counts 2 × the multiply-adds of products and convolutions.",
          ...profiles,
        ]
      : []),
  ];
  process.stdout.write(out.join("\n") + "\n");
  process.exit(0);
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
