// The playground's worker: compiles specs with the compiler's own modules
// (compiler/compile-text.ts, bundled), runs the generated code
// (load-model.ts), and trains with dlt/runtime's `train` on WebGPU or the
// CPU path, so the page stays responsive.
//
// Training runs in chunks of `chunk` steps, each `train(..., { resume: true })`
// on one in-memory run store: the trainer checkpoints at the end of every
// chunk (downloading a GPU model's parameters first), so between chunks the
// host parameters are current for the filters, pausing is not starting the
// next chunk, and the run is exactly the one a single call would make
// (resume is bit-exact). Trap: never read a GPU model's host arrays inside a
// chunk; they are stale until the trainer's own download.
import { compile } from "../../compiler/compile-text.ts";
import { loadSpecText } from "../../compiler/frontend/load.ts";
import { PaddedBatches } from "../../runtime/data/batcher.ts";
import { runSamplers } from "../../runtime/train/samplers.ts";
import { browserDevice, type CompiledModel, createGpuModel, MemoryRunStore, type Splits, tileRasterImages, train } from "dlt/runtime";
import { digitSplits } from "./digits.ts";
import { loadPageModel, type PageModel } from "./load-model.ts";
import type { Backend, FromWorker, ToWorker } from "./protocol.ts";

const post = (m: FromWorker, transfer: Transferable[] = []): void => (self as unknown as Worker).postMessage(m, transfer);

let digits: Promise<Splits> | undefined;
function embeddedDigits(url: string): Promise<Splits> {
  digits ??= fetch(url).then(async (r) => {
    if (!r.ok) throw new Error(`mnist-digits.bin: HTTP ${r.status}`);
    return digitSplits(new Uint8Array(await r.arrayBuffer()), "mnist-digits.bin");
  });
  return digits;
}

interface Run {
  readonly model: CompiledModel;
  readonly page: PageModel;
  readonly store: MemoryRunStore;
  readonly splits: Splits;
  readonly chunk: number;
  readonly maxSteps: number;
  /** The graph name of the classifier's probabilities (compiled as an
   * evaluation output), or null for a model that classifies nothing. */
  readonly probs: string | null;
  /** Requests that read the model, answered between chunks. */
  readonly requests: (() => Promise<void>)[];
  steps: number;
  paused: boolean;
  stopped: boolean;
  active: boolean;
}
let run: Run | undefined;
let gpuDevice: ReturnType<typeof browserDevice> | undefined;
let compiledFor: { text: string; file: string; page: PageModel; probs: string | null } | undefined;

/** The probabilities the spec's zero_one metric scores (its classifier). */
function classifierOutput(text: string, file: string): string | null {
  try {
    for (const m of Object.values(loadSpecText(text, file).spec.metrics ?? {})) if ("zero_one" in m) return m.zero_one.probs;
  } catch {
    // The compile reports the spec's errors.
  }
  return null;
}

function compileSpec(text: string, file: string): ReturnType<typeof compile> {
  const t0 = performance.now();
  const r = compile(text, { file, lowered: true });
  post({ type: "compiled", ok: r.ok, diagnostics: r.diagnostics, files: Object.fromEntries(r.files), lowered: r.lowered ?? "", model: r.model, ms: performance.now() - t0 });
  return r;
}

async function startTraining(m: Extract<ToWorker, { type: "train" }>): Promise<void> {
  if (run?.active) throw new Error("a run is in progress: stop it first");
  // The previous run's GPU buffers go with it.
  (run?.model as { destroy?: () => void } | undefined)?.destroy?.();
  if (!compiledFor || compiledFor.text !== m.text || compiledFor.file !== m.file) {
    // The model trained here also returns its classifier's probabilities
    // from evaluate (compile's `outputs`), for the drawn digit and the
    // confusion matrix; its training step is the one generated/ holds.
    const probs = classifierOutput(m.text, m.file);
    const r = compile(m.text, { file: m.file, ...(probs ? { outputs: [probs] } : {}) });
    if (!r.ok) throw new Error("the spec has errors: see the editor");
    compiledFor = { text: m.text, file: m.file, page: loadPageModel(Object.fromEntries(r.files)), probs };
  }
  const { page, probs } = compiledFor;
  await page.prepare();
  const desc = page.description;
  if (desc.data.dataset !== "mnist") throw new Error(`the playground trains on the embedded MNIST digits; this spec's dataset is "${desc.data.dataset}"`);
  let backend: Backend = m.backend;
  let model: CompiledModel;
  let device = "CPU (WebAssembly SIMD)";
  let note: string | undefined;
  if (backend === "webgpu") {
    try {
      if (page.plan.unsupported) throw new Error(page.plan.unsupported);
      // One device for the worker's life: a run per device would pile them up.
      gpuDevice ??= browserDevice();
      const d = await gpuDevice;
      model = await createGpuModel(desc, page.plan, d.device);
      device = `WebGPU: ${d.description}`;
    } catch (e) {
      backend = "cpu";
      note = `WebGPU unavailable (${(e as Error).message}); training on the CPU path`;
      model = new page.Model();
    }
  } else model = new page.Model();
  const store = new MemoryRunStore();
  if (m.checkpoint) await store.writeAtomic("checkpoint.safetensors", m.checkpoint);
  const splits = await embeddedDigits(m.digitsUrl);
  run = { model, page, store, splits, probs, requests: [], chunk: Math.max(1, m.chunk), maxSteps: m.maxSteps ?? Number.MAX_SAFE_INTEGER, steps: 0, paused: false, stopped: false, active: true };
  post({ type: "started", backend, device, ...(note ? { note } : {}) });
  await loop(run, m.checkpoint !== undefined);
}

