// Starts a CLI entry point (e.g. "compiler/cli/train") from the compiled
// JavaScript in dist/ when that build is current, else from the TypeScript
// sources through tsx's loader.
//
// dist/ is built by `npm run build` (npm ci and npm install run it as the
// `prepare` script, npm pack too) and stamped dist/BUILD on success. An
// installed package has dist/ only; tsx, a development dependency, is
// needed only here, in the repository. It is current when no
// file under compiler/ or runtime/ is newer than the stamp, so an edited
// source never runs stale code: it runs from the sources (about a second
// slower to start) until the next build.
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

function newestSource(dir, newest = 0) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = newestSource(p, newest);
    else newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

export function distIsCurrent() {
  const stamp = join(root, "dist", "BUILD");
  if (!existsSync(stamp)) return false;
  // An installed package ships dist/ without the sources: it is what runs.
  if (!existsSync(join(root, "compiler"))) return true;
  const built = statSync(stamp).mtimeMs;
  return ["compiler", "runtime"].every((d) => newestSource(join(root, d)) <= built) && statSync(join(root, "schema", "dlt.schema.json")).mtimeMs <= built;
}

export async function launch(entry) {
  if (process.env.DLT_FROM_SOURCES !== "1" && distIsCurrent()) {
    await import(pathToFileURL(join(root, "dist", `${entry}.js`)).href);
  } else {
    const { register } = await import("tsx/esm/api");
    register();
    // After tsx's, so it runs first: adds the condition, then tsx resolves.
    const { register: registerHooks } = await import("node:module");
    registerHooks(new URL("./source-conditions.mjs", import.meta.url));
    await import(pathToFileURL(join(root, `${entry}.ts`)).href);
  }
}
