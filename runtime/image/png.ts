// Grayscale PNG files in Node (pngjs): the filters and samples of a run,
// as the tutorial saves them with PIL (Image.fromarray(...).save(...)).
// The tiling itself is pure and lives in tile.ts.
import { PNG } from "pngjs";
import { writeFileAtomic } from "../node/atomic-write.ts";

function checkSize(pixels: Uint8Array, width: number, height: number): void {
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`PNG size must be positive integers, found ${width}×${height}`);
  }
  if (pixels.length !== width * height) throw new RangeError(`a ${width}×${height} grayscale image has ${width * height} pixels, found ${pixels.length}`);
}

/** An 8-bit grayscale PNG (colour type 0) of `pixels`, row-major. */
export function encodePng(pixels: Uint8Array, width: number, height: number): Uint8Array {
  checkSize(pixels, width, height);
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  png.data = Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength);
  const buf = PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8, inputHasAlpha: false });
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Writes `pixels` as a grayscale PNG at `path`, atomically (a temporary
 * file renamed over `path`, as checkpoints are written). */
export function writePng(path: string, pixels: Uint8Array, width: number, height: number): void {
  writeFileAtomic(path, encodePng(pixels, width, height));
}

/** Decodes a PNG into one byte per pixel (the red channel; pngjs expands
 * every colour type to RGBA). For tests and tools. */
export function readPngGray(bytes: Uint8Array): { width: number; height: number; pixels: Uint8Array } {
  const img = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  const pixels = new Uint8Array(img.width * img.height);
  for (let i = 0; i < pixels.length; i++) pixels[i] = img.data[4 * i]!;
  return { width: img.width, height: img.height, pixels };
}
