#!/usr/bin/env node
import { launch } from "./launch.mjs";

// dlt-train's entry in evaluation mode (compiler/cli/train.ts, runtime/node/eval.ts).
process.argv.splice(2, 0, "--eval");
await launch("compiler/cli/train");
