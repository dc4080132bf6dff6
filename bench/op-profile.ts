// Where a generated trainer's step goes, op by op: an instrumented copy of
// generated/<model>/model.ts times each top-level kernel of the training
// step (each block the emitter heads with its `// specs/<file>:<line> …`
// comment; a scan is one block, its loop included) and the table groups
// them by kernel class (products, convolutions, pooling, fused loops, …) and
// by op.
//
//   npm run bench:ops -- lenet               # 20 steps after 3 warm-up steps
//   npm run bench:ops -- newmu_convnet --steps 5
//   npm run bench:ops -- lstm --steps 50 --top 25
//
// The copy is written beside the original (generated/.tmp-profile-<model>.ts,
// gitignored, removed afterwards) so that its imports resolve as the
// original's. performance.now() between kernels costs well under a
// microsecond; kernels shorter than that are not worth reading here. Not a
// test: the figures go in docs/performance.md.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Batch, CompiledModel } from "../runtime/compiled-model.ts";
import { BatchIterator } from "../runtime/data/batcher.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import { initModel } from "../runtime/train/model-ops.ts";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

/** The kernel class of a block, from what its code calls. */
function classOf(code: string, label: string): string {
  if (/^The batch\b/.test(label)) return "the batch (copied in, or read in place)";
  if (/scan over/.test(label)) return "scan (whole loop)";
  if (/this\.k\.(im2colBlock|col2imAdd|convBlock|fullConv|convValid|convFilterGrad)/.test(code)) return "convolution (im2col/col2im + products)";
  if (/this\.k\.gemm(Sparse)?\(/.test(code)) return "matrix product";
  if (/this\.k\.maxPool2d/.test(code)) return "max-pooling";
  if (/this\.k\.(swap01Blocks|reverseBlocks)/.test(code)) return "layout move";
  if (/this\.k\.uniformFill/.test(code)) return "random draws + fused loop";
  if (/this\.k\.(copyRuns|sumAround|maxRows)\(/.test(code)) return "box copy, bias sum or row max (wasm)";
  if (/this\.w\./.test(code)) return "fused loop (wasm)";
  return "TypeScript loop";
}

interface Block {
  readonly label: string;
  readonly kind: string;
}

/** The step method with a timer call before each top-level kernel block. */
function instrument(source: string): { source: string; blocks: Block[] } {
  const start = source.indexOf("  private step0(");
  if (start < 0) throw new Error("no step0 method: is this a generated model.ts?");
  const end = source.indexOf("\n  }\n", start);
  const lines = source.slice(start, end).split("\n");
  const blocks: Block[] = [];
  const out: string[] = [];
  let current: { label: string; code: string[] } | undefined;
  const close = () => {
    if (current) blocks.push({ label: current.label, kind: classOf(current.code.join("\n"), current.label) });
  };
  for (const line of lines) {
    // A kernel's block, or the batch's (copied in, or its address taken).
    const head = /^ {4}\/\/ (specs\/\S+ .*)$/.exec(line) ?? /^ {4}\/\/ (The batch\b.*)$/.exec(line);
    if (head) {
      close();
      current = { label: head[1]!, code: [] };
      out.push(`    __mark(${blocks.length});`);
    } else if (/^ {4}return /.test(line)) {
      close();
      current = undefined;
      out.push(`    __mark(${blocks.length});`);
    } else current?.code.push(line);
    out.push(line);
  }
  const timer = [
    "export const __profile = { ms: [] as number[], last: -1, at: 0 };",
    "function __mark(next: number): void {",
    "  const now = performance.now();",
    "  if (__profile.last >= 0) __profile.ms[__profile.last] = (__profile.ms[__profile.last] ?? 0) + now - __profile.at;",
    "  __profile.last = next;",
    "  __profile.at = now;",
    "}",
  ].join("\n");
  return { source: `${source.slice(0, start)}${out.join("\n")}${source.slice(end)}\n${timer}\n`, blocks };
}

async function main(): Promise<void> {
  const name = process.argv[2];
  if (!name || name.startsWith("--")) throw new Error("usage: npm run bench:ops -- <model> [--steps N] [--top N]");
  const steps = Number(arg("steps", "20"));
  const top = Number(arg("top", "20"));
  const dir = new URL(`../generated/${name}/`, import.meta.url);
  const original = readFileSync(new URL("model.ts", dir), "utf8");
  const { source, blocks } = instrument(original);
  const copy = new URL(`../generated/.tmp-profile-${name}.ts`, import.meta.url);
  writeFileSync(copy, source.replaceAll('from "./', `from "./${name}/`));
  try {
    const mod = (await import(fileURLToPath(copy))) as { Model: new () => CompiledModel; __profile: { ms: number[]; last: number } };
    const m = new mod.Model();
    initModel(m);
    const splits = await loadDataset(m.desc.data, { inputs: m.desc.inputs, seed: m.desc.seed });
    const it = new BatchIterator(splits.train, m.desc.inputs, m.desc.data.batchSize, { shuffle: false, seed: 1 });
    it.setEpoch(0);
    // In the data's order the trainer reads the pixels where they lie in
    // the model's memory, when the model can (runtime/train/phase-loop.ts).
    const place = (v: Float32Array | Int32Array) => (v instanceof Float32Array && !m.desc.phases[0]!.shuffle ? (m.resident?.(v) ?? v) : v);
    const batch = (k: number): Batch => {
      const b = it.fill(k % it.numBatches);
      return Object.fromEntries(Object.entries(b).map(([n, v]) => [n, place(v.slice())])) as Batch;
    };
    for (let k = 0; k < 3; k++) m.trainStep(0, batch(k), k);
    mod.__profile.ms.length = 0;
    mod.__profile.last = -1;
    const batches = Array.from({ length: steps }, (_, k) => batch(k + 3));
    const t0 = performance.now();
    for (let k = 0; k < steps; k++) m.trainStep(0, batches[k]!, k + 3);
    const total = (performance.now() - t0) / steps;
    const per = blocks.map((b, i) => ({ ...b, ms: (mod.__profile.ms[i] ?? 0) / steps }));
    const timed = per.reduce((a, b) => a + b.ms, 0);
    const byKind = new Map<string, number>();
    for (const b of per) byKind.set(b.kind, (byKind.get(b.kind) ?? 0) + b.ms);
    const pct = (ms: number) => `${((100 * ms) / total).toFixed(1)} %`;
    const lines = [
      `${name}: ${steps} steps of batch ${m.desc.data.batchSize}, ${total.toFixed(2)} ms a step (${((1000 * m.desc.data.batchSize) / total).toFixed(0)} examples/s); the blocks below account for ${pct(timed)} of it`,
      "",
      "| kernel class | ms / step | share |",
      "| --- | --- | --- |",
      ...[...byKind].sort((a, b) => b[1] - a[1]).map(([k, ms]) => `| ${k} | ${ms.toFixed(3)} | ${pct(ms)} |`),
      "",
      "| block (spec line: formula) | class | ms / step | share |",
      "| --- | --- | --- | --- |",
      ...per
        .sort((a, b) => b.ms - a.ms)
        .slice(0, top)
        .map((b) => `| ${b.label.replace(/\|/g, "\\|").slice(0, 110)} | ${b.kind} | ${b.ms.toFixed(3)} | ${pct(b.ms)} |`),
    ];
    process.stdout.write(lines.join("\n") + "\n");
  } finally {
    rmSync(copy, { force: true });
  }
}

try {
  await main();
} catch (e) {
  process.stderr.write(`bench:ops: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(2);
}
