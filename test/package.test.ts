// dlt as a package, tested as a user would use it: `npm pack`, install the
// tarball into a fresh project outside the repository (no access to its
// sources), write a spec there, compile it with --out, type-check the
// generated code against the installed declarations (strict), train 20
// steps through the CLI and through the API from an ESM script, resume,
// and bundle a trainer for the browser with no Node built-in in it.
// Dependencies come from npm's cache (`npm ci` filled it), the registry
// only when the cache lacks one.

import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { builtinModules } from "node:module";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";

const PROJECT = mkdtempSync(join(tmpdir(), "dlt-user-project-"));
const PACKED = join(PROJECT, ".packed");
afterAll(() => rmSync(PROJECT, { recursive: true, force: true }));

const sh = (cmd: string, args: readonly string[], cwd = PROJECT, env: NodeJS.ProcessEnv = {}): SpawnSyncReturns<string> =>
  spawnSync(cmd, args, { cwd, encoding: "utf8", timeout: 300_000, env: { ...process.env, npm_config_fund: "false", npm_config_audit: "false", ...env } });
const ok = (r: SpawnSyncReturns<string>): string => {
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
};

// The spec a user writes in their own project: nothing of the repository's.
const SPEC = `# A small MLP of my own on the embedded digits.
model: my_net
seed: 7
data:
  dataset: mnist
  batch_size: 20
  inputs:
    x: { shape: [784], dtype: f32 }
    y: { shape: [], dtype: i32, classes: 10 }
params:
  W1: { shape: [784, 64], init: { glorot_uniform: {} } }
  b1: { shape: [64], init: zeros }
  W2: { shape: [64, 10], init: zeros }
  b2: { shape: [10], init: zeros }
graph:
  hidden: { dense: { input: x, weight: W1, bias: b1, activation: relu } }
  p_y_given_x: { dense: { input: hidden, weight: W2, bias: b2, activation: softmax } }
losses:
  cost:
    nll: { probs: p_y_given_x, labels: y }
metrics:
  error: { zero_one: { probs: p_y_given_x, labels: y } }
phases:
  - name: train
    loss: cost
    optimizer: { sgd: { lr: 0.1 } }
    epochs: 2
    early_stopping: { monitor: error, patience: 5000, patience_increase: 2, improvement_threshold: 0.995 }
`;

// Strict, and as a project that compiles the generated TypeScript itself
// would set it (the generated files import each other as ./model.ts).
const TSCONFIG = {
  compilerOptions: {
    target: "ES2022",
    module: "NodeNext",
    moduleResolution: "NodeNext",
    allowImportingTsExtensions: true,
    noEmit: true,
    strict: true,
    noUnusedLocals: true,
    noUnusedParameters: true,
    verbatimModuleSyntax: true,
    types: ["node"],
  },
  include: ["src", "web"],
};

// The API from plain ESM: compile, write, load, train 10 + resume 10, and
// a straight 20 for comparison; progress through a callback.
const API_SCRIPT = `import { readFileSync } from "node:fs";
import { compile, formatDiagnostic, loadModel, writeModel } from "dlt";
import { evaluate, loadCheckpoint, loadData, saveCheckpoint, train } from "dlt/runtime/node";

const text = readFileSync("my-net.yaml", "utf8");
const r = compile(text, { file: "my-net.yaml" });
for (const d of r.diagnostics) console.error(formatDiagnostic(d, text));
if (!r.ok) process.exit(1);
writeModel("src/api-model", r.files);
const { description, Model } = await loadModel("src/api-model");
const data = await loadData(description);
let batches = 0;
const first = await train(new Model(), data, { outDir: "runs/api", maxSteps: 10, log: { batch: () => batches++ } });
const resumed = await train(new Model(), data, { outDir: "runs/api", maxSteps: 20, resume: true, log: { batch: () => batches++ } });
await train(new Model(), data, { outDir: "runs/api-straight", maxSteps: 20 });
const a = new Model(), b = new Model();
await loadCheckpoint(a, "runs/api/checkpoint.safetensors");
await loadCheckpoint(b, "runs/api-straight/checkpoint.safetensors");
const same = Buffer.compare(await saveCheckpoint(a), await saveCheckpoint(b)) === 0;
console.log(JSON.stringify({ steps: [first.steps, resumed.steps], batches, same, cost: resumed.trainCost, valid: await evaluate(a, data.valid, "valid") }));
`;

