// Where generated files live, and writing them atomically.
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { loadSpecText } from "../frontend/load.ts";
import type { LoadedSpec } from "../frontend/types.ts";

export const ROOT = resolve(new URL("../..", import.meta.url).pathname);

export function allSpecs(): string[] {
  const dir = join(ROOT, "specs");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()
    .map((f) => join("specs", f));
}

export function generatedDir(model: string): string {
  return join(ROOT, "generated", model);
}

/** Files of `files` whose content on disk differs (or that are missing). */
export function staleFiles(dir: string, files: ReadonlyMap<string, string>): string[] {
  const stale: string[] = [];
  for (const [name, text] of files) {
    const p = join(dir, name);
    if (!existsSync(p) || readFileSync(p, "utf8") !== text) stale.push(p);
  }
  return stale;
}

export function writeFiles(dir: string, files: ReadonlyMap<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of files) {
    const p = join(dir, name);
    const tmp = `${p}.tmp-${process.pid}`;
    writeFileSync(tmp, text);
    renameSync(tmp, p);
  }
}

export function displayPath(p: string): string {
  const r = resolve(p);
  return r.startsWith(`${ROOT}/`) ? r.slice(ROOT.length + 1) : p;
}

export { basename };

/** Loads a spec, naming it by its path relative to the project root so that
 * diagnostics and generated comments do not depend on where the clone is. */
export function loadSpecFile(p: string): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(p, "utf8");
  } catch {
    throw new SpecFileError(`${p}: cannot read the spec file (does it exist?)`);
  }
  return loadSpecText(text, displayPath(p));
}

export class SpecFileError extends Error {}
