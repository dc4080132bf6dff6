// The PyTorch peer (bench/peers/torch_peer.py), run from bench/measure.ts:
// the inputs every implementation gets (the generated model's initial
// parameters, the minibatches, the LSTM's dropout masks) go to Python in one
// file, and Python times its own steps — a step there is microseconds of
// Python, and a round trip through a pipe per step would be charged to it.
// Its events (measure.ts's MeasureEvent shapes, one JSON line each) are
// forwarded as they come.
//
// Never needed by a test. Debian: `apt-get install python3-torch
// libopenblas0-pthread` (without OpenBLAS, Debian's torch multiplies with the
// reference BLAS, several times slower: the note says which BLAS ran).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { MeasureEvent, MeasureRequest } from "../measure.ts";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import { embScale } from "./lstm.ts";
import type { BenchBatch, BenchModel } from "./peer.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import { cutSentence } from "./rnn.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";
import { frames } from "./rnnrbm.ts";
import type { ExtraBatch, ExtraModel } from "./mnist-extra.ts";

export type TorchInputs =
  | { readonly kind: "mnist"; readonly model: BenchModel; readonly batches: readonly BenchBatch[] }
  | { readonly kind: "lstm"; readonly model: LstmModel; readonly batches: readonly LstmBatch[] }
  | { readonly kind: "rnn"; readonly model: RnnModel; readonly sentences: readonly Sentence[] }
  | { readonly kind: "rnnrbm"; readonly model: RnnRbmModel; readonly pieces: readonly RbmPiece[] }
  | { readonly kind: "extra"; readonly model: ExtraModel; readonly batches: readonly ExtraBatch[] };

/** The first Python that imports torch: $DLT_PYTHON, python3 on the PATH
 * (often a pyenv shim without Debian's packages), /usr/bin/python3. */
export function torchPython(): string | undefined {
  const candidates = [process.env.DLT_PYTHON, "python3", "/usr/bin/python3"].filter((c): c is string => !!c);
  return candidates.find((py) => spawnSync(py, ["-c", "import torch"], { stdio: "ignore" }).status === 0);
}

/** The environment a tuned PyTorch run gets (the caller's own variables
 * override it). glibc returns every freed block of 128 KiB or more to the
 * kernel (mmap/munmap), and PyTorch's CPU allocator does not cache, so each
 * weight-sized temporary of every step page-faults back in: the MLP's step
 * took 8.5 ms that way and 1.1 ms with the thresholds raised (the same
 * effect as preloading jemalloc or tcmalloc, which PyTorch's performance
 * guide recommends; neither is installed here). */
//
// Threads: PyTorch's own pool (OpenMP, which runs oneDNN's convolutions and
// the elementwise kernels) gets the two cores, and OpenBLAS one thread per
// caller. Debian's OpenBLAS starts its own pool of two: beside PyTorch's two
// the four threads spin against each other on two cores. Measured on this
// machine, idle (examples/s for logreg / mlp / lenet / lstm, `--peers torch
// --repeats 3` with DLT_TORCH_THREADS and OPENBLAS_NUM_THREADS set):
//   torch 2, OpenBLAS 1:  985,436 / 18,168 / 6,629 / 1,077   ← used
//   torch 1, OpenBLAS 2:  708,381 / 13,162 / 4,231 /   694
//   torch 1, OpenBLAS 1:  793,383 / 13,871 / 3,443 /   824
//   torch 2, OpenBLAS 2:  202,261 /  4,041 / 4,398 /   355
function tunedEnv(): Record<string, string> {
  return {
    GLIBC_TUNABLES: "glibc.malloc.mmap_threshold=1073741824:glibc.malloc.trim_threshold=1073741824",
    DLT_TORCH_THREADS: "2",
    OPENBLAS_NUM_THREADS: "1",
  };
}

