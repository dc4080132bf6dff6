// The generated trainer (generated/<model>/model.ts, class Model) behind the
// same interface as the peers: on the CPU (the emitted TypeScript and its
// WebAssembly kernels) or on WebGPU (generated/<model>/webgpu.ts).
import type { Batch, CompiledModel } from "../../runtime/compiled-model.ts";
import { acquireDevice } from "../../runtime/node/webgpu.ts";
import { initModel } from "../../runtime/train/model-ops.ts";
import { createGpuModel, type GpuModel } from "../../runtime/webgpu/executor.ts";
import type { GpuPlan } from "../../runtime/webgpu/plan.ts";
import type { BenchBatch, BenchModel, Peer, StepRunner } from "./peer.ts";
import type { LstmBatch, LstmModel } from "./lstm.ts";
import type { RnnModel, Sentence } from "./rnn.ts";
import type { RbmPiece, RnnRbmModel } from "./rnnrbm.ts";
import type { ExtraBatch, ExtraModel } from "./mnist-extra.ts";

/** The generated model on `backend`; `device` describes a WebGPU adapter. */
export async function makeModel(name: string, backend: string): Promise<{ model: CompiledModel; device?: string }> {
  const { Model } = (await import(`../../generated/${name}/model.ts`)) as { Model: new () => CompiledModel };
  const cpu = new Model();
  if (backend === "cpu") return { model: cpu };
  if (backend !== "webgpu") throw new Error(`unknown backend "${backend}" (cpu or webgpu)`);
  const { plan } = (await import(`../../generated/${name}/webgpu.ts`)) as { plan: GpuPlan };
  const { device, description } = await acquireDevice();
  return { model: await createGpuModel(cpu.desc, plan, device), device: description };
}

/** Dispatches of each kernel timed together by the WebGPU profile. */
const PROFILE_REPS = 20;

export function oursPeer(backend: string): Peer {
  let note: string | undefined;
  const describe = (device: string | undefined): string => {
    const threads = process.env.DLT_THREADS;
    return backend === "cpu"
      ? `ours: generated/<model>/model.ts (TypeScript + WebAssembly SIMD kernels), ${threads ? `DLT_THREADS=${threads}` : "DLT_THREADS unset (two threads where the compiler found they pay: logreg, lenet, dnn, rbm; one for the others)"}`
      : `ours-${backend}: generated/<model>/webgpu.ts on ${device ?? "?"}`;
  };
  /** An MNIST model's trainer on minibatches {x, y}: keyed by the model's
   * input names, the f32 input gets the pixels, the i32 input the labels.
   * It runs the step of the phase named `model.phase` (sda: "finetune",
   * the last of its four), or of the first phase. */
  const mnist = async (model: { readonly name: string; readonly batchSize: number; readonly phase?: string }, batches: readonly { readonly x: Float32Array; readonly y: Int32Array }[]): Promise<StepRunner> => {
    const { model: m, device } = await makeModel(model.name, backend);
    const phase = model.phase === undefined ? m.desc.phases[0] : m.desc.phases.find((p) => p.name === model.phase);
    if (!phase) throw new Error(`generated/${model.name} has no phase "${model.phase}" (recompile)`);
    const fn = phase.step;
    initModel(m, { trainExamples: batches.length * model.batchSize });
    m.upload?.();
    if (m.desc.data.batchSize !== model.batchSize) throw new Error(`generated/${model.name} has batch ${m.desc.data.batchSize}, the spec ${model.batchSize}`);
    // The batches where dlt-train has them (runtime/train/phase-loop.ts
    // trainBatches): a model that reads its pixels where they lie
    // (`resident`) gets, in the data's order, views of the split it placed
    // in its memory, and shuffled, the rows gathered into a buffer there
    // every step (that copy is timed, as the trainer pays it); any other
    // model copies each batch in itself.
    const resident = m.resident?.bind(m);
    const staged = resident && phase.shuffle ? resident(new Float32Array(batches[0]!.x.length)) : undefined;
    const pixels = (x: Float32Array) => (resident && !phase.shuffle ? (resident(x) ?? x) : (staged ?? x));
    const own: Batch[] = batches.map((b) => Object.fromEntries(m.desc.inputs.map((i) => [i.name, i.dtype === "f32" ? pixels(b.x) : b.y])));
    note = describe(device);
    let k = 0;
    const gpu = "profileStep" in m ? (m as GpuModel) : undefined;
    const step = staged
      ? () => {
          staged.set(batches[k % batches.length]!.x);
          return m.trainStep(fn, own[k % own.length]!, k++);
        }
      : () => m.trainStep(fn, own[k % own.length]!, k++);
    return { step, ...(gpu ? { profile: () => gpu.profileStep(fn, PROFILE_REPS) } : {}) };
  };
  return {
    name: backend === "cpu" ? "ours" : `ours-${backend}`,
    note: () => note,
    async prepare(model: BenchModel, batches: readonly BenchBatch[]): Promise<StepRunner> {
      return mnist(model, batches);
    },
    // The random ops are drawn from `step`, which matches the uniforms
    // handed to the peers (mnist-extra.ts stepUniforms) on the first pass.
    async prepareExtra(model: ExtraModel, batches: readonly ExtraBatch[]): Promise<StepRunner> {
      return mnist(model, batches);
    },
    async prepareRnn(model: RnnModel, sentences: readonly Sentence[]): Promise<StepRunner> {
      const { model: m, device } = await makeModel(model.name, backend);
      initModel(m);
      m.upload?.();
      // The generated model takes the padded sentence (its scan runs
      // `length` steps of the 46).
      const own: Batch[] = sentences.map((s) => ({ words: s.words, labels: s.labels, length: Int32Array.of(s.length) }));
      note = describe(device);
      let k = 0;
      return { step: () => m.trainStep(0, own[k % own.length]!, k++) };
    },
    async prepareLstm(model: LstmModel, batches: readonly LstmBatch[]): Promise<StepRunner> {
      const { model: m, device } = await makeModel(model.name, backend);
      // Adadelta's accumulators start at zero whatever the epoch length;
      // trainExamples only keeps the init context true to the run.
      initModel(m, { trainExamples: batches.length * model.batchSize });
      m.upload?.();
      // The padded batch as the dataset gives it; the scan runs the
      // longest sentence's steps. The dropout mask is drawn from `step`,
      // which matches the masks handed to the peers (lstm.ts keepMask).
      const own: Batch[] = batches.map((b) => ({ words: b.words, mask: b.mask, length: b.length, label: b.label }));
      note = describe(device);
      let k = 0;
      return { step: () => m.trainStep(0, own[k % own.length]!, k++) };
    },
    async prepareRnnRbm(model: RnnRbmModel, pieces: readonly RbmPiece[]): Promise<StepRunner> {
      const { model: m, device } = await makeModel(model.name, backend);
      initModel(m);
      m.upload?.();
      // The padded piece as the dataset gives it; the Gibbs samples are
      // drawn from `step`, which matches the uniforms handed to the peers
      // (rnnrbm.ts pieceDraws) on the first pass over the pieces.
      const own: Batch[] = pieces.map((p) => ({ roll: p.roll, length: Int32Array.of(p.length), mask: p.mask }));
      note = describe(device);
      let k = 0;
      return { step: () => m.trainStep(0, own[k % own.length]!, k++) };
    },
  };
}
