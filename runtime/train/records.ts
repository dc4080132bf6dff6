// Recorded draws of a sampling phase (`record:` in a `draws` phase, hmc.py's
// samples): after every draw the recorded state tensor is copied into row
// `draw` of a host buffer [draws, ...shape]. The buffers ride in every
// checkpoint (runtime/checkpoint/state.ts, group `record/`), so a resumed
// run has the draws before it; at the phase's end they are written as
// <name>.safetensors and <name>_trace.png, and their mean and covariance are
// printed beside the targets, as hmc.py's test prints them.
import type { CompiledModel, ModelDescription, PhaseDesc, RecordDesc } from "../compiled-model.ts";
import { encodeSafetensors } from "../checkpoint/safetensors.ts";
import { renderTrace } from "../image/trace.ts";
import type { TrainingRun } from "./training-run.ts";

/** Every recorded tensor of the model with its full shape [draws, ...]. */
export function recordShapes(desc: ModelDescription): { readonly name: string; readonly shape: readonly number[] }[] {
  return desc.phases.flatMap((p) =>
    (p.record ?? []).map((r) => {
      const st = desc.state.find((s) => s.name === r.state);
      if (!st) throw new Error(`record ${r.name}: no state tensor "${r.state}" in the model`);
      return { name: r.name, shape: [p.draws ?? 0, ...st.shape] };
    }),
  );
}

/** Zeroed buffers for every recorded tensor. */
export function allocRecords(desc: ModelDescription): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const r of recordShapes(desc)) out[r.name] = new Float32Array(r.shape.reduce((a, d) => a * d, 1));
  return out;
}

/** Copies the phase's recorded state tensors into row `draw`. */
export async function recordDraw(model: CompiledModel, phase: PhaseDesc, records: Record<string, Float32Array>, draw: number): Promise<void> {
  if (!phase.record?.length) return;
  await model.download?.();
  for (const r of phase.record) {
    const v = model.state[r.state]!;
    records[r.name]!.set(v, draw * v.length);
  }
}

/** Mean and covariance of rows of length `dim` (numpy.cov: divided by n − 1). */
export function moments(x: Float32Array, dim: number): { mean: number[]; cov: number[][] } {
  const n = x.length / dim;
  const mean = Array.from({ length: dim }, (_, j) => {
    let s = 0;
    for (let i = 0; i < n; i++) s += x[i * dim + j]!;
    return s / n;
  });
  const cov = Array.from({ length: dim }, (_, a) =>
    Array.from({ length: dim }, (_, b) => {
      let s = 0;
      for (let i = 0; i < n; i++) s += (x[i * dim + a]! - mean[a]!) * (x[i * dim + b]! - mean[b]!);
      return s / (n - 1);
    }),
  );
  return { mean, cov };
}

const fmt = (v: number): string => v.toFixed(4).padStart(9);
const vector = (v: readonly number[]): string => `[${v.map(fmt).join(" ")}]`;
const matrix = (m: readonly (readonly number[])[], indent: string): string => m.map((r, i) => `${i === 0 ? "" : indent}${vector(r)}`).join("\n");

/** The lines hmc.py's test prints: target and empirical mean and covariance
 * (samples flattened over draws and chains; the last axis is the
 * dimension), then the model's scalar state (its step size and acceptance
 * rate). */
export function summaryLines(desc: ModelDescription, r: RecordDesc, samples: Float32Array, shape: readonly number[], state: Readonly<Record<string, Float32Array>>): string[] {
  const dim = shape[shape.length - 1] ?? 1;
  const { mean, cov } = moments(samples, dim);
  const rows = (name: string): number[][] => {
    const v = Array.from(state[name]!);
    return Array.from({ length: v.length / dim }, (_, i) => v.slice(i * dim, (i + 1) * dim));
  };
  const lines = [`${r.name}: ${samples.length / dim} samples of ${dim} (${shape[0]} draws × ${samples.length / dim / (shape[0] ?? 1)} chains)`];
  if (r.targetMean) lines.push(`  target mean:     ${vector(Array.from(state[r.targetMean]!))}`);
  if (r.targetCov) lines.push(`  target cov:      ${matrix(rows(r.targetCov), "                   ")}`);
  lines.push(`  empirical mean:  ${vector(mean)}`);
  lines.push(`  empirical cov:   ${matrix(cov, "                   ")}`);
  const scalars = desc.state.filter((s) => s.shape.length === 0 && !s.name.includes("."));
  for (const s of scalars) lines.push(`  final ${s.name}: ${state[s.name]![0]!.toPrecision(6)}`);
  return lines;
}

/** Writes the phase's recorded draws and prints their summary. */
export async function finishRecords(run: TrainingRun, phase: PhaseDesc): Promise<void> {
  if (!phase.record?.length) return;
  const { model, store, log } = run;
  const records = run.checkpointer.records;
  await model.download?.();
  const shapes = recordShapes(model.desc);
  for (const r of phase.record) {
    const shape = shapes.find((s) => s.name === r.name)!.shape;
    const samples = records[r.name]!;
    const file = `${r.name}.safetensors`;
    await store.writeAtomic(file, encodeSafetensors(new Map([[r.name, { dtype: "F32", shape, data: samples }]]), { "dlt.model": model.desc.name, "dlt.phase": phase.name }));
    const trace = renderTrace(samples, shape);
    const png = `${r.name}_trace.png`;
    const wrote = await run.images.writePixels(png, trace.pixels, trace.width, trace.height);
    log.info(`record ${r.name}: ${store.where(file)} [${shape.join(", ")}]${wrote ? `, trace ${store.where(png)}` : ""}`);
    for (const l of summaryLines(model.desc, r, samples, shape, model.state)) log.info(l);
  }
}