// A page's trainer: the generated model and dlt/runtime, bundled for the browser.
const PAGE = `import { MemoryRunStore, train, type Splits } from "dlt/runtime";
import { Model, prepare } from "../src/generated/my-net/model.ts";

export async function trainInPage(data: Splits): Promise<number> {
  await prepare();
  const summary = await train(new Model(), data, { store: new MemoryRunStore(), maxSteps: 20 });
  return summary.steps;
}
`;

const BUNDLE = `import { build } from "esbuild";
const r = await build({ entryPoints: ["web/page.ts"], bundle: true, platform: "browser", format: "esm", outfile: "web/page.js", metafile: true, logLevel: "error" });
const imports = Object.values(r.metafile.inputs).flatMap((i) => i.imports.map((x) => x.path));
console.log(JSON.stringify({ inputs: Object.keys(r.metafile.inputs), imports }));
`;

interface PackResult {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}
let pack: PackResult;

beforeAll(() => {
  mkdirSync(PACKED, { recursive: true });
  // npm pack runs `prepare` (the build); --ignore-scripts packs the dist/
  // built here, rebuilt first when a source is newer.
  const launch = join(ROOT, "bin", "launch.mjs");
  const current = sh(process.execPath, ["--input-type=module", "-e", `import { distIsCurrent } from ${JSON.stringify(launch)}; process.exit(distIsCurrent() ? 0 : 1)`], ROOT);
  if (current.status !== 0) ok(sh("npm", ["run", "build"], ROOT));
  pack = (JSON.parse(ok(sh("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", PACKED], ROOT))) as PackResult[])[0]!;
  writeFileSync(join(PROJECT, "package.json"), `${JSON.stringify({ name: "my-project", version: "1.0.0", type: "module", private: true }, null, 2)}\n`);
  // @types/node as a TypeScript project has it, at the repository's version (in npm's cache).
  const typesNode = (JSON.parse(readFileSync(join(ROOT, "node_modules/@types/node/package.json"), "utf8")) as { version: string }).version;
  ok(sh("npm", ["install", "--prefer-offline", join(PACKED, pack.filename), `@types/node@${typesNode}`]));
  writeFileSync(join(PROJECT, "my-net.yaml"), SPEC);
}, 600_000);

