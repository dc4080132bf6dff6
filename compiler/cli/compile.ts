// dlt-compile: spec → generated/<model>/. Flags:
//   --all          every specs/*.yaml
//   --check        write nothing; exit 1 if any generated file is stale
//   --dump-ir      print the optimised IR of every step and the eval graph
//   --dump-lowered print the lowered program every back end renders
//   --check-grad   finite-difference check of each phase's full gradient
import { relative } from "node:path";
import { checkSpecGradients } from "../gradcheck/gradcheck.ts";
import { compileSpec } from "../compile.ts";
import { runtimeKernelFiles } from "../emit/wasm/assemble.ts";
import { printGraph } from "../ir/print.ts";
import { printProgram } from "../lower/print.ts";

import { ROOT, allSpecs, displayPath, generatedDir, loadSpecFile, removeObsolete, staleFiles, writeFiles } from "./files.ts";
import { report } from "./report.ts";
import { printGradCheck } from "./check-grad-print.ts";

const USAGE = `usage: dlt-compile [SPEC.yaml ...] [--all] [--check] [--dump-ir] [--dump-lowered] [--check-grad]`;

async function main(argv: string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith("--")));
  for (const f of flags) {
    if (!["--all", "--check", "--dump-ir", "--dump-lowered", "--check-grad", "--help"].includes(f)) {
      process.stderr.write(`dlt-compile: unknown option ${f}\n${USAGE}\n`);
      return 1;
    }
  }
  if (flags.has("--help")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  const specs = flags.has("--all") ? allSpecs() : argv.filter((a) => !a.startsWith("--"));
  if (specs.length === 0) {
    process.stderr.write(`${USAGE}\n`);
    return 1;
  }
  let rc = 0;
  const stale: string[] = [];
  for (const file of specs) {
    const shown = displayPath(file);
    try {
      const ls = loadSpecFile(file);
      for (const w of ls.warnings ?? []) process.stderr.write(`${w.file}:${w.line}:${w.col} warning[${w.code}]: ${w.message}\n`);
      const c = compileSpec(ls);
      if (flags.has("--dump-ir")) {
        c.steps.forEach((g, i) => process.stdout.write(`# ${c.name}: training step of phase '${ls.spec.phases[i]!.name}'\n${printGraph(g)}\n\n`));
        process.stdout.write(`# ${c.name}: evaluation\n${printGraph(c.evalGraph)}\n\n`);
      }
      if (flags.has("--dump-lowered")) process.stdout.write(`# ${c.name}: lowered program\n${printProgram(c.program)}\n`);
      if (flags.has("--check-grad")) {
        process.stdout.write(`# gradient check of ${shown} (f64, central differences on a random projection)\n`);
        if (!printGradCheck(checkSpecGradients(ls))) rc = 1;
      }
      const dir = generatedDir(c.name);
      if (flags.has("--check")) {
        stale.push(...staleFiles(dir, c.files));
      } else if (!dumping(flags)) {
        writeFiles(dir, c.files);
        removeObsolete(dir, c.files);
        process.stdout.write(`${shown} → ${relative(process.cwd(), dir) || "."}/ (${[...c.files.keys()].join(", ")})\n`);
      }
    } catch (e) {
      rc = Math.max(rc, report(e, shown));
    }
  }
  // The runtime's CPU kernel module is generated too (compiler/emit/wasm).
  if (flags.has("--all") && !dumping(flags)) {
    const kernels = await runtimeKernelFiles();
    if (flags.has("--check")) stale.push(...staleFiles(ROOT, kernels));
    else writeFiles(ROOT, kernels);
  }
  if (stale.length) {
    process.stderr.write(`generated code is stale; run \`npx dlt-compile --all\`:\n${stale.map((s) => `  ${displayPath(s)}`).join("\n")}\n`);
    rc = Math.max(rc, 1);
  } else if (flags.has("--check") && rc === 0) {
    process.stdout.write(`generated/ is current (${specs.length} spec${specs.length === 1 ? "" : "s"})\n`);
  }
  return rc;
}

process.exitCode = await main(process.argv.slice(2));

/** Whether the run only prints (and writes nothing). */
function dumping(flags: ReadonlySet<string>): boolean {
  return flags.has("--dump-ir") || flags.has("--dump-lowered") || flags.has("--check-grad");
}
