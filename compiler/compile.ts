// The pipeline, end to end: spec → IR (forward, loss, derived gradients,
// updates) → passes → TypeScript. Returns file contents; the CLI writes them.
// Same spec and compiler ⇒ byte-identical output (no timestamps, stable order).

import { buildEval, buildSampler, buildTrainStep } from "./graph/build-model.ts";
import { emitModule } from "./emit/ts/module.ts";
import { emitWebGpuModule, unsupportedWebGpuModule } from "./emit/wgsl/module.ts";
import { commentText, jsString } from "./emit/comments.ts";
import { RUNTIME_NODE_MODULE } from "./emit/runtime-module.ts";
import { sha256Hex } from "./sha256.ts";
import { lowerModel } from "./lower/lower.ts";
import type { Program } from "./lower/program.ts";
import { type Graph, IRError, type SpecLoc } from "./ir/types.ts";
import { optimize } from "./passes/pipeline.ts";
import { resolveInit } from "./graph/inits.ts";
import type { LoadedSpec } from "./frontend/types.ts";
import type { ImageDesc, ModelDescription, ParamDesc, PhaseDesc, PlateauDesc, SplitMetricDesc } from "../runtime/compiled-model.ts";
import { commonOptions } from "./graph/schedules.ts";

/** The compiler's version, written into every generated file's header. */
export const COMPILER_VERSION = "0.1.0";

export interface Compiled {
  readonly name: string;
  readonly desc: ModelDescription;
  readonly steps: Graph[];
  readonly evalGraph: Graph;
  /** What every back end renders (compiler/lower/). */
  readonly program: Program;
  /** What the compile noticed but did not refuse (a model with no WebGPU
   * program: W004). */
  readonly warnings: readonly CompileWarning[];
  /** Relative file name → contents, for generated/<name>/. */
  readonly files: Map<string, string>;
}

export function specHash(text: string): string {
  return sha256Hex(`${COMPILER_VERSION}\n${text}`).slice(0, 16);
}

/** Glorot-uniform bounds from fan-in (first dim) and fan-out (last dim). */
/** Names of the data inputs a graph reads. */
function inputsRead(g: Graph): Set<string> {
  return new Set(g.nodes.filter((n) => n.op === "input").map((n) => (n.attrs as { name: string }).name));
}

/** Whether each phase's step reads every input the evaluation reads: a greedy
 * pretraining phase never sees the labels, and validating its classifier
 * (untrained: 90 % error) would only add noise to the log. */
export function phasesValidate(steps: readonly Graph[], evalGraph: Graph): boolean[] {
  const needed = [...inputsRead(evalGraph)];
  return steps.map((g) => {
    const has = inputsRead(g);
    return needed.every((x) => has.has(x));
  });
}

