// The `images:` section of a spec: schema and cross-field errors (E050,
// E051, E052), its description for the runtime, and the trainer writing the PNG
// files at the end, per phase and per epoch, atomically into the run.

import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec, describe as describeModel } from "../compiler/compile.ts";
import { type Diagnostic, formatDiagnostic, SpecError } from "../compiler/frontend/diagnostics.ts";
import { loadSpec, loadSpecText } from "../compiler/frontend/load.ts";
import { syntheticSplits } from "../runtime/data/dataset.ts";
import { encodePng, readPngGray } from "../runtime/image/png.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { train } from "../runtime/node/run.ts";
import { silentLogger } from "../runtime/progress.ts";
import type { Logger } from "../runtime/progress.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A tiny tied-weight autoencoder on synthetic data with an images section. */
const spec = (images: string, phases = 1): string =>
  [
    "model: images_tiny",
    "seed: 7",
    "data:",
    "  dataset: synthetic",
    "  batch_size: 4",
    "  shuffle: false",
    "  inputs:",
    "    x: { shape: [16], dtype: f32 }",
    "params:",
    "  W: { shape: [16, 6], init: { glorot_uniform: { gain: 4 } } }",
    "  b: { shape: [6], init: zeros }",
    "  b_prime: { shape: [16], init: zeros }",
    "graph:",
    "  y: sigmoid(x @ W + b)",
    "  z: y @ W.T + b_prime",
    "losses:",
    "  reconstruction:",
    "    squared_error: { pred: z, target: x }",
    "phases:",
    ...Array.from({ length: phases }, (_, i) => `  - { name: p${i + 1}, loss: reconstruction, optimizer: { sgd: { lr: 0.01 } }, epochs: 2 }`),
    "images:",
    images,
    "",
  ].join("\n");

const FILTERS = "  filters: { tensor: W, transpose: true, image_shape: [4, 4], tiles: [2, 3] }";

function errorsOf(text: string): readonly Diagnostic[] {
  try {
    loadSpecText(text, "t.yaml");
  } catch (e) {
    if (e instanceof SpecError) return e.diagnostics;
    throw e;
  }
  return [];
}

/** The one diagnostic of `images` (placed on line 22 of the spec). */
function oneError(images: string): Diagnostic {
  const ds = errorsOf(spec(images));
  expect(ds.length, ds.map((d) => formatDiagnostic(d)).join("\n")).toBe(1);
  return ds[0]!;
}

