// The module specifiers generated code imports the runtime by. By package
// name, not by a relative path, so a model compiled into any folder of any
// project runs against the installed package: inside this repository the
// names resolve to runtime/ itself (package.json's "exports", the
// "dlt-source" condition in tsconfig.json, vitest.config.ts and bin/launch.mjs),
// in a project that installed dlt to its compiled dist/runtime/. Fixed
// strings: nothing from a spec reaches them.

/** What model.ts and webgpu.ts import: browser-safe (runtime/index.ts). */
export const RUNTIME_MODULE = "dlt/runtime";

/** What the standalone train.ts imports: its command line and files (runtime/node/index.ts). */
export const RUNTIME_NODE_MODULE = "dlt/runtime/node";
