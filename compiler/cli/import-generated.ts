// Imports a generated module (generated/<model>/model.ts or webgpu.ts) into
// the running CLI.
//
// Run from the TypeScript sources (through tsx), an import is all it takes.
// Run from the compiled JavaScript in dist/ (the bins' fast path), there is no
// TypeScript loader: the generated module is bundled by esbuild in memory
// (types stripped, its own files such as loops-wasm.ts inlined) and every
// import of the runtime is pointed at dist/runtime/*.js, the very modules
// the CLI already runs. Trap: a second copy of the runtime (the .ts sources
// under a loader) would give the model its own kernels module and thread
// pool, apart from the trainer's.
import { existsSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { PACKAGE_ROOT } from "../package-root.ts";

const RUNNING_SOURCES = import.meta.url.endsWith(".ts");

export async function importGenerated<T>(file: string): Promise<T> {
  if (RUNNING_SOURCES) return (await import(pathToFileURL(file).href)) as T;
  const runtimeSources = join(PACKAGE_ROOT, "runtime");
  const runtimeCompiled = fileURLToPath(new URL("../../runtime/", import.meta.url));
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
          b.onResolve({ filter: /.*/ }, (args) => {
            if (args.kind === "entry-point") return undefined;
            const target = resolve(args.resolveDir, args.path);
            const rel = relative(runtimeSources, target);
            if (rel.startsWith("..") || rel === target) return undefined;
            const js = join(runtimeCompiled, rel.split(sep).join("/").replace(/\.ts$/, ".js"));
            if (!existsSync(js)) throw new Error(`${file}: imports ${args.path}, which the compiled runtime (${dirname(js)}) lacks; rebuild with npm run build`);
            return { path: pathToFileURL(js).href, external: true };
          });
        },
      },
    ],
  });
  const code = out.outputFiles[0]!.text;
  return (await import(`data:text/javascript;base64,${Buffer.from(code).toString("base64")}`)) as T;
}
