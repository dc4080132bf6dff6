// The file reads the front end makes when it runs in Node (a diagnostic's
// source line read from the spec file; loadSpec's file), without a static
// import of node:fs: the same modules are bundled into a page's worker
// (the playground), where there are no files and these reads return null.

type FsModule = { readFileSync(path: string, encoding: "utf8"): string };

const fs = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.("node:fs") as FsModule | undefined;

/** A text file's contents, or null when it cannot be read (or there are no files here). */
export function readTextFile(path: string): string | null {
  if (!fs) return null;
  try {
    return fs.readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** A text file's contents; throws the file system's error (or says there are no files here). */
export function readTextFileOrThrow(path: string): string {
  if (!fs) throw new Error(`${path}: no file system here`);
  return fs.readFileSync(path, "utf8");
}
