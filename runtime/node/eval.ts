// dlt-eval SPEC [--checkpoint FILE | --last] [--out DIR] [--data DIR] [--dataset NAME] [--fold K] [--backend cpu|webgpu]
// The spec's metrics on the validation and test splits, from a saved
// checkpoint: the best validation model (runs/<model>/best.safetensors) by
// default, the run's last checkpoint with --last, or any file of this spec
// with --checkpoint. Reads nothing but the checkpoint and the data, and
// writes nothing: the run folder is not locked. The checkpoint's trainer
// state (when it has one) says where the run was and whether it was
// resumed. Errors are one line, exit 1.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CompiledModel } from "../compiled-model.ts";
import { CheckpointError } from "../checkpoint/safetensors.ts";
import { BEST_FILE, CHECKPOINT_FILE, decodeSaved } from "../checkpoint/state.ts";
import { DataError } from "../data/dataset.ts";
import { formatMetrics } from "../progress.ts";
import { copyBuffers, Evaluator, initModel } from "../train/model-ops.ts";
import { loadRunData, optionsHelp, parseArgs, UsageError } from "./main.ts";

export const EVAL_OPTIONS: readonly (readonly [string, string])[] = [
  ["--checkpoint FILE", "the parameters to evaluate (default: <run folder>/best.safetensors, the best validation model)"],
  ["--last", "the run's last checkpoint (<run folder>/checkpoint.safetensors)"],
  ["--out DIR", "the run folder (default runs/<model>)"],
  ["--data DIR", "the dataset's files, as for dlt-train"],
  ["--dataset NAME", "another dataset of the spec's layout, as for dlt-train"],
  ["--fold K", "another fold, as for dlt-train"],
  ["--generated DIR", "the model's compiled folder, as for dlt-train"],
  ["--backend cpu|webgpu", "where the evaluation runs"],
  ["--help, -h", "print this help"],
];
const USAGE = `usage: dlt-eval SPEC.yaml [options]\nPrints the spec's metrics on the validation and test splits from a checkpoint.\noptions:\n${optionsHelp(EVAL_OPTIONS)}`;

/** Runs dlt-eval on `model` (undefined: only --help is answered). */
export async function runEval(model: CompiledModel | undefined, argv: readonly string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h") || model === undefined) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let checkpoint: string | undefined;
  let last = false;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--checkpoint") {
      checkpoint = argv[++i];
      if (checkpoint === undefined || checkpoint.startsWith("--")) return usage("--checkpoint needs a file");
    } else if (a === "--last") last = true;
    else if (["--resume", "--overwrite", "--epochs", "--steps", "--checkpoint-every", "--check-grad", "--seed"].includes(a)) return usage(`${a} is a training option; dlt-eval only evaluates`);
    else rest.push(a);
  }
  if (last && checkpoint) return usage("--last and --checkpoint both name the parameters: give one");
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(rest);
  } catch (e) {
    if (e instanceof UsageError) return usage(e.message);
    throw e;
  }
  const desc = model.desc;
  const file = checkpoint ?? join(args.outDir ?? join("runs", desc.name), last ? CHECKPOINT_FILE : BEST_FILE);
  try {
    if (!desc.metrics.length) throw new DataError(`${desc.name} has no metrics to evaluate (the spec's metrics: section is empty)`);
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(file));
    } catch {
      throw new CheckpointError(`${file}: no checkpoint${checkpoint ? "" : last ? ` (train first: dlt-train)` : ` (a run with validation writes it; --last evaluates ${CHECKPOINT_FILE}, --checkpoint FILE another)`}`);
    }
    // State a graph reads starts as the trainer starts it; a full checkpoint
    // brings its own.
    initModel(model);
    const saved = decodeSaved(bytes, file, desc);
    copyBuffers(desc.params, saved.params, model.params);
    if (saved.state) copyBuffers(desc.state, saved.state, model.state);
    const st = saved.trainer;
    const where = st === null ? "" : st.done ? `, a finished run (global step ${st.globalStep})` : `, phase ${desc.phases[st.phase]?.name}, epoch ${st.epoch + 1}, minibatch ${st.batch + 1} (global step ${st.globalStep})`;
    if (saved.specChanged) process.stderr.write(`warning: ${saved.specChanged}\n`);
    model.upload?.();
    const splits = await loadRunData(desc, args);
    const ev = new Evaluator(model);
    process.stdout.write(`${desc.name}: parameters from ${file}${where}; data: ${splits.source}\n`);
    for (const [name, split] of [["validation", splits.valid], ["test", splits.test]] as const) {
      if (split.n === 0) continue;
      process.stdout.write(`${name} (${split.n} examples): ${formatMetrics(await ev.evaluate(split, name))}\n`);
    }
    return 0;
  } catch (e) {
    if (e instanceof DataError || e instanceof CheckpointError) {
      process.stderr.write(`dlt-eval: ${e.message}\n`);
      return 1;
    }
    throw e;
  }
}

function usage(why: string): number {
  process.stderr.write(`dlt-eval: ${why}\n${USAGE}\n`);
  return 2;
}