async function loop(r: Run, resumeFirst: boolean): Promise<void> {
  r.active = true;
  post({ type: "state", state: "running", steps: r.steps });
  let resume = resumeFirst || r.steps > 0;
  const desc = r.page.description;
  let last = performance.now();
  let lastStep = r.steps;
  for (;;) {
    if (r.stopped || r.paused) break;
    const target = Math.min(r.steps + r.chunk, r.maxSteps);
    const s = await train(r.model, r.splits, {
      store: r.store,
      resume,
      maxSteps: target,
      checkpointEveryMinutes: 0,
      log: {
        batch: (b) => {
          const now = performance.now();
          const step = ++r.steps;
          if (now - last > 250) {
            post({ type: "progress", progress: { step, epoch: b.epoch, phase: b.phase, cost: b.cost, examplesPerSecond: ((step - lastStep) * b.batchSize * 1000) / (now - last) } });
            last = now;
            lastStep = step;
          }
        },
        record: (record) => post({ type: "record", record }),
      },
    });
    resume = true;
    r.steps = s.steps;
    postFilters(r);
    for (const q of r.requests.splice(0)) await q();
    // Trap: a CPU chunk awaits only settled promises (microtasks), so without
    // a macrotask turn here no message — pause, stop, classify — would ever
    // be delivered while training runs.
    await new Promise((resolve) => setTimeout(resolve, 0));
    if (s.finished || s.steps >= r.maxSteps) {
      r.active = false;
      const best = s.bestValid === null ? "" : `best validation ${s.monitor} ${s.monitor === "error" ? `${(s.bestValid * 100).toFixed(2)} %` : s.bestValid.toFixed(4)}${s.testAtBest === null ? "" : `, test ${(s.testAtBest * 100).toFixed(2)} %`}`;
      post({ type: "state", state: s.finished ? "finished" : "paused", steps: s.steps, summary: `${desc.name}: ${s.steps} steps, ${s.epochs} epochs${best ? `; ${best}` : ""}` });
      return;
    }
  }
  r.active = false;
  post({ type: "state", state: r.stopped ? "stopped" : "paused", steps: r.steps });
}

/** Runs `q` now when the model is idle, else after the current chunk (a GPU
 * model must not evaluate while a step is in flight). */
function whenIdle(q: () => Promise<void>): void {
  if (!run) throw new Error("train a model first");
  const fail = (e: unknown) => post({ type: "error", message: e instanceof Error ? e.message : String(e) });
  const guarded = () => q().catch(fail);
  if (run.active) run.requests.push(guarded);
  else void guarded();
}

/** The evaluation outputs of one batch whose first `rows` rows are `x`. */
async function evaluateRows(r: Run, x: Float32Array, rows: number): Promise<Float32Array> {
  const d = r.page.description;
  if (!r.probs) throw new Error(`${d.name} has no classifier (no zero_one metric) to ask`);
  const n = d.evalBatchSize;
  const xin = d.inputs.find((i) => i.dtype === "f32")!;
  const batch: Record<string, Float32Array | Int32Array> = {};
  for (const i of d.inputs) batch[i.name] = i.dtype === "f32" ? new Float32Array(n * i.shape.reduce((a, b) => a * b, 1)) : new Int32Array(n * i.shape.reduce((a, b) => a * b, 1));
  (batch[xin.name] as Float32Array).set(x.subarray(0, rows * 784));
  const out: Record<string, Float32Array> = { [r.probs]: new Float32Array(n * 10) };
  for (const m of d.metrics) out[m] = new Float32Array(n);
  await r.model.evaluate(batch, out);
  return out[r.probs]!;
}