/** One file: u32 header length, the JSON header, then the raw tensors. */
function encode(inputs: TorchInputs): Buffer {
  const tensors: { name: string; dtype: "f32" | "i32"; shape: number[]; data: Float32Array | Int32Array }[] = [];
  for (const [name, p] of Object.entries(inputs.model.params)) tensors.push({ name: `param/${name}`, dtype: "f32", shape: [...p.shape], data: p.data });
  const { params: _params, ...model } = inputs.model;
  const add = (name: string, dtype: "f32" | "i32", shape: number[], data: Float32Array | Int32Array): void => {
    tensors.push({ name, dtype, shape, data });
  };
  let count: Record<string, number>;
  if (inputs.kind === "mnist") {
    inputs.batches.forEach((b, i) => {
      add(`x/${i}`, "f32", [b.y.length, b.x.length / b.y.length], b.x);
      add(`y/${i}`, "i32", [b.y.length], b.y);
    });
    count = { batches: inputs.batches.length };
  } else if (inputs.kind === "lstm") {
    inputs.batches.forEach((b, i) => {
      add(`words/${i}`, "i32", [b.words.length], b.words);
      add(`length/${i}`, "i32", [b.length.length], b.length);
      add(`label/${i}`, "i32", [b.label.length], b.label);
      add(`keep/${i}`, "f32", [b.keep.length], b.keep);
      add(`steps/${i}`, "i32", [], Int32Array.of(b.steps));
      add(`emb/${i}`, "f32", [b.steps, b.label.length, inputs.model.dim], embScale(b, inputs.model));
    });
    count = { batches: inputs.batches.length };
  } else if (inputs.kind === "extra") {
    inputs.batches.forEach((b, i) => {
      add(`x/${i}`, "f32", [inputs.model.batchSize, 784], b.x);
      add(`y/${i}`, "i32", [b.y.length], b.y);
      b.uniforms.forEach((u, d) => add(`u/${i}/${inputs.model.draws[d]!.salt}`, "f32", [inputs.model.draws[d]!.iters, u.length / inputs.model.draws[d]!.iters], u));
    });
    count = { batches: inputs.batches.length };
  } else if (inputs.kind === "rnn") {
    // Each sentence cut to its words, as the JS peers take it.
    inputs.sentences.forEach((s, i) => {
      const { words, labels } = cutSentence(s, inputs.model.window);
      add(`words/${i}`, "i32", [words.length], words);
      add(`labels/${i}`, "i32", [labels.length], labels);
    });
    count = { sentences: inputs.sentences.length };
  } else {
    const { maxFrames: T, notes: N, hidden: H, gibbs: K } = inputs.model;
    // Each piece cut to its frames, and its uniforms likewise.
    inputs.pieces.forEach((p, i) => {
      const L = p.length;
      const perStep = (u: Float32Array, width: number): Float32Array => {
        const out = new Float32Array(K * L * width);
        for (let k = 0; k < K; k++) out.set(frames(u, L, width, k * T * width), k * L * width);
        return out;
      };
      add(`v/${i}`, "f32", [L, N], frames(p.roll, L, N));
      add(`uh/${i}`, "f32", [K, L, H], perStep(p.uHidden, H));
      add(`uv/${i}`, "f32", [K, L, N], perStep(p.uVisible, N));
      add(`um/${i}`, "f32", [L, H], frames(p.uMonitor, L, H));
    });
    count = { pieces: inputs.pieces.length };
  }
  let offset = 0;
  const entries = tensors.map((t) => {
    const e = { name: t.name, dtype: t.dtype, shape: t.shape, offset };
    offset += t.data.byteLength;
    return e;
  });
  const header = Buffer.from(JSON.stringify({ kind: inputs.kind, model: { ...model, ...count }, tensors: entries }), "utf8");
  const head = Buffer.alloc(4);
  head.writeUInt32LE(header.length, 0);
  return Buffer.concat([head, header, ...tensors.map((t) => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))]);
}

export async function measureTorch(inputs: TorchInputs, req: MeasureRequest, emit: (e: MeasureEvent) => void): Promise<void> {
  const python = torchPython();
  if (!python) throw new Error("torch: no python3 here imports torch (Debian: apt-get install python3-torch libopenblas0-pthread; or set DLT_PYTHON)");
  const dir = mkdtempSync(join(tmpdir(), "dlt-torch-"));
  try {
    writeFileSync(join(dir, "inputs.bin"), encode(inputs));
    writeFileSync(join(dir, "request.json"), JSON.stringify(req));
    const script = fileURLToPath(new URL("./torch_peer.py", import.meta.url));
    const child = spawn(python, [script, join(dir, "inputs.bin"), join(dir, "request.json")], { stdio: ["pipe", "pipe", "pipe"], env: { ...tunedEnv(), ...process.env } });
    let pending = "";
    let stderr = "";
    let finished = false;
    child.stdout.on("data", (d: Buffer) => {
      pending += d.toString("utf8");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!line.trim()) continue;
        const e = JSON.parse(line) as MeasureEvent;
        if (e.kind === "done" || e.kind === "error") finished = true;
        emit(e);
      }
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr = (stderr + d.toString("utf8")).slice(-2000);
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    if (!finished) {
      const last = stderr.trim().split("\n").pop() ?? "";
      throw new Error(`torch: python exited (code ${code}) before finishing${last ? `: ${last.slice(0, 200)}` : ""}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
