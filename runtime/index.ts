// The WebGPU types (GPUDevice...) the declarations below mention: a
// dependency of the package, referenced from the emitted index.d.ts so a
// project type-checks against it without configuring anything.
/// <reference types="@webgpu/types" preserve="true" />
// `dlt/runtime`: what generated code imports and what a program that trains
// a generated model calls, in a browser, a worker or Node. Nothing reachable
// from here imports a Node built-in (a test bundles it for the browser);
// files, datasets on disk, Dawn and the CLI's entry are in `dlt/runtime/node`
// (runtime/node/index.ts), which re-exports all of this.
//
// The list is the package's public surface: every name here is documented
// where it is declared (a test checks), and docs/api.md describes it.

// Training, evaluation, saved parameters.
export { train, evaluate, loadCheckpoint, saveCheckpoint, BEST_FILE, CHECKPOINT_FILE } from "./api.ts";
export type { TrainApiOptions, LoadedCheckpoint } from "./api.ts";
export { initModel } from "./train/model-ops.ts";
export { MemoryRunStore, METRICS_FILE } from "./train/run-store.ts";
export type { RunStore } from "./train/run-store.ts";
export type { TrainOptions, TrainSummary, CostAt } from "./train/trainer.ts";
export type { TrainerState, PhaseResult } from "./checkpoint/state.ts";
export { TrainingError } from "./train/training-error.ts";
export { CheckpointError } from "./checkpoint/safetensors.ts";
export { decodeSafetensors, encodeSafetensors } from "./checkpoint/safetensors.ts";
export type { StFile, StTensor, StDType } from "./checkpoint/safetensors.ts";

// Progress.
export { ProgressLogger, silentLogger, formatMetrics, formatRecord } from "./progress.ts";
export type { Logger, MetricsRecord, BatchProgress, TextSink, ProgressOptions } from "./progress.ts";

// Data in memory.
export { DataError, sliceSplit } from "./data/dataset.ts";
export type { Split, Splits, NamedTensor } from "./data/dataset.ts";
export { conlleval } from "./data/conlleval.ts";
export type { ConllScore, ChunkTypeScore, TaggedSentence } from "./data/conlleval.ts";

// Images (filters, samples) as grayscale pixels.
export { tileRasterImages } from "./image/tile.ts";
export type { TiledImage, TileOptions } from "./image/tile.ts";

// WebGPU.
export { createGpuModel, GpuPlanError } from "./webgpu/executor.ts";
export type { GpuModel } from "./webgpu/executor.ts";
export { browserDevice, NoWebGpuError } from "./webgpu/device.ts";

// The contract with generated code (model.ts, webgpu.ts).
export { describeRun, MAX_SEED } from "./compiled-model.ts";
export type { Batch, CompiledModel, ModelConstructor, ModelDescription, ModelOptions, DataDesc, TensorDesc, ParamDesc, InitDesc, RuntimeDType, PhaseDesc, EarlyStoppingDesc, PlateauDesc, RecordDesc, SplitMetricDesc, SamplerDesc, ImageDesc, ImageWhen } from "./compiled-model.ts";
export type { GpuPlan } from "./webgpu/plan.ts";
export { cpuThreads, createArena, inputAddress, residentCopy } from "./cpu/arena.ts";
export { createKernels, instantiateLoops, precompileModules } from "./cpu/kernels.ts";
export type { Kernels } from "./cpu/kernels.ts";
export * as rng from "./rng/philox.ts";
