// Imports a generated module (<folder>/model.ts or webgpu.ts) into the
// running CLI or API.
//
// Run from the TypeScript sources (through tsx or vitest, with the
// "dlt-source" condition), an import is all it takes: the generated code's
// `dlt/runtime` resolves to runtime/index.ts, the very modules the caller
// runs. Run from the compiled JavaScript in dist/ (an installed package, or
// the bins' fast path here), there is no TypeScript loader: the generated
// module is bundled by esbuild in memory (types stripped, its own files
// such as loops-wasm.ts inlined) and its imports of `dlt/runtime` and
// `dlt/runtime/node` point at this package's dist/runtime/. Trap: a second
// copy of the runtime would give the model its own kernels module and
// thread pool, apart from the trainer's.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { RUNTIME_MODULE, RUNTIME_NODE_MODULE } from "../emit/runtime-module.ts";

const RUNNING_SOURCES = import.meta.url.endsWith(".ts");

/** The compiled entry each runtime specifier names, beside this module's
 * dist/compiler/cli/ folder. */
const COMPILED_ENTRIES: ReadonlyMap<string, URL> = new Map([
  [RUNTIME_MODULE, new URL("../../runtime/index.js", import.meta.url)],
  [RUNTIME_NODE_MODULE, new URL("../../runtime/node/index.js", import.meta.url)],
]);

export async function importGenerated<T>(file: string): Promise<T> {
  if (RUNNING_SOURCES) return (await import(pathToFileURL(file).href)) as T;
  const { build } = await import("esbuild");
  const out = await build({
    entryPoints: [file],
    bundle: true,
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    logLevel: "silent",
    plugins: [
      {
        name: "dlt-runtime",
        setup(b) {
          b.onResolve({ filter: /^dlt\/runtime(\/node)?$/ }, (args) => {
            const url = COMPILED_ENTRIES.get(args.path)!;
            if (!existsSync(fileURLToPath(url))) throw new Error(`${file}: imports ${args.path}, which the compiled runtime (${fileURLToPath(url)}) lacks; rebuild with npm run build`);
            return { path: url.href, external: true };
          });
        },
      },
    ],
  });
  const code = out.outputFiles[0]!.text;
  return (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as T;
}
