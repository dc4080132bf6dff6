// Runs a model's generated files in the page: the TypeScript that
// dlt-compile writes, with its types stripped by sucrase (a few hundred KB,
// against TypeScript's megabytes) and its imports turned into calls of a
// `require` that answers `dlt/runtime` with the runtime this worker already
// runs and `./loops-wasm.ts` with that file, likewise evaluated. Nothing of
// a spec reaches this as code except through the compiler's emitters, which
// escape every name and string they write (docs/architecture.md); the code
// is the same the CLI runs.
import { transform } from "sucrase";
import * as runtime from "dlt/runtime";
import type { GpuPlan, ModelConstructor, ModelDescription } from "dlt/runtime";

export interface PageModel {
  readonly description: ModelDescription;
  readonly Model: ModelConstructor;
  readonly prepare: () => Promise<void>;
  readonly plan: GpuPlan;
}

type Exports = Record<string, unknown>;

function evaluate(name: string, source: string, files: Readonly<Record<string, string>>, cache: Map<string, Exports>): Exports {
  const hit = cache.get(name);
  if (hit) return hit;
  const { code } = transform(source, { transforms: ["typescript", "imports"], filePath: name });
  const exports: Exports = {};
  cache.set(name, exports);
  const require = (spec: string): unknown => {
    if (spec === "dlt/runtime") return runtime;
    const file = spec.replace(/^\.\//, "");
    const text = files[file];
    if (text === undefined) throw new Error(`${name} imports ${spec}, which the compiled model does not have`);
    return evaluate(file, text, files, cache);
  };
  // The module's own scope: CommonJS-shaped after sucrase's import transform.
  new Function("require", "exports", "module", code)(require, exports, { exports });
  return exports;
}

/** The model of a compile's files (model.ts, loops-wasm.ts, webgpu.ts). */
export function loadPageModel(files: Readonly<Record<string, string>>): PageModel {
  const cache = new Map<string, Exports>();
  const model = evaluate("model.ts", files["model.ts"]!, files, cache);
  const gpu = evaluate("webgpu.ts", files["webgpu.ts"]!, files, cache);
  return {
    description: model.description as ModelDescription,
    Model: model.Model as ModelConstructor,
    prepare: model.prepare as () => Promise<void>,
    plan: gpu.plan as GpuPlan,
  };
}
