// A spec given as text, compiled and its generated CPU model loaded, as
// test/emit-agreement.test.ts does: the model's files go to a folder of
// generated/ (model.ts imports the runtime by relative path) named after the
// model and this process, removed by `removeCompiled`.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "../../compiler/cli/files.ts";
import { type Compiled, type CompileSpecOptions, compileSpec } from "../../compiler/compile.ts";
import { loadSpecText } from "../../compiler/frontend/load.ts";
import type { CompiledModel } from "../../runtime/compiled-model.ts";

const dirs: string[] = [];

/** Compiles `text` (shown as `file`) and instantiates its generated model. */
export async function compileAndLoad(text: string, file: string, opts: CompileSpecOptions = {}): Promise<{ c: Compiled; model: CompiledModel }> {
  const c = compileSpec(loadSpecText(text, file), opts);
  const dir = join(ROOT, "generated", `.tmp-${c.name}-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  dirs.push(dir);
  for (const name of ["model.ts", "loops-wasm.ts", "webgpu.ts"]) if (c.files.has(name)) writeFileSync(join(dir, name), c.files.get(name)!);
  const mod = (await import(pathToFileURL(join(dir, "model.ts")).href)) as { Model: new () => CompiledModel };
  return { c, model: new mod.Model() };
}

/** Removes the folders compileAndLoad wrote (call from afterAll). */
export function removeCompiled(): void {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
}
