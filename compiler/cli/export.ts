// dlt-export: a trained model as ONNX. Loads the spec, builds its inference
// graph (evaluation mode: dropout off) with the outputs asked for, reads the
// parameters from a checkpoint of that spec, and renders the IR through the
// ONNX op table (compiler/emit/onnx). Errors are one line, no stack.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { CheckpointError } from "../../runtime/checkpoint/safetensors.ts";
import { BEST_FILE, CHECKPOINT_FILE } from "../../runtime/checkpoint/state.ts";
import { writeFileAtomic } from "../../runtime/node/atomic-write.ts";
import { debugRequested, topLevelError } from "../../runtime/node/errors.ts";
import { optionsHelp } from "../../runtime/node/main.ts";
import { exportOnnx } from "../api.ts";
import { OPSET } from "../emit/onnx/model.ts";
import type { LoadedSpec } from "../frontend/types.ts";
import { displayPath, loadSpecFile, readSpecFile } from "./files.ts";
import { report } from "./report.ts";

const OPTIONS: readonly (readonly [string, string])[] = [
  ["--checkpoint FILE", "the parameters to export (default: runs/<model>/best.safetensors, the best validation model)"],
  ["--last", "the last checkpoint (runs/<model>/checkpoint.safetensors) instead of the best model"],
  ["--out FILE, -o FILE", "the ONNX file (default: <model>.onnx beside the checkpoint)"],
  ["--output NAME", "a graph name to output (repeatable; default: the probabilities the spec's metrics read)"],
  ["--batch N", "a static batch size (default: a dynamic `batch` dimension)"],
  ["--debug", "print the stack of an internal error"],
  ["--help, -h", "print this help"],
];
const USAGE = `usage: dlt-export SPEC.yaml [options]\nWrites the spec's inference graph with trained parameters as ONNX (opset ${OPSET}).\noptions:\n${optionsHelp(OPTIONS)}`;

class UsageError extends Error {}

interface Args {
  spec: string;
  checkpoint?: string;
  last: boolean;
  out?: string;
  outputs: string[];
  batch: number | "dynamic";
}

function parse(argv: readonly string[]): Args {
  const a: Args = { spec: "", last: false, outputs: [], batch: "dynamic" };
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith("-")) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const x = argv[i]!;
    if (x === "--checkpoint") a.checkpoint = value(i++, x);
    else if (x === "--last") a.last = true;
    else if (x === "--out" || x === "-o") a.out = value(i++, x);
    else if (x === "--output") a.outputs.push(value(i++, x));
    else if (x === "--batch") {
      const v = value(i++, x);
      if (!/^[1-9][0-9]{0,5}$/.test(v)) throw new UsageError(`--batch expects a positive integer, found "${v}"`);
      a.batch = Number(v);
    } else if (x.startsWith("-")) throw new UsageError(`unknown option ${x}`);
    else if (a.spec) throw new UsageError(`one spec at a time (found ${a.spec} and ${x})`);
    else a.spec = x;
  }
  if (!a.spec) throw new UsageError("no spec given");
  if (a.last && a.checkpoint) throw new UsageError("--last and --checkpoint both name the parameters: give one");
  return a;
}

function main(argv: readonly string[]): number {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const args = parse(argv);
  const shown = displayPath(args.spec);
  let ls: LoadedSpec;
  try {
    ls = loadSpecFile(args.spec);
  } catch (e) {
    return report(e, shown);
  }
  const model = ls.spec.model;
  const file = resolve(args.checkpoint ?? join("runs", model, args.last ? CHECKPOINT_FILE : BEST_FILE));
  if (!existsSync(file)) {
    const hint = args.checkpoint ? "" : args.last ? " (train first: npx dlt-train " + shown + ")" : ` (a run with validation writes it; --last exports ${join("runs", model, CHECKPOINT_FILE)}, --checkpoint FILE another)`;
    throw new CheckpointError(`${file}: no checkpoint${hint}`);
  }
  try {
    const out = resolve(args.out ?? join(dirname(file), `${model}.onnx`));
    const onnx = exportOnnx(readSpecFile(args.spec), new Uint8Array(readFileSync(file)), {
      file: shown,
      ...(args.outputs.length ? { outputs: args.outputs } : {}),
      batch: args.batch,
      checkpointName: displayPath(file),
    });
    writeFileAtomic(out, onnx.bytes);
    process.stdout.write(`${shown} → ${displayPath(out)} (ONNX opset ${OPSET}, batch ${onnx.batch}${onnx.batch !== args.batch ? " (the spec's shapes fix it)" : ""}; inputs ${onnx.inputs.join(", ")}; outputs ${onnx.outputs.join(", ")}; parameters from ${displayPath(file)})\n`);
    return 0;
  } catch (e) {
    if (e instanceof CheckpointError) throw e;
    return report(e, shown);
  }
}

const argv = process.argv.slice(2);
try {
  process.exitCode = main(argv.filter((a) => a !== "--debug"));
} catch (e) {
  if (e instanceof UsageError) {
    process.stderr.write(`dlt-export: ${e.message}\n${USAGE}\n`);
    process.exitCode = 2;
  } else if (e instanceof CheckpointError) {
    process.stderr.write(`dlt-export: ${e.message}\n`);
    process.exitCode = 1;
  } else {
    const { line, status } = topLevelError("dlt-export", e, debugRequested(argv));
    process.stderr.write(`${line}\n`);
    process.exitCode = status;
  }
}
