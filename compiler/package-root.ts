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

/** The project the command-line tools work for: the nearest folder at or
 * above the working directory that holds a package.json (the working
 * directory itself when none does). Its generated/<model>/ is where models
 * are compiled by default, its specs/ what `--all` compiles, and specs are
 * named in diagnostics and generated comments by their path from it. In
 * this repository it is PACKAGE_ROOT; in a project that installed dlt, the
 * project, never node_modules/dlt. */
export const PROJECT_ROOT = findProjectRoot(process.cwd());

function findProjectRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json"))) return dir;
    if (dirname(dir) === dir) return start;
  }
}
