// The test error of an exported model under ONNX Runtime (onnxruntime-node):
//   npx tsx bench/onnx-test-error.ts SPEC.yaml MODEL.onnx [--data DIR]
// Reads the spec's test split (full MNIST with --data), runs the ONNX model
// batch by batch (its static batch size), and prints the error rate of its
// first output's argmax — to compare with what dlt-train reported for the
// same parameters (docs/results.md, LeNet exported).
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { loadDataset } from "../runtime/node/datasets.ts";
import onnxProto from "onnx-proto";
import { ort } from "../test/setup/onnx-runtime.ts";

const [specFile, onnxFile, ...rest] = process.argv.slice(2);
if (!specFile || !onnxFile) throw new Error("usage: npx tsx bench/onnx-test-error.ts SPEC.yaml MODEL.onnx [--data DIR]");
const dataDir = rest[0] === "--data" ? rest[1] : undefined;
const c = compileSpec(loadSpec(specFile));
const data = await loadDataset(c.desc.data, { inputs: c.desc.inputs, seed: c.desc.seed, ...(dataDir ? { dataDir: resolve(dataDir) } : {}) });
const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(onnxFile)));
const input = session.inputNames[0]!;
const output = session.outputNames[0]!;
const test = data.test;
const per = test.shape.reduce((a, d) => a * d, 1);
// The model's batch: the first dimension of its input, read from the file.
const model = onnxProto.onnx.ModelProto.decode(readFileSync(onnxFile));
// A dynamic batch (`batch`): 500 digits a run.
const dim0 = model.graph?.input?.[0]?.type?.tensorType?.shape?.dim?.[0];
const batch = dim0?.dimParam ? 500 : Number(dim0?.dimValue ?? 1);
let wrong = 0;
let seen = 0;
const started = Date.now();
for (let s = 0; s + batch <= test.n; s += batch) {
  const x = test.x.slice(s * per, (s + batch) * per);
  const out = (await session.run({ [input]: new ort.Tensor("float32", x, [batch, per]) }))[output]!;
  const k = out.dims[1]!;
  const p = out.data as Float32Array;
  for (let i = 0; i < batch; i++) {
    let arg = 0;
    for (let j = 1; j < k; j++) if (p[i * k + j]! > p[i * k + arg]!) arg = j;
    if (arg !== test.y[s + i]) wrong++;
  }
  seen += batch;
}
console.log(`${onnxFile}: test error ${((100 * wrong) / seen).toFixed(2)} % (${wrong} of ${seen} test examples, ONNX Runtime ${ort.env.versions.common}, ${((Date.now() - started) / 1000).toFixed(1)} s)`);
