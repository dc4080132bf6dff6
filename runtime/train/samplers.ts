// Samplers run after training (a spec's `samplers:` section): chains start
// from the first test examples, each call of the model's compiled sampler
// advances them (e.g. 1,000 Gibbs steps) and yields one row of images, and
// the rows are tiled as the tutorial's samples.png. Pure: the caller writes
// the image (runtime/image/png.ts in Node).
import type { Split } from "../data/dataset.ts";
import type { CompiledModel, SamplerDesc } from "../compiled-model.ts";
import { tileRasterImages, type TiledImage } from "../image/tile.ts";

export interface SampleImage {
  readonly sampler: SamplerDesc;
  readonly image: TiledImage<Uint8Array>;
  /** What the rows showed, row after row (rows × chains × h·w). */
  readonly rows: Float32Array;
}

/** Runs every sampler of the model on chains started from `test`. */
export function runSamplers(model: CompiledModel, test: Split): SampleImage[] {
  const samplers = model.desc.samplers ?? [];
  if (samplers.length === 0) return [];
  if (!model.sample) throw new Error(`${model.desc.name}: this model object cannot run samplers (they run on the CPU model)`);
  return samplers.map((sm, index) => {
    let chains: Float32Array;
    if (sm.fromState) {
      // A state tensor's chains start from its value; the state itself is
      // left as training left it (a copy is advanced).
      chains = Float32Array.from(model.state[sm.input]!);
    } else {
      const input = model.desc.inputs.find((i) => i.name === sm.input)!;
      const per = input.shape.reduce((a, d) => a * d, 1);
      if (test.n < sm.chains) throw new Error(`sampler ${sm.name}: needs ${sm.chains} test examples, the test split has ${test.n}`);
      chains = test.x.slice(0, sm.chains * per);
    }
    const [h, w] = sm.imageShape;
    const rows = new Float32Array(sm.rows * sm.chains * h * w);
    const out = { next: new Float32Array(chains.length), show: new Float32Array(sm.chains * h * w) };
    const saved = sm.fromState ? Float32Array.from(model.state[sm.input]!) : undefined;
    for (let r = 0; r < sm.rows; r++) {
      if (saved) (model.state[sm.input] as Float32Array).set(chains);
      model.sample!(index, sm.fromState ? {} : { [sm.input]: chains }, out, r);
      rows.set(out.show, r * out.show.length);
      chains = Float32Array.from(out.next);
    }
    if (saved) (model.state[sm.input] as Float32Array).set(saved);
    const image = tileRasterImages(rows, sm.rows * sm.chains, [h, w], [sm.rows, sm.chains], [sm.spacing, sm.spacing]);
    return { sampler: sm, image, rows };
  });
}
