// The tutorial's tile_raster_images and the PNG files of a run: small tiles
// computed by hand (and with the tutorial's numpy code on float32 input), the
// PNG round trip through pngjs, atomic writes, and the images a model
// description asks the trainer for.

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { imageFileName, renderImage } from "../runtime/image/images.ts";
import { encodePng, readPngGray, writePng } from "../runtime/image/png.ts";
import { rowsOf, scaleToUnitInterval, tiledSize, tileRasterImages } from "../runtime/image/tile.ts";
import type { ImageDesc, ModelDescription } from "../runtime/compiled-model.ts";

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), "dlt-images-"));
  dirs.push(d);
  return d;
};

const rowsOfPixels = (px: Uint8Array, width: number): number[][] => Array.from({ length: px.length / width }, (_, r) => Array.from(px.subarray(r * width, (r + 1) * width)));

describe("tileRasterImages (the tutorial's tile_raster_images)", () => {
  it("output size is (img + spacing) · tiles − spacing", () => {
    expect(tiledSize([28, 28], [10, 10], [1, 1])).toEqual({ height: 289, width: 289 });
    expect(tiledSize([2, 3], [1, 3], [1, 2])).toEqual({ height: 2, width: 13 });
  });

  it("scales each image by its own min/max, tiles row by row, leaves spacing and empty cells black", () => {
    // 2×2 images:  [0 .5; 1 .25] → 0, 127 (127.5 truncated), 255, 63 (63.75)
    //              [2 2; 2 4]    → 0, 0, 0, 255 (its own range, not the others')
    //              [-1 1; .3 -.7]→ 0, 255, 165 (1.3/2·255 = 165.75), 38 (0.3/2·255)
    const X = Float32Array.from([0, 0.5, 1, 0.25, 2, 2, 2, 4, -1, 1, 0.3, -0.7]);
    const t = tileRasterImages(X, 3, [2, 2], [2, 2], [1, 1]);
    expect([t.width, t.height]).toEqual([5, 5]);
    expect(rowsOfPixels(t.pixels, t.width)).toEqual([
      [0, 127, 0, 0, 0],
      [255, 63, 0, 0, 255],
      [0, 0, 0, 0, 0],
      [0, 255, 0, 0, 0],
      [165, 38, 0, 0, 0],
    ]);
  });

  it("matches the tutorial's numpy code on float32 rows (uneven image shape and spacing)", () => {
    // numpy.random.RandomState(1).uniform(-1, 1, (3, 6)).astype('float32'),
    // tile_raster_images(Y, (2, 3), (1, 3), (1, 2)).
    const Y = Float32Array.from([
      -0.16595599055290222, 0.44064897298812866, -0.999771237373352, -0.3953348696231842, -0.7064881920814514, -0.8153228163719177,
      -0.6274795532226562, -0.3088785409927368, -0.20646505057811737, 0.07763347029685974, -0.16161097586154938, 0.37043899297714233,
      -0.591095507144928, 0.756234884262085, -0.9452248215675354, 0.34093502163887024, -0.16539040207862854, 0.11737965792417526,
    ]);
    const t = tileRasterImages(Y, 3, [2, 3], [1, 3], [1, 2]);
    expect(rowsOfPixels(t.pixels, t.width)).toEqual([
      [147, 255, 0, 0, 0, 0, 81, 107, 0, 0, 53, 255, 0],
      [107, 51, 32, 0, 0, 180, 119, 255, 0, 0, 192, 116, 159],
    ]);
  });

  it("a constant image is black; rows beyond the grid are ignored", () => {
    const X = Float32Array.from([5, 5, 5, 5, 0, 1, 2, 3]);
    const t = tileRasterImages(X, 2, [2, 2], [1, 1], [1, 1]);
    expect(Array.from(t.pixels)).toEqual([0, 0, 0, 0]);
  });

  it("scale_to_unit_interval rounds like numpy on float32 (maximum → exactly 1, so 255)", () => {
    expect(Array.from(scaleToUnitInterval(Float32Array.from([-1, 1, 0])))).toEqual([0, 1, 0.5]);
  });

  it("without scaling or pixel values it copies the floats", () => {
    const X = Float32Array.from([0.1, 0.2, 0.3, 0.4]);
    const t = tileRasterImages(X, 2, [1, 2], [1, 2], [0, 1], { scaleRowsToUnitInterval: false, outputPixelVals: false });
    expect(t.pixels).toBeInstanceOf(Float32Array);
    expect(Array.from(t.pixels)).toEqual(Array.from(Float32Array.from([0.1, 0.2, 0, 0.3, 0.4])));
  });

  it("rejects data that does not hold `rows` images", () => {
    expect(() => tileRasterImages(new Float32Array(7), 2, [2, 2], [1, 2], [1, 1])).toThrow(/expected 2 rows of 2×2 = 4 values \(8\), found 7/);
  });

  it("rowsOf: a matrix's rows, or with transpose its columns (W.T)", () => {
    const W = Float32Array.from([1, 2, 3, 4, 5, 6]); // [2, 3]
    expect(rowsOf(W, [2, 3], false)).toMatchObject({ rows: 2, rowLength: 3 });
    const t = rowsOf(W, [2, 3], true);
    expect([t.rows, t.rowLength, Array.from(t.data)]).toEqual([3, 2, [1, 4, 2, 5, 3, 6]]);
    expect(rowsOf(new Float32Array(4), [4], false)).toMatchObject({ rows: 1, rowLength: 4 });
    expect(rowsOf(new Float32Array(24), [2, 3, 2, 2], false)).toMatchObject({ rows: 2, rowLength: 12 });
  });
});