export function describe(ls: LoadedSpec, stateDescs: ParamDesc[], validates?: readonly boolean[]): ModelDescription {
  const s = ls.spec;
  const batch = s.data.batch_size;
  const phases: PhaseDesc[] = s.phases.map((p, i) => ({
    name: p.name,
    epochs: p.epochs,
    ...(p.draws !== undefined ? { draws: p.draws, ...(p.report !== undefined ? { report: p.report } : {}) } : {}),
    ...(p.record !== undefined ? { record: Object.entries(p.record).map(([name, r]) => ({ name, state: r.state, ...(r.target_mean ? { targetMean: r.target_mean } : {}), ...(r.target_cov ? { targetCov: r.target_cov } : {}) })) } : {}),
    step: i,
    shuffle: p.shuffle ?? s.data.shuffle ?? true,
    earlyStopping: p.early_stopping
      ? {
          patience: p.early_stopping.patience ?? null,
          // Only when given, so the description of a spec without it is unchanged.
          ...(p.early_stopping.patience_epochs !== undefined ? { patienceEpochs: p.early_stopping.patience_epochs } : {}),
          patienceIncrease: p.early_stopping.patience_increase,
          improvementThreshold: p.early_stopping.improvement_threshold,
          validationFrequency: p.early_stopping.validation_frequency ?? null,
        }
      : null,
    monitor: p.early_stopping?.monitor ?? (s.metrics && "error" in s.metrics ? "error" : null),
    ...plateauOf(p),
    ...(validates?.[i] === false && !p.early_stopping ? { validate: false } : {}),
  }));
  return {
    name: s.model,
    specHash: specHash(ls.text),
    seed: s.seed ?? 1234,
    params: Object.entries(s.params).map(([name, p]) => ({ name, shape: [...p.shape], dtype: "f32", init: resolveInit(ls, "params", name) })),
    state: stateDescs,
    inputs: Object.entries(s.data.inputs).map(([name, i]) => ({ name, shape: [...i.shape], dtype: i.dtype, ...(i.classes !== undefined ? { classes: i.classes } : {}) })),
    data: {
      dataset: s.data.dataset,
      batchSize: batch,
      splits: { train: [0, 50000], valid: [50000, 60000], test: [0, 10000] },
      testSource: "test",
      scale: 1 / 255,
      ...(s.data.dataset === "atis" ? { atis: { fold: s.data.fold ?? 3, window: s.data.window ?? 7 } } : {}),
      ...(s.data.dataset === "rt-polarity" ? { polarity: { vocabulary: s.data.vocabulary ?? 10000 } } : {}),
    },
    phases,
    metrics: Object.keys(s.metrics ?? {}),
    ...splitMetricsOf(s),
    evalBatchSize: s.data.eval_batch_size ?? batch,
    ...(s.samplers
      ? {
          samplers: Object.entries(s.samplers).map(([name, sm]) => ({
            name,
            input: sm.input,
            ...(sm.input in (s.state ?? {}) ? { fromState: true as const } : {}),
            chains: sm.chains,
            rows: sm.rows,
            imageShape: [sm.image.shape[0], sm.image.shape[1]] as const,
            spacing: sm.image.spacing ?? 1,
            ...(sm.midi ? { midi: { low: sm.midi.low, dt: sm.midi.dt } } : {}),
          })),
        }
      : {}),
    ...(s.images ? { images: describeImages(s) } : {}),
  };
}

/** The phase's on_plateau schedule for the trainer, when it has one. */
function plateauOf(p: LoadedSpec["spec"]["phases"][number]): { plateau?: PlateauDesc } {
  if (p.optimizer === undefined) return {};
  const common = commonOptions(p.optimizer);
  const sch = common.schedule;
  if (sch === "constant" || !("on_plateau" in sch)) return {};
  const o = sch.on_plateau;
  return { plateau: { lr: common.lr, factor: o.factor, patienceEpochs: o.patience_epochs, minLr: o.min_lr ?? 0, restoreBest: o.restore_best ?? false, scaleState: `${p.name}.lr_scale` } };
}

/** Metrics scored over a whole split (chunk_f1, ratio), when the spec has any. */
function splitMetricsOf(s: LoadedSpec["spec"]): { splitMetrics?: SplitMetricDesc[] } {
  const list: SplitMetricDesc[] = [];
  for (const [name, m] of Object.entries(s.metrics ?? {})) {
    if ("ratio" in m) list.push({ name, kind: "ratio" });
    if (!("chunk_f1" in m)) continue;
    const tokens = s.data.inputs[m.chunk_f1.labels]?.shape[0] ?? 0;
    list.push({ name, kind: "chunk_f1", labels: m.chunk_f1.labels, length: m.chunk_f1.length, tokens });
  }
  return list.length ? { splitMetrics: list } : {};
}

/** The `images:` section as plain data for the trainer (defaults filled). */
function describeImages(s: LoadedSpec["spec"]): ImageDesc[] {
  return Object.entries(s.images ?? {}).map(([name, im]) => ({
    name,
    tensor: im.tensor,
    source: im.tensor in s.params ? "param" : "state",
    transpose: im.transpose ?? false,
    imageShape: [im.image_shape[0], im.image_shape[1]],
    tiles: [im.tiles[0], im.tiles[1]],
    spacing: [im.spacing?.[0] ?? 1, im.spacing?.[1] ?? 1],
    scaleRows: im.scale_rows ?? true,
    when: im.when ?? "end",
  }));
}

