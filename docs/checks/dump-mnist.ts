// Writes the tutorial split of full MNIST, exactly as dlt-train feeds it
// (pixels scaled to [0, 1], train = first 50,000, valid = last 10,000), as
// raw little-endian arrays in /tmp for independent re-implementations:
//   npx tsx docs/checks/dump-mnist.ts ../shared/data/mnist
//   python3 docs/checks/newmu_net_numpy.py 6
import { writeFileSync } from "node:fs";
import { loadDataset } from "../../runtime/node/datasets.ts";
import { description } from "../../generated/newmu_net/model.ts";

const dataDir = process.argv[2] ?? "../shared/data/mnist";
const splits = await loadDataset(description.data, { dataDir, inputs: description.inputs, seed: description.seed });
for (const k of ["train", "valid", "test"] as const) {
  writeFileSync(`/tmp/mn-${k}-x.f32`, splits[k].x);
  writeFileSync(`/tmp/mn-${k}-y.i32`, splits[k].y);
  console.log(`${k}: ${splits[k].n} examples -> /tmp/mn-${k}-{x.f32,y.i32}`);
}
