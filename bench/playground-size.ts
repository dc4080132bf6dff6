// The playground's download, by dependency: what `npm run playground:build`
// writes (each file gzipped, as a static host would serve it), and the
// minified bytes each package contributes to the page and the worker
// (esbuild's metafile of the same entries; Vite's own minifier differs by
// a few percent). Run: npx tsx --conditions=dlt-source bench/playground-size.ts
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";

const site = "dist/playground";
const files: [string, number, number][] = [];
const walk = (d: string): void => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else files.push([p.slice(site.length + 1), statSync(p).size, gzipSync(readFileSync(p)).length]);
  }
};
walk(site);
const mb = (n: number) => (n / 1e6).toFixed(2);
console.log("| file | bytes | gzip |\n| --- | ---: | ---: |");
for (const [f, raw, gz] of files.sort((a, b) => b[2] - a[2])) console.log(`| ${f.replace(/-[\w-]{8}\.js$/, ".js")} | ${mb(raw)} MB | ${mb(gz)} MB |`);
console.log(`| total | ${mb(files.reduce((a, f) => a + f[1], 0))} MB | ${mb(files.reduce((a, f) => a + f[2], 0))} MB |\n`);

const byPackage = new Map<string, number>();
for (const entry of ["playground/src/main.ts", "playground/src/worker.ts"]) {
  const r = await build({ entryPoints: [entry], bundle: true, minify: true, write: false, metafile: true, format: "esm", platform: "browser", conditions: ["dlt-source"], external: ["fs"], loader: { ".css": "empty" }, logLevel: "silent" });
  for (const out of Object.values(r.metafile.outputs)) {
    for (const [input, { bytesInOutput }] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
      const key = m ? m[1]! : input.startsWith("compiler/") ? "dlt compiler" : input.startsWith("runtime/") ? "dlt runtime" : "playground";
      byPackage.set(key, (byPackage.get(key) ?? 0) + bytesInOutput);
    }
  }
}
console.log("| package | minified |\n| --- | ---: |");
for (const [k, v] of [...byPackage].sort((a, b) => b[1] - a[1])) if (v > 5000) console.log(`| ${k} | ${(v / 1e3).toFixed(0)} KB |`);