describe("PNG files", () => {
  it("encodes 8-bit grayscale that pngjs decodes to the same pixels", () => {
    const px = Uint8Array.from({ length: 13 * 7 }, (_, i) => (i * 37) % 256);
    const bytes = encodePng(px, 13, 7);
    expect(Array.from(bytes.subarray(1, 4))).toEqual([0x50, 0x4e, 0x47]); // "PNG"
    expect(bytes[24]).toBe(8); // IHDR bit depth
    expect(bytes[25]).toBe(0); // IHDR colour type: grayscale
    const back = readPngGray(bytes);
    expect([back.width, back.height]).toEqual([13, 7]);
    expect(Array.from(back.pixels)).toEqual(Array.from(px));
  });

  it("writePng replaces the file atomically and leaves no temporary file", () => {
    const dir = tempDir();
    const file = join(dir, "filters.png");
    const t = tileRasterImages(Float32Array.from([0, 0.5, 1, 0.25, 2, 2, 2, 4]), 2, [2, 2], [1, 2], [1, 1]);
    writePng(file, Uint8Array.from(t.pixels).fill(7), t.width, t.height);
    writePng(file, t.pixels, t.width, t.height);
    expect(readdirSync(dir)).toEqual(["filters.png"]);
    const back = readPngGray(new Uint8Array(readFileSync(file)));
    expect([back.width, back.height]).toEqual([5, 2]);
    expect(rowsOfPixels(back.pixels, back.width)).toEqual([
      [0, 127, 0, 0, 0],
      [255, 63, 0, 0, 255],
    ]);
  });

  it("rejects a pixel count that does not match the size", () => {
    expect(() => encodePng(new Uint8Array(5), 2, 2)).toThrow(/has 4 pixels, found 5/);
    expect(existsSync(join(tempDir(), "x.png"))).toBe(false);
  });
});

describe("images of a model description", () => {
  const img = (over: Partial<ImageDesc> = {}): ImageDesc => ({
    name: "filters",
    tensor: "W",
    source: "param",
    transpose: true,
    imageShape: [2, 2],
    tiles: [1, 3],
    spacing: [1, 1],
    scaleRows: true,
    when: "end",
    ...over,
  });
  const desc = { params: [{ name: "W", shape: [4, 3], dtype: "f32", init: { kind: "zeros" } }], state: [] } as unknown as ModelDescription;

  it("file names by `when`", () => {
    expect(imageFileName(img(), 1, "train", 0)).toBe("filters.png");
    expect(imageFileName(img({ when: "phase" }), 2, "pretrain1", 15)).toBe("filters_pretrain1.png");
    expect(imageFileName(img({ when: "epoch" }), 1, "train", 3)).toBe("filters_epoch_3.png");
    expect(imageFileName(img({ when: "epoch" }), 2, "finetune", 3)).toBe("filters_finetune_epoch_3.png");
  });

  it("renders the columns of W (transpose) as images", () => {
    // W [4, 3]: column j is hidden unit j's filter, here [j, j+1, j+2, 3j].
    const W = new Float32Array(12);
    for (let j = 0; j < 3; j++) [j, j + 1, j + 2, 3 * j].forEach((v, i) => (W[i * 3 + j] = v));
    const t = renderImage(desc, img(), { W });
    expect([t.width, t.height]).toEqual([8, 2]);
    // column 0 = [0 1 2 0] → 0 127 255 0; column 1 = [1 2 3 3] → 0 127 255 255;
    // column 2 = [2 3 4 6] → 0 63 127 255.
    expect(rowsOfPixels(t.pixels, t.width)).toEqual([
      [0, 127, 0, 0, 127, 0, 0, 63],
      [255, 0, 0, 255, 255, 0, 127, 255],
    ]);
  });

  it("a description that does not fit its tensor is an error", () => {
    expect(() => renderImage(desc, img({ imageShape: [3, 3] }), { W: new Float32Array(12) })).toThrow(/rows of 'W' \[4, 3\] transposed have 4 values, not 3×3/);
    expect(() => renderImage(desc, img({ tensor: "V" }), { W: new Float32Array(12) })).toThrow(/no param tensor 'V'/);
  });
});
