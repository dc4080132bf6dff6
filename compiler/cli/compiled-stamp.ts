// Lets dlt-train skip the compiler when generated/<model>/ is already what
// this compiler makes of this spec. Loading and running the compiler costs
// most of a second; checking a stamp costs milliseconds.
//
// A stamp is written after every compile dlt-train runs or verifies, into
// the project's node_modules/.cache/dlt/compiled/ (never committed): the spec's sha256,
// the compiler's fingerprint (a hash of every file of the compiler that is
// running, and the schema), and the sha256 of each generated file. It is
// trusted only when all three still match, so an edited spec, an edited or
// rebuilt compiler, or a hand-edited generated file all recompile. This
// module imports nothing of the compiler itself, so the fast path loads none.
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeFileAtomic } from "../../runtime/node/atomic-write.ts";
import { PACKAGE_ROOT, PROJECT_ROOT } from "../package-root.ts";

export interface CompiledStamp {
  readonly spec: string;
  readonly specSha256: string;
  readonly compiler: string;
  /** The model's generated folder and the sha256 of each file in it. */
  readonly dir: string;
  readonly files: Readonly<Record<string, string>>;
  /** Compiler warnings about the WebGPU plan, as printed. */
  readonly gpuWarnings: readonly string[];
}

const STAMP_DIR = join(PROJECT_ROOT, "node_modules", ".cache", "dlt", "compiled");
const sha256 = (s: string | Uint8Array) => createHash("sha256").update(s).digest("hex");

let fingerprint: string | undefined;

/** A hash of the running compiler's files (compiler/**, or dist/compiler/**
 * when the compiled JavaScript runs) and the spec schema. */
export function compilerFingerprint(): string {
  if (fingerprint !== undefined) return fingerprint;
  const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
  const h = createHash("sha256");
  const walk = (dir: string): void => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(`${p.slice(root.length)}\n`).update(readFileSync(p));
    }
  };
  walk(root);
  h.update(readFileSync(join(PACKAGE_ROOT, "schema", "dlt.schema.json")));
  fingerprint = h.digest("hex");
  return fingerprint;
}

const stampFile = (spec: string) => join(STAMP_DIR, `${sha256(resolve(spec)).slice(0, 24)}.json`);

/** The stamp of `spec` if generated code is current for its text and this
 * compiler; undefined (compile) on any doubt, a missing or unreadable
 * stamp included. */
export function freshStamp(spec: string, specText: string): CompiledStamp | undefined {
  let stamp: CompiledStamp;
  try {
    stamp = JSON.parse(readFileSync(stampFile(spec), "utf8")) as CompiledStamp;
  } catch {
    return undefined;
  }
  if (stamp.spec !== resolve(spec) || stamp.specSha256 !== sha256(specText) || stamp.compiler !== compilerFingerprint()) return undefined;
  if (typeof stamp.files !== "object" || stamp.files === null || !Array.isArray(stamp.gpuWarnings)) return undefined;
  for (const [name, hash] of Object.entries(stamp.files)) {
    try {
      if (sha256(readFileSync(join(stamp.dir, name))) !== hash) return undefined;
    } catch {
      return undefined;
    }
  }
  return stamp;
}

/** Records that `dir` holds `files`, compiled from `specText` by this
 * compiler. A stamp that cannot be written only costs the next start. */
export function writeStamp(spec: string, specText: string, dir: string, files: ReadonlyMap<string, string>, gpuWarnings: readonly string[]): void {
  const stamp: CompiledStamp = {
    spec: resolve(spec),
    specSha256: sha256(specText),
    compiler: compilerFingerprint(),
    dir,
    files: Object.fromEntries([...files].map(([name, text]) => [name, sha256(text)])),
    gpuWarnings,
  };
  try {
    mkdirSync(STAMP_DIR, { recursive: true });
    writeFileAtomic(stampFile(spec), new TextEncoder().encode(`${JSON.stringify(stamp, null, 2)}\n`));
  } catch {
    // Read-only node_modules: every start compiles, nothing else changes.
  }
}