describe("images: errors", () => {
  it("an unknown tensor is E050 at the name, with the parameters to choose from", () => {
    const d = oneError("  filters: { tensor: w, transpose: true, image_shape: [4, 4], tiles: [2, 3] }");
    expect([d.code, d.line, d.col]).toEqual(["E050", 22, 22]);
    expect(d.message).toBe("unknown tensor 'w' in images.filters.tensor: images show parameters and state tensors");
    expect(d.help).toBe("did you mean 'W'? (parameters: W, b, b_prime)");
    expect(formatDiagnostic(d).split("\n")[0]).toBe("t.yaml:22:22 error[E050]: unknown tensor 'w' in images.filters.tensor: images show parameters and state tensors");
  });

  it("a graph entry is E050 too (images show parameters)", () => {
    const d = oneError("  filters: { tensor: y, image_shape: [2, 3], tiles: [2, 2] }");
    expect(d.code).toBe("E050");
    expect(d.message).toContain("'y', which is a graph entry");
  });

  it("an image shape that does not multiply to the row length is E051 at image_shape, naming the declaration", () => {
    const d = oneError("  filters: { tensor: W, transpose: true, image_shape: [4, 5], tiles: [2, 3] }");
    expect([d.code, d.line, d.col]).toEqual(["E051", 22, 55]);
    expect(d.message).toBe("image 'filters': an image of 4×5 = 20 pixels, but a row of W.T (a column of W) has 16 values");
    expect(d.help).toBe("image_shape must multiply to 16, e.g. [4, 4]");
    expect(d.related?.[0]).toEqual({ line: 10, col: 15, message: "'W' is declared [16, 6] here" });
  });

  it("the rows of W are 6 long: the help suggests transpose when the columns fit", () => {
    const d = oneError("  filters: { tensor: W, image_shape: [4, 4], tiles: [2, 3] }");
    expect(d.code).toBe("E051");
    expect(d.message).toContain("a row of 'W' has 6 values");
    expect(d.help).toBe("image_shape must multiply to 6, e.g. [2, 3]; or add `transpose: true` to show its columns");
  });

  it("transpose of a vector is E051 at `transpose`", () => {
    const d = oneError("  bias: { tensor: b_prime, transpose: true, image_shape: [4, 4], tiles: [1, 1] }");
    expect([d.code, d.line, d.col]).toEqual(["E051", 22, 28]);
    expect(d.message).toContain("`transpose` needs a matrix, but 'b_prime' has 1 dimensions [16]");
    expect(d.help).toContain("a vector is one image");
  });

  it("an image and a sampler of the same name would write the same file: E052", () => {
    const ds = errorsOf(`${spec(FILTERS)}samplers:\n  filters: { input: x, chains: 2, rows: 1, next: z, show: z, image: { shape: [4, 4] } }\n`);
    expect(ds.length, ds.map((d) => formatDiagnostic(d)).join("\n")).toBe(1);
    expect([ds[0]!.code, ds[0]!.line, ds[0]!.col, ds[0]!.message]).toEqual(["E052", 22, 3, "image 'filters' and sampler 'filters' would both write filters.png"]);
    expect(ds[0]!.related?.[0]).toEqual({ line: 24, col: 3, message: "sampler 'filters'" });
  });

  it("schema: a pair with one number, an unknown key, an unknown `when`", () => {
    const one = oneError("  filters: { tensor: W, transpose: true, image_shape: [16], tiles: [2, 3] }");
    expect([one.code, one.message]).toEqual(["E006", "'images.filters.image_shape' has 1 item, exactly 2 are needed"]);
    const three = oneError("  filters: { tensor: W, transpose: true, image_shape: [4, 4], tiles: [2, 3, 1] }");
    expect([three.code, three.message]).toEqual(["E006", "'images.filters.tiles' has 3 items, exactly 2 are needed"]);
    const key = oneError("  filters: { tensor: W, transpose: true, image_shape: [4, 4], tile: [2, 3] }");
    expect(key.code).toBe("E003");
    expect(key.help).toContain("did you mean 'tiles'?");
    expect(key.help).toContain("valid keys: tensor, transpose, image_shape, tiles, spacing, scale_rows, when");
    const when = oneError("  filters: { tensor: W, transpose: true, image_shape: [4, 4], tiles: [2, 3], when: ende }");
    expect([when.code, when.help]).toEqual(["E007", "did you mean 'end'? (expected one of: end, phase, epoch)"]);
  });
});

describe("images: description", () => {
  it("fills the defaults (spacing [1, 1], scaled rows, written at the end)", () => {
    const ls = loadSpecText(spec(FILTERS), "t.yaml");
    expect(ls.warnings ?? []).toEqual([]);
    expect(describeModel(ls, []).images).toEqual([
      { name: "filters", tensor: "W", source: "param", transpose: true, imageShape: [4, 4], tiles: [2, 3], spacing: [1, 1], scaleRows: true, when: "end" },
    ]);
  });

  it("specs without images have no `images` key (their generated code is unchanged)", () => {
    expect("images" in describeModel(loadSpec("specs/logreg.yaml"), [])).toBe(false);
  });

  it("specs/da.yaml shows W.T as the tutorial's 10×10 tiles of 28×28", () => {
    expect(describeModel(loadSpec("specs/da.yaml"), []).images).toEqual([
      { name: "filters_corruption_30", tensor: "W", source: "param", transpose: true, imageShape: [28, 28], tiles: [10, 10], spacing: [1, 1], scaleRows: true, when: "end" },
    ]);
  });
});

async function compiled(text: string, dirName: string): Promise<CompiledModel> {
  const c = compileSpec(loadSpecText(text, "t.yaml"));
  const dir = join(ROOT, "generated", dirName);
  dirs.push(dir);
  mkdirSync(dir, { recursive: true });
  for (const name of ["model.ts", "loops-wasm.ts"]) if (c.files.has(name)) writeFileSync(join(dir, name), c.files.get(name)!);
  const { Model } = (await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel };
  return new Model();
}

