// The tutorial's tile_raster_images (utils.py, "Plotting Samples and
// Filters"): every row of a matrix is one flattened image; the first
// tiles[0]·tiles[1] rows are laid out row by row on a grid with `spacing`
// black pixels between them. Pure (no I/O), so the browser trainer can use
// it; runtime/image/png.ts turns the pixels into a PNG file in Node.
//
// Arithmetic follows numpy on a float32 matrix (W.get_value() with
// floatX=float32): scale_to_unit_interval subtracts the row's minimum and
// multiplies by the float32 rounding of 1/(max + 1e-8), every step rounded
// to float32; `* 255` and the assignment into the uint8 output truncate
// toward zero. So a row's minimum becomes 0 and, for a row spanning more
// than ~1e-6, its maximum becomes 255.

export type Pair = readonly [number, number];

/** Options of tileRasterImages: per-tile scaling to [0, 1] and pixel output. */
export interface TileOptions {
  /** Scale each image to [0, 1] by its own minimum and maximum (default
   * true, as the tutorial). Without it values are taken as they are. */
  readonly scaleRowsToUnitInterval?: boolean;
  /** Output 0–255 bytes (default true) rather than floats in [0, 1]. */
  readonly outputPixelVals?: boolean;
}

/** A grayscale image, row-major, one value per pixel. */
export interface TiledImage<T extends Uint8Array | Float32Array> {
  readonly width: number;
  readonly height: number;
  readonly pixels: T;
}

/** The tutorial's out_shape: (img + spacing) · tiles − spacing per axis. */
export function tiledSize(imgShape: Pair, tileShape: Pair, tileSpacing: Pair): { width: number; height: number } {
  return {
    height: (imgShape[0] + tileSpacing[0]) * tileShape[0] - tileSpacing[0],
    width: (imgShape[1] + tileSpacing[1]) * tileShape[1] - tileSpacing[1],
  };
}

/** scale_to_unit_interval(ndar, eps=1e-8) on one float32 image, in place. */
export function scaleToUnitInterval(v: Float32Array, eps = 1e-8): Float32Array {
  let min = Infinity;
  for (let i = 0; i < v.length; i++) if (v[i]! < min) min = v[i]!;
  let max = -Infinity;
  for (let i = 0; i < v.length; i++) {
    v[i] = Math.fround(v[i]! - min);
    if (v[i]! > max) max = v[i]!;
  }
  const k = Math.fround(1 / (max + eps));
  for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]! * k);
  return v;
}

function checkPair(p: Pair, what: string, min: number): void {
  if (p.length !== 2 || !p.every((x) => Number.isSafeInteger(x) && x >= min)) {
    throw new RangeError(`tileRasterImages: ${what} must be two integers ≥ ${min}, found [${p.join(", ")}]`);
  }
}

/**
 * tile_raster_images(X, img_shape, tile_shape, tile_spacing,
 * scale_rows_to_unit_interval, output_pixel_vals) for a single channel.
 * `X` holds `rows` images of imgShape[0]·imgShape[1] values each, row-major.
 * Rows beyond the grid are ignored; grid cells beyond the rows stay 0.
 * Without scaling, byte output clamps to [0, 255] (numpy would wrap).
 */
export function tileRasterImages(X: Float32Array, rows: number, imgShape: Pair, tileShape: Pair, tileSpacing: Pair, opts?: TileOptions & { readonly outputPixelVals?: true }): TiledImage<Uint8Array>;
export function tileRasterImages(X: Float32Array, rows: number, imgShape: Pair, tileShape: Pair, tileSpacing: Pair, opts: TileOptions & { readonly outputPixelVals: false }): TiledImage<Float32Array>;
export function tileRasterImages(X: Float32Array, rows: number, imgShape: Pair, tileShape: Pair, tileSpacing: Pair, opts: TileOptions = {}): TiledImage<Uint8Array | Float32Array> {
  checkPair(imgShape, "img_shape", 1);
  checkPair(tileShape, "tile_shape", 1);
  checkPair(tileSpacing, "tile_spacing", 0);
  const [H, W] = imgShape;
  const [Hs, Ws] = tileSpacing;
  const n = H * W;
  if (!Number.isSafeInteger(rows) || rows < 0 || X.length !== rows * n) {
    throw new RangeError(`tileRasterImages: expected ${rows} rows of ${H}×${W} = ${n} values (${rows * n}), found ${X.length} values`);
  }
  const scale = opts.scaleRowsToUnitInterval ?? true;
  const bytes = opts.outputPixelVals ?? true;
  const { width, height } = tiledSize(imgShape, tileShape, tileSpacing);
  const out = bytes ? new Uint8Array(width * height) : new Float32Array(width * height);
  const img = new Float32Array(n);
  for (let tr = 0; tr < tileShape[0]; tr++) {
    for (let tc = 0; tc < tileShape[1]; tc++) {
      const r = tr * tileShape[1] + tc;
      if (r >= rows) continue;
      img.set(X.subarray(r * n, (r + 1) * n));
      if (scale) scaleToUnitInterval(img);
      const y0 = tr * (H + Hs);
      const x0 = tc * (W + Ws);
      for (let y = 0; y < H; y++) {
        const o = (y0 + y) * width + x0;
        for (let x = 0; x < W; x++) {
          const v = img[y * W + x]!;
          // uint8 assignment of a float32 product: truncation toward zero.
          out[o + x] = bytes ? Math.min(255, Math.max(0, Math.trunc(Math.fround(v * 255)))) : v;
        }
      }
    }
  }
  return { width, height, pixels: out };
}

/** The rows of a matrix [r, c] as images: `transpose` gives the rows of its
 * transpose (the tutorial's W.T: one image per column, i.e. per hidden unit).
 * Returns the rows and their length. */
export function rowsOf(values: Float32Array, shape: readonly number[], transpose: boolean): { data: Float32Array; rows: number; rowLength: number } {
  const size = shape.reduce((a, d) => a * d, 1);
  if (values.length !== size) throw new RangeError(`rowsOf: shape [${shape.join(", ")}] has ${size} values, found ${values.length}`);
  if (!transpose) {
    // A vector is one image; a higher-rank tensor is images along its first
    // axis (conv filters [K, C, kh, kw]: K images of C·kh·kw values).
    const rows = shape.length <= 1 ? 1 : shape[0]!;
    return { data: values, rows, rowLength: size / rows };
  }
  if (shape.length !== 2) throw new RangeError(`rowsOf: transpose needs a matrix, found shape [${shape.join(", ")}]`);
  const [r, c] = shape as [number, number];
  const t = new Float32Array(size);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = values[i * c + j]!;
  return { data: t, rows: c, rowLength: r };
}
