// dlt-train SPEC [--data DIR] [--resume] [--epochs N] [--steps N] [--out DIR] [--quiet] [--check-grad]
// Compiles the spec when generated/<model>/ is missing or stale, then runs the
// generated model on the runtime's trainer.
import { pathToFileURL } from "node:url";
import { join } from "node:path";
import { checkSpecGradients } from "../check/gradcheck.ts";
import { compileSpec } from "../compile.ts";

import type { CompiledModel } from "../../runtime/model.ts";
import { runMain } from "../../runtime/node/main.ts";
import { displayPath, generatedDir, loadSpecFile, staleFiles, writeFiles } from "./files.ts";
import { printGradCheck } from "./check-grad-print.ts";
import { report } from "./report.ts";

async function main(argv: string[]): Promise<number> {
  const file = argv.find((a) => a.endsWith(".yaml") || a.endsWith(".yml"));
  if (!file) {
    process.stderr.write("usage: dlt-train SPEC.yaml [--data DIR] [--resume] [--epochs N] [--out DIR] [--quiet] [--check-grad]\n");
    return 1;
  }
  const shown = displayPath(file);
  let model: CompiledModel;
  try {
    const ls = loadSpecFile(file);
    if (argv.includes("--check-grad")) {
      process.stdout.write(`# gradient check of ${shown} (f64, central differences on a random projection)\n`);
      return printGradCheck(checkSpecGradients(ls)) ? 0 : 1;
    }
    const c = compileSpec(ls);
    const dir = generatedDir(c.name);
    if (staleFiles(dir, c.files).length > 0) {
      writeFiles(dir, c.files);
      process.stderr.write(`compiled ${shown} → generated/${c.name}/\n`);
    }
    const mod = (await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel };
    model = new mod.Model();
  } catch (e) {
    return report(e, shown);
  }
  return runMain(model, argv.filter((a) => a !== file));
}

process.exitCode = await main(process.argv.slice(2));