describe("images: the trainer writes them", () => {
  const images = [
    FILTERS,
    "  per_epoch: { tensor: W, transpose: true, image_shape: [4, 4], tiles: [1, 2], spacing: [0, 2], when: epoch }",
    "  per_phase: { tensor: b_prime, image_shape: [4, 4], tiles: [1, 1], when: phase }",
  ].join("\n");

  it("a PNG of the expected size at the end, per epoch and per phase; metrics hold the per-epoch mean cost", async () => {
    const m = await compiled(spec(images), ".tmp-images-tiny");
    const splits = syntheticSplits(m.desc.data, m.desc.inputs, 3, { train: 20, valid: 0, test: 0 });
    const store = new MemoryRunStore();
    const infos: string[] = [];
    const log: Logger = { ...silentLogger, info: (s) => infos.push(s) };
    await runTraining(m, splits, store, { log, encodeImage: encodePng });
    expect([...store.files.keys()].filter((f) => f.endsWith(".png")).sort()).toEqual(["filters.png", "per_epoch_epoch_1.png", "per_epoch_epoch_2.png", "per_phase_p1.png"]);
    const size = (f: string) => {
      const img = readPngGray(store.files.get(f)!);
      return [img.width, img.height];
    };
    expect(size("filters.png")).toEqual([(4 + 1) * 3 - 1, (4 + 1) * 2 - 1]);
    expect(size("per_epoch_epoch_1.png")).toEqual([4 + 2 + 4, 4]);
    expect(size("per_phase_p1.png")).toEqual([4, 4]);
    // The end image shows the final W: every filter spans 0..255.
    const px = readPngGray(store.files.get("filters.png")!).pixels;
    expect(Math.max(...px)).toBe(255);
    expect(infos.some((s) => s.startsWith("image filters: memory:filters.png (2×3 tiles of 4×4 from W.T)"))).toBe(true);
    // No metrics section and no validation: one record per epoch with the
    // mean of its minibatch costs (the tutorial's "Training epoch %d, cost").
    const recs = store.lines("metrics.jsonl").map((l) => JSON.parse(l) as { epoch: number; minibatch: number; trainCost: number; valid: unknown });
    expect(recs.map((r) => [r.epoch, r.minibatch, r.valid])).toEqual([
      [1, 5, null],
      [2, 5, null],
    ]);
    expect(recs.every((r) => Number.isFinite(r.trainCost))).toBe(true);
  });

  it("multi-phase epoch images carry the phase name; without an encoder images are skipped with a note", async () => {
    const m = await compiled(spec("  w: { tensor: W, transpose: true, image_shape: [4, 4], tiles: [1, 1], when: epoch }", 2), ".tmp-images-tiny2");
    const splits = syntheticSplits(m.desc.data, m.desc.inputs, 3, { train: 8, valid: 0, test: 0 });
    const store = new MemoryRunStore();
    await runTraining(m, splits, store, { log: silentLogger, encodeImage: encodePng });
    expect([...store.files.keys()].filter((f) => f.endsWith(".png")).sort()).toEqual(["w_p1_epoch_1.png", "w_p1_epoch_2.png", "w_p2_epoch_1.png", "w_p2_epoch_2.png"]);

    const bare = new MemoryRunStore();
    const infos: string[] = [];
    await runTraining(await compiled(spec(FILTERS), ".tmp-images-tiny3"), splits, bare, { log: { ...silentLogger, info: (s) => infos.push(s) } });
    expect([...bare.files.keys()].filter((f) => f.endsWith(".png"))).toEqual([]);
    expect(infos).toContain("images: not written (no image encoder given to the trainer): filters");
  });

  it("dlt-train's Node store writes <out>/<name>.png (PNG via pngjs), atomically: no temporary files left", async () => {
    const m = await compiled(spec(FILTERS), ".tmp-images-tiny4");
    const out = mkdtempSync(join(tmpdir(), "dlt-images-run-"));
    dirs.push(out);
    await train(m, syntheticSplits(m.desc.data, m.desc.inputs, 3, { train: 8, valid: 0, test: 0 }), { outDir: out, log: silentLogger });
    expect(readdirSync(out).sort()).toEqual(["checkpoint.safetensors", "filters.png", "metrics.jsonl"]);
    const img = readPngGray(new Uint8Array(readFileSync(join(out, "filters.png"))));
    expect([img.width, img.height]).toEqual([14, 9]);
  });
});
