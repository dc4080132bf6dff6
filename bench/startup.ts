// npm run bench:startup — how long the CLI takes to start, as the median of
// repeated whole-process runs (after one warm-up run that is not counted):
//   - dlt-compile SPEC: the whole process, spec to written files;
//   - dlt-train SPEC: from launch until the trainer's first step begins
//     (the "phase …: N minibatches" line it prints just before), on the
//     embedded digits; the process is then killed;
// each from the compiled JavaScript in dist/ (what the bins run once
// `npm run build` is current) and, for comparison, from the TypeScript
// sources through tsx (DLT_FROM_SOURCES=1).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const RUNS = Number(process.env.RUNS ?? 7);

function run(args: readonly string[], env: NodeJS.ProcessEnv, until?: RegExp): Promise<number> {
  return new Promise((resolveTime, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    let seen = false;
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      if (until && !seen && until.test(err)) {
        seen = true;
        resolveTime(performance.now() - t0);
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (code) => {
      if (seen) return;
      if (until || code !== 0) reject(new Error(`${args.join(" ")} exited ${code} before it started training:\n${err}`));
      else resolveTime(performance.now() - t0);
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function measure(label: string, args: () => readonly string[], env: NodeJS.ProcessEnv, until?: RegExp): Promise<void> {
  await run(args(), env, until);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) times.push(await run(args(), env, until));
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  console.log(`${label.padEnd(58)} median ${s(median(times))}  (min ${s(Math.min(...times))}, max ${s(Math.max(...times))}, ${RUNS} runs)`);
}

const scratch = mkdtempSync(join(tmpdir(), "dlt-startup-"));
let fresh = 0;
try {
  for (const [from, env] of [["dist", {}], ["sources (tsx)", { DLT_FROM_SOURCES: "1" }]] as const) {
    await measure(`dlt-compile specs/lenet.yaml, ${from}`, () => ["bin/dlt-compile.mjs", "specs/lenet.yaml"], env);
    for (const spec of ["logreg", "lenet"]) {
      await measure(`dlt-train specs/${spec}.yaml to its first step, ${from}`, () => ["bin/dlt-train.mjs", `specs/${spec}.yaml`, "--out", join(scratch, `${spec}-${fresh++}`)], env, /^phase /m);
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
