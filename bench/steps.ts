// Runs `npm run bench`'s measurement of one model in this process and
// prints its events: a whole-process command for farm-bench's paired runs
// (thread decisions, kernel changes), e.g.
//   farm-bench -n 9 --vs "env DLT_THREADS=1 npx tsx --conditions=dlt-source bench/steps.ts lstm 40" -- npx tsx --conditions=dlt-source bench/steps.ts lstm 40
import { measure } from "./measure.ts";
import type { BenchModelName } from "./peers/peer.ts";

const [model, steps] = process.argv.slice(2);
await measure({ model: model as BenchModelName, impl: "ours", backend: "cpu", repeats: 1, steps: Number(steps ?? 0), seconds: 1, limit: 600 }, (e) => console.log(JSON.stringify(e)));