export interface CompileWarning {
  readonly code: string;
  readonly loc?: SpecLoc;
  readonly message: string;
}

/** Errors that only the WebGPU back end raises: the model compiles for the
 * CPU, and its webgpu.ts records why there is no WebGPU program. */
const WEBGPU_ONLY = new Set(["E033", "E034", "E035"]);

/** Options of compileSpec. */
export interface CompileSpecOptions {
  /** Graph names the evaluation also returns per example, in `out[name]`
   * (described in `ModelDescription.outputs`): e.g. a classifier's
   * probabilities. None by default: generated/ holds none. */
  readonly outputs?: readonly string[];
}

export function compileSpec(ls: LoadedSpec, opts: CompileSpecOptions = {}): Compiled {
  const s = ls.spec;
  const steps: Graph[] = [];
  // Spec-level state (persistent chains) first, then optimizer slots.
  const state: ParamDesc[] = Object.entries(s.state ?? {}).map(([name, p]) => ({ name, shape: [...p.shape], dtype: "f32", init: resolveInit(ls, "state", name) }));
  s.phases.forEach((_, p) => {
    const st = buildTrainStep(ls, p, { dtype: "f32", batch: s.data.batch_size });
    steps.push(optimize(st.graph));
    for (const t of st.state) state.push({ name: t.name, shape: [...t.shape], dtype: "f32", init: t.init === "steps_per_epoch" ? { kind: "steps_per_epoch" } : t.init === "one" ? { kind: "one" } : { kind: "zeros" } });
  });
  const evalBatch = s.data.eval_batch_size ?? s.data.batch_size;
  const evalGraph = optimize(buildEval(ls, { dtype: "f32", batch: evalBatch }, opts.outputs ?? []));
  const samplers = Object.keys(s.samplers ?? {}).map((n) => optimize(buildSampler(ls, n, "f32")));
  const outputs = (opts.outputs ?? []).map((name) => ({ name, shape: evalGraph.nodes[evalGraph.outputs.get(`output:${name}`)!]!.shape.slice(1) }));
  const desc = { ...describe(ls, state, phasesValidate(steps, evalGraph)), ...(outputs.length ? { outputs } : {}) };
  const header = [
    `// Generated by dlt-compile ${COMPILER_VERSION} from ${commentText(ls.file)} (spec sha256 ${desc.specHash}).`,
    "// Do not edit: change the spec and run `npx dlt-compile` again.",
    "",
  ].join("\n");
  const files = new Map<string, string>();
  const program = lowerModel({ steps, stepNames: s.phases.map((p) => p.name), evalGraph, samplers });
  const cpu = emitModule({ desc, program, header });
  files.set("model.ts", cpu.model);
  if (cpu.loops) {
    files.set("loops.wat", cpu.loops.wat);
    files.set("loops-wasm.ts", cpu.loops.ts);
  }
  const warnings: CompileWarning[] = [];
  let gpu: ReturnType<typeof emitWebGpuModule>;
  try {
    gpu = emitWebGpuModule({ program, header });
  } catch (e) {
    if (!(e instanceof IRError) || !WEBGPU_ONLY.has(e.code)) throw e;
    const at = e.loc ? ` (${e.loc.file}:${e.loc.line}:${e.loc.col})` : "";
    gpu = unsupportedWebGpuModule({ header }, `${e.message}${at} [${e.code}]`);
    warnings.push({ code: "W004", ...(e.loc ? { loc: e.loc } : {}), message: `no WebGPU program: ${e.message} [${e.code}]; the CPU model is complete` });
  }
  files.set("webgpu.ts", gpu.text);
  files.set(
    "train.ts",
    [
      header,
      "// Standalone trainer, with dlt-train's options: npx tsx train.ts [--data DIR] [--resume] [--epochs N] ...",
      `import { runMain, seedOption } from ${jsString(RUNTIME_NODE_MODULE)};`,
      'import { Model } from "./model.ts";',
      "",
      "const argv = process.argv.slice(2);",
      "await runMain(new Model({ seed: seedOption(argv) }), argv);",
      "",
    ].join("\n"),
  );
  return { name: s.model, desc, steps, evalGraph, program, warnings, files };
}
