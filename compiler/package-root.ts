// The folder holding dlt's own package.json. Paths to schema/, specs/ and
// generated/ start there. Found by walking up from this file rather than by
// a fixed "../..", because the same module runs from the TypeScript sources
// (compiler/package-root.ts) and from the compiled JavaScript one level
// deeper (dist/compiler/package-root.js).
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function findPackageRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, "utf8")) as { name?: unknown }).name === "dlt") return dir;
    if (dirname(dir) === dir) throw new Error(`dlt's package.json not found above ${start}`);
  }
}

export const PACKAGE_ROOT = findPackageRoot(dirname(fileURLToPath(import.meta.url)));
