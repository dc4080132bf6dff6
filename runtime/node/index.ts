// `dlt/runtime/node`: everything of `dlt/runtime` (runtime/index.ts) plus what
// needs Node: run folders and checkpoint files (train with outDir,
// loadCheckpoint / saveCheckpoint with paths), the datasets dlt-train reads,
// WebGPU through Dawn (the optional peer dependency `webgpu`), and the
// command-line entry a generated train.ts calls. Its train, loadCheckpoint
// and saveCheckpoint take the place of the browser ones (they accept
// everything those accept).

export * from "../index.ts";
export { train, loadCheckpoint, saveCheckpoint, loadData } from "./api.ts";
export type { NodeTrainApiOptions, LoadDataOptions } from "./api.ts";

// Readers of the data formats (each error names the file and the item).
export { readIdxFile, readPngBatch } from "./datasets.ts";
export type { IdxArray, IdxKind } from "../data/formats.ts";
export { loadAtisFold, contextWindows } from "./atis.ts";
export type { AtisFold, AtisSentence } from "./atis.ts";
export { loadPolarity } from "./rt-polarity.ts";
export type { PolarityData, PolarityOptions } from "./rt-polarity.ts";
export { readMidiRoll, writeMidiRoll, loadNottingham, loadJsbChorales, pianoRollPng, TUTORIAL_ROLL } from "./piano-roll.ts";
export type { RollOptions, RollSets } from "./piano-roll.ts";
export { encodePng, writePng, readPngGray } from "../image/png.ts";
export { writeFileAtomic } from "./atomic-write.ts";

// WebGPU in Node (Dawn).
export { acquireDevice, NoGpuError } from "./webgpu.ts";
export type { AcquiredDevice, AcquireOptions } from "./webgpu.ts";

// The command line of a generated trainer (generated/<model>/train.ts).
export { runMain, seedOption } from "./main.ts";
