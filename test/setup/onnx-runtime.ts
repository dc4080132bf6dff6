// ONNX Runtime for the export tests. onnxruntime-node is pinned at 1.17.0,
// the last release whose install downloads nothing (later ones fetch CUDA
// libraries from NuGet in a postinstall script, which fails offline); it
// ships without its .d.ts, so its API is typed as onnxruntime-common's,
// which it re-exports.
import { createRequire } from "node:module";
import type * as Ort from "onnxruntime-common";

export const ort = createRequire(import.meta.url)("onnxruntime-node") as typeof Ort;
