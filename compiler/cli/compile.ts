// dlt-compile: spec → generated/<model>/. Flags:
//   --all          every specs/*.yaml
//   --check        write nothing; exit 1 if any generated file is stale
//   --dump-ir      print the optimised IR of every step and the eval graph
//   --dump-lowered print the lowered program every back end renders
//   --check-grad   finite-difference check of each phase's full gradient
import { relative, resolve } from "node:path";
import { optionsHelp } from "../../runtime/node/main.ts";
import { debugRequested, topLevelError } from "../../runtime/node/errors.ts";
import { checkSpecGradients } from "../gradcheck/gradcheck.ts";
import { compileSpec } from "../compile.ts";
import { runtimeKernelFiles } from "../emit/wasm/assemble.ts";
import { printGraph } from "../ir/print.ts";
import { printProgram } from "../lower/print.ts";

import { compile, writeModel } from "../api.ts";
import { diagnosticFromLoc, formatDiagnostic } from "../frontend/diagnostics.ts";
import { IN_DLT_REPOSITORY, ROOT, allSpecs, displayPath, generatedDir, loadSpecFile, readSpecFile, staleFiles, writeFiles } from "./files.ts";
import { report } from "./report.ts";
import { printGradCheck } from "./check-grad-print.ts";

const OPTIONS: readonly (readonly [string, string])[] = [
  ["--all", "every specs/*.yaml of the project (in dlt's repository, also the runtime's kernel module)"],
  ["--out DIR, -o DIR", "write the model's files into DIR instead of the project's generated/<model>/ (one spec)"],
  ["--check", "write nothing; exit 1 if any generated file is stale"],
  ["--dump-ir", "print the optimised IR of every step and the evaluation"],
  ["--dump-lowered", "print the lowered program both back ends render"],
  ["--check-grad", "check the derived gradients by finite differences (f64)"],
  ["--debug", "print the stack of an internal error"],
  ["--help, -h", "print this help"],
];
const USAGE = `usage: dlt-compile [SPEC.yaml ...] [options]\noptions:\n${optionsHelp(OPTIONS)}`;

async function main(argv: string[]): Promise<number> {
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  let out: string | undefined;
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--out" || a === "-o") {
      out = argv[++i];
      if (out === undefined || out.startsWith("-")) {
        process.stderr.write(`dlt-compile: ${a} needs a folder\n${USAGE}\n`);
        return 2;
      }
    } else rest.push(a);
  }
  const flags = new Set(rest.filter((a) => a.startsWith("-")));
  for (const f of flags) {
    if (!["--all", "--check", "--dump-ir", "--dump-lowered", "--check-grad"].includes(f)) {
      process.stderr.write(`dlt-compile: unknown option ${f}\n${USAGE}\n`);
      return 2;
    }
  }
  const specs = flags.has("--all") ? allSpecs() : rest.filter((a) => !a.startsWith("-"));
  if (specs.length === 0) {
    process.stderr.write(`dlt-compile: no spec given\n${USAGE}\n`);
    return 2;
  }
  if (out !== undefined && (specs.length !== 1 || flags.has("--all"))) {
    process.stderr.write(`dlt-compile: --out names the folder of one model; give one spec\n`);
    return 2;
  }
  let rc = 0;
  const stale: string[] = [];
  for (const file of specs) {
    const shown = displayPath(file);
    try {
      if (dumping(flags)) {
        if (!dump(file, flags)) rc = 1;
        continue;
      }
      const text = readSpecFile(file);
      const r = compile(text, { file: shown });
      for (const d of r.diagnostics) process.stderr.write(`${formatDiagnostic(d, text)}\n`);
      if (!r.ok) {
        rc = 1;
        continue;
      }
      const dir = out === undefined ? generatedDir(r.model!) : resolve(out);
      if (flags.has("--check")) {
        stale.push(...staleFiles(dir, r.files));
      } else {
        writeModel(dir, r.files);
        process.stdout.write(`${shown} → ${relative(process.cwd(), dir) || "."}/ (${[...r.files.keys()].join(", ")})\n`);
      }
    } catch (e) {
      rc = Math.max(rc, report(e, shown));
    }
  }
  // The runtime's CPU kernel module is generated too (compiler/emit/wasm).
  if (flags.has("--all") && IN_DLT_REPOSITORY && !dumping(flags)) {
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

const argv = process.argv.slice(2);
if (debugRequested(argv)) process.env.DLT_DEBUG = "1";
try {
  process.exitCode = await main(argv.filter((a) => a !== "--debug"));
} catch (e) {
  const { line, status } = topLevelError("dlt-compile", e, debugRequested(argv));
  process.stderr.write(`${line}\n`);
  process.exitCode = status;
}

/** --dump-ir, --dump-lowered, --check-grad: prints what was asked of one
 * spec; false when a gradient check failed. */
function dump(file: string, flags: ReadonlySet<string>): boolean {
  const ls = loadSpecFile(file);
  const c = compileSpec(ls);
  for (const w of [...(ls.warnings ?? []), ...c.warnings.map((w) => diagnosticFromLoc(w.code, w.loc ?? { file: ls.file, line: 1, col: 1 }, w.message))]) process.stderr.write(`${formatDiagnostic(w)}\n`);
  if (flags.has("--dump-ir")) {
    c.steps.forEach((g, i) => process.stdout.write(`# ${c.name}: training step of phase '${ls.spec.phases[i]!.name}'\n${printGraph(g)}\n\n`));
    process.stdout.write(`# ${c.name}: evaluation\n${printGraph(c.evalGraph)}\n\n`);
  }
  if (flags.has("--dump-lowered")) process.stdout.write(`# ${c.name}: lowered program\n${printProgram(c.program)}\n`);
  if (flags.has("--check-grad")) {
    process.stdout.write(`# gradient check of ${ls.file} (f64, central differences on a random projection)\n`);
    return printGradCheck(checkSpecGradients(ls));
  }
  return true;
}

/** Whether the run only prints (and writes nothing). */
function dumping(flags: ReadonlySet<string>): boolean {
  return flags.has("--dump-ir") || flags.has("--dump-lowered") || flags.has("--check-grad");
}