describe("the packed package", () => {
  it("holds the compiled JavaScript, declarations, schema and bins; none of the repository's sources, tests, benches or images", () => {
    const paths = pack.files.map((f) => f.path);
    for (const p of ["dist/compiler/index.js", "dist/compiler/index.d.ts", "dist/runtime/index.js", "dist/runtime/index.d.ts", "dist/runtime/node/index.js", "schema/dlt.schema.json", "bin/dlt-train.mjs", "docs/api.md"]) expect(paths).toContain(p);
    const foreign = paths.filter((p) => /^(test|bench|generated|specs|runs|compiler|runtime|playground|dist\/playground)\//.test(p) || /\.(png|map|tgz)$/.test(p) || p.startsWith("docs/") && !/^docs\/(api|spec|errors)\.md$/.test(p));
    expect(foreign).toEqual([]);
    expect(pack.size).toBeLessThan(2_000_000);
  });

  it("installs without its development dependencies (no tsx, vitest, typescript, webgpu)", () => {
    for (const dev of ["tsx", "vitest", "typescript", "webgpu", "ts-morph"]) expect(existsSync(join(PROJECT, "node_modules", dev)), dev).toBe(false);
    expect(existsSync(join(PROJECT, "node_modules/dlt/compiler")), "sources").toBe(false);
  });
});

describe("a spec in a fresh project", () => {
  it("compiles with --out; the generated code imports the runtime by package name", () => {
    const out = ok(sh("npx", ["--offline", "dlt-compile", "my-net.yaml", "--out", "src/generated/my-net"]));
    expect(out).toContain("my-net.yaml → src/generated/my-net/");
    const model = readFileSync(join(PROJECT, "src/generated/my-net/model.ts"), "utf8");
    expect(model).toMatch(/^import \{[^}]*\bcreateArena\b[^}]*\} from "dlt\/runtime";$/m);
    expect(model).not.toContain("../");
    expect(model).toContain("// Generated by dlt-compile 0.1.0 from my-net.yaml");
  });

  it("a bad spec: one located diagnostic, exit 1, no stack", () => {
    writeFileSync(join(PROJECT, "bad.yaml"), SPEC.replace("batch_size: 20", "batch_sise: 20"));
    const r = sh("npx", ["--offline", "dlt-compile", "bad.yaml"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^bad\.yaml:6:3 error\[E003\]: unknown key 'batch_sise'/m);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("the generated code type-checks (strict) against the installed package's declarations", () => {
    mkdirSync(join(PROJECT, "web"), { recursive: true });
    writeFileSync(join(PROJECT, "web/page.ts"), PAGE);
    writeFileSync(join(PROJECT, "tsconfig.json"), JSON.stringify(TSCONFIG, null, 2));
    ok(sh(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"]));
  });

  it("trains 20 steps through the CLI, resumes to 30, and --backend webgpu without the optional webgpu package says how to get it", () => {
    const first = ok(sh("npx", ["--offline", "dlt-train", "my-net.yaml", "--generated", "src/generated/my-net", "--steps", "20", "--out", "runs/cli", "--quiet"]));
    expect(first).toMatch(/stopped at global step 20/);
    const cost = /train cost ([\d.]+) at step 1 → ([\d.]+) at step 20/.exec(first);
    expect(cost, first).not.toBeNull();
    expect(Number(cost![2])).toBeLessThan(Number(cost![1]));
    const resumed = ok(sh("npx", ["--offline", "dlt-train", "my-net.yaml", "--generated", "src/generated/my-net", "--steps", "30", "--out", "runs/cli", "--resume", "--quiet"]));
    expect(resumed).toMatch(/stopped at global step 30/);
    expect(existsSync(join(PROJECT, "generated")), "compiled into --generated, not generated/").toBe(false);
    const gpu = sh("npx", ["--offline", "dlt-train", "my-net.yaml", "--generated", "src/generated/my-net", "--steps", "1", "--out", "runs/gpu", "--backend", "webgpu"]);
    expect(gpu.status).toBe(1);
    expect(gpu.stderr).toContain("npm install webgpu");
    expect(gpu.stderr).not.toMatch(/\n\s+at /);
  });

  it("trains through the API from an ESM script: 10 steps, resumed to 20, equal to 20 straight", () => {
    writeFileSync(join(PROJECT, "api.mjs"), API_SCRIPT);
    const lines = ok(sh(process.execPath, ["api.mjs"])).trim().split("\n");
    const r = JSON.parse(lines.at(-1)!) as { steps: number[]; batches: number; same: boolean; cost: { first: { cost: number }; last: { cost: number } }; valid: { error: number } };
    expect(r.steps).toEqual([10, 20]);
    expect(r.batches).toBe(20);
    expect(r.same).toBe(true);
    expect(r.valid.error).toBeGreaterThan(0);
    expect(r.valid.error).toBeLessThan(0.9);
  });

  it("bundles a trainer for the browser with esbuild, with no Node built-in in the bundle", () => {
    writeFileSync(join(PROJECT, "bundle.mjs"), BUNDLE);
    const r = JSON.parse(ok(sh(process.execPath, ["bundle.mjs"]))) as { inputs: string[]; imports: string[] };
    expect(r.inputs.some((p) => p.includes("node_modules/dlt/dist/runtime/"))).toBe(true);
    const builtins = new Set(builtinModules);
    expect(r.imports.filter((p) => p.startsWith("node:") || builtins.has(p))).toEqual([]);
    expect(readFileSync(join(PROJECT, "web/page.js"), "utf8").length).toBeGreaterThan(10_000);
  });
});

describe("inside this repository", () => {
  it("dlt, dlt/runtime and dlt/runtime/node resolve to the sources (self-reference through exports): one runtime for tests and generated code", async () => {
    const [byName, direct, nodeByName, nodeDirect, compilerByName, compilerDirect] = await Promise.all([
      import("dlt/runtime"),
      import("../runtime/index.ts"),
      import("dlt/runtime/node"),
      import("../runtime/node/index.ts"),
      import("dlt"),
      import("../compiler/index.ts"),
    ]);
    expect(byName.createKernels).toBe(direct.createKernels);
    expect(nodeByName.train).toBe(nodeDirect.train);
    expect(nodeByName.createArena).toBe(direct.createArena);
    expect(compilerByName.compile).toBe(compilerDirect.compile);
  });
});