/** The first parameter shaped [784, k] (a first layer), k ≥ 1, as 28×28 tiles. */
function postFilters(r: Run): void {
  const p = r.page.description.params.find((q) => q.shape.length === 2 && q.shape[0] === 784);
  if (!p) return;
  const [rows, cols] = [p.shape[0]!, p.shape[1]!];
  const w = r.model.params[p.name]!;
  // W is [784, k]: the filters are its columns (the tutorial's W.T).
  const t = new Float32Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = w[i * cols + j]!;
  const n = Math.min(cols, 100);
  const side = Math.ceil(Math.sqrt(n));
  const img = tileRasterImages(t.subarray(0, n * rows), n, [28, 28], [Math.ceil(n / side), side], [1, 1]);
  post({ type: "image", name: `${p.name} (first layer)`, width: img.width, height: img.height, pixels: img.pixels }, [img.pixels.buffer]);
}

/** matrix[true][predicted] over the test split, from the classifier's probabilities. */
async function confusion(r: Run): Promise<{ matrix: number[][]; error: number }> {
  const d = r.page.description;
  if (!r.probs) throw new Error(`${d.name} has no classifier (no zero_one metric)`);
  const matrix = Array.from({ length: 10 }, () => new Array<number>(10).fill(0));
  const batches = new PaddedBatches(r.splits.test, d.inputs, d.evalBatchSize, "test");
  const label = d.inputs.find((i) => i.dtype === "i32")!.name;
  let wrong = 0;
  for (let k = 0; k < batches.numBatches; k++) {
    const { batch, count } = batches.fill(k);
    const out: Record<string, Float32Array> = { [r.probs]: new Float32Array(d.evalBatchSize * 10) };
    for (const m of d.metrics) out[m] = new Float32Array(d.evalBatchSize);
    await r.model.evaluate(batch, out);
    const p = out[r.probs]!;
    const y = batch[label] as Int32Array;
    for (let i = 0; i < count; i++) {
      const row = p.subarray(i * 10, i * 10 + 10);
      const guess = row.indexOf(Math.max(...row));
      matrix[y[i]!]![guess]!++;
      if (guess !== y[i]) wrong++;
    }
  }
  return { matrix, error: wrong / r.splits.test.n };
}

self.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  const fail = (err: unknown) => {
    if (run) run.active = false;
    post({ type: "error", message: err instanceof Error ? err.message : String(err) });
  };
  try {
    switch (m.type) {
      case "compile":
        compileSpec(m.text, m.file);
        return;
      case "train":
        startTraining(m).catch(fail);
        return;
      case "pause":
        if (run) run.paused = true;
        return;
      case "resume":
        if (run && !run.active && !run.stopped) {
          run.paused = false;
          loop(run, true).catch(fail);
        }
        return;
      case "stop":
        if (run) {
          run.stopped = true;
          if (!run.active) post({ type: "state", state: "stopped", steps: run.steps });
        }
        return;
      case "classify":
        whenIdle(async () => {
          const p = await evaluateRows(run!, m.pixels, 1);
          post({ type: "probabilities", probabilities: [...p.subarray(0, 10)] });
        });
        return;
      case "samples":
        whenIdle(async () => {
          const r = run!;
          if (!r.page.description.samplers?.length) throw new Error(`${r.page.description.name} has no samplers (an RBM's samplers: section)`);
          // Samplers run on the CPU model: a GPU run's parameters are copied into one.
          let cpu = r.model;
          if (!cpu.sample) {
            cpu = new r.page.Model();
            for (const p of r.page.description.params) cpu.params[p.name]!.set(r.model.params[p.name]!);
            for (const t of r.page.description.state) cpu.state[t.name]!.set(r.model.state[t.name]!);
          }
          for (const s of runSamplers(cpu, r.splits.test)) {
            post({ type: "image", name: `samples: ${s.sampler.name} (${s.sampler.rows} rows of ${s.sampler.chains} chains)`, width: s.image.width, height: s.image.height, pixels: s.image.pixels }, [s.image.pixels.buffer]);
          }
        });
        return;
      case "confusion":
        whenIdle(async () => post({ type: "confusion", ...(await confusion(run!)) }));
        return;
      case "checkpoint":
        if (!run) throw new Error("no run yet");
        run.store.read("checkpoint.safetensors").then((bytes) => post({ type: "checkpoint", bytes, name: `${run!.page.description.name}-checkpoint.safetensors` }), fail);
        return;
    }
  } catch (err) {
    fail(err);
  }
};

// Trap: the compiler's modules hold a top-level await (wabt's start-up), and a
// module worker dispatches messages while it is pending, before onmessage is
// set: they would be lost. The page sends nothing until this says so.
post({ type: "ready" });
