// Trace plot of recorded draws (a sampler's chains): one panel per
// coordinate (the last axis), the draw on the horizontal axis, every chain
// a line of its own gray on white. Grayscale bytes for the caller's encoder.

/** Panel height and the white gap between panels, in pixels. */
const PANEL = 72;
const GAP = 6;
/** At most this many columns: longer runs are thinned to every k-th draw. */
const MAX_WIDTH = 1000;

export interface TraceImage {
  readonly pixels: Uint8Array;
  readonly width: number;
  readonly height: number;
}

/** `samples` is [draws, ...chains, dim] (row-major; `shape` says so). */
export function renderTrace(samples: Float32Array, shape: readonly number[]): TraceImage {
  const draws = shape[0] ?? 0;
  const dim = shape.length > 1 ? shape[shape.length - 1]! : 1;
  const chains = draws > 0 ? samples.length / draws / dim : 0;
  const every = Math.max(1, Math.ceil(draws / MAX_WIDTH));
  const width = Math.max(1, Math.ceil(draws / every));
  const height = dim * PANEL + (dim - 1) * GAP;
  const pixels = new Uint8Array(width * height).fill(255);
  // Chain c's gray: dark to mid, so every line stays visible on white.
  const gray = (c: number): number => (chains <= 1 ? 0 : Math.round((160 * c) / (chains - 1)));
  for (let j = 0; j < dim; j++) {
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < samples.length; i += dim) {
      const v = samples[i + j]!;
      if (Number.isFinite(v)) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
    }
    if (!(hi > lo)) [lo, hi] = [lo - 1, lo + 1];
    const top = j * (PANEL + GAP);
    const yOf = (v: number): number => top + Math.round((PANEL - 1) * (1 - (Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)));
    // A light frame line under each panel separates them.
    for (let x = 0; x < width; x++) pixels[(top + PANEL - 1) * width + x] = Math.min(pixels[(top + PANEL - 1) * width + x]!, 220);
    for (let c = 0; c < chains; c++) {
      let prev = -1;
      for (let x = 0; x < width; x++) {
        const d = Math.min(draws - 1, x * every);
        const v = samples[(d * chains + c) * dim + j]!;
        if (!Number.isFinite(v)) {
          prev = -1;
          continue;
        }
        const y = yOf(v);
        // A vertical run from the previous point joins the line.
        const [a, b] = prev < 0 ? [y, y] : [Math.min(prev, y), Math.max(prev, y)];
        for (let yy = a; yy <= b; yy++) pixels[yy * width + x] = Math.min(pixels[yy * width + x]!, gray(c));
        prev = y;
      }
    }
  }
  return { pixels, width, height };
}
