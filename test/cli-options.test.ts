// The CLIs explain themselves: --help and -h print every option on stdout
// and exit 0; unknown options and missing specs exit 2 listing the options;
// dlt-compile --out writes a model elsewhere, and that model trains.

import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { TRAIN_OPTIONS } from "../runtime/node/main.ts";

const run = (bin: string, args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", bin), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
const OUT = join(ROOT, `scratch-cli-${process.pid}`);
afterAll(() => rmSync(OUT, { recursive: true, force: true }));

describe("dlt-train", () => {
  it.each(["--help", "-h"])("%s prints every option, one a line, on stdout, and exits 0", (flag) => {
    const r = run("dlt-train.mjs", [flag]);
    expect(r.status).toBe(0);
    for (const [opt] of [...TRAIN_OPTIONS, ["--generated DIR"] as const, ["--check-grad"] as const, ["--debug"] as const]) expect(r.stdout).toContain(opt);
    expect(r.stdout.split("\n").filter((l) => l.startsWith("  --")).length).toBe(TRAIN_OPTIONS.length + 3);
  });

  it("an unknown option exits 2 and lists the options", () => {
    const r = run("dlt-train.mjs", ["specs/logreg.yaml", "--epoch", "3"]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('unknown option "--epoch"');
    expect(r.stderr).toContain("--epochs N");
  });
});

describe("dlt-export", () => {
  it.each(["--help", "-h"])("%s prints every option and exits 0", (flag) => {
    const r = run("dlt-export.mjs", [flag]);
    expect(r.status).toBe(0);
    for (const opt of ["--checkpoint FILE", "--last", "--out FILE", "--output NAME", "--batch N", "--help"]) expect(r.stdout).toContain(opt);
    expect(r.stderr).toBe("");
  });

  it.each([
    [["specs/lenet.yaml", "--onnx"], "unknown option --onnx"],
    [[], "no spec given"],
    [["specs/lenet.yaml", "--batch", "0"], '--batch expects a positive integer, found "0"'],
    [["specs/lenet.yaml", "--last", "--checkpoint", "x.safetensors"], "--last and --checkpoint both name the parameters"],
  ])("%j: exit 2 with the reason and the options", (args, why) => {
    const r = run("dlt-export.mjs", args);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(why);
    expect(r.stderr).toContain("--output NAME");
  });
});

describe("dlt-compile", () => {
  it.each(["--help", "-h"])("%s prints every option and exits 0 (and reads no file named %s)", (flag) => {
    const r = run("dlt-compile.mjs", [flag]);
    expect(r.status).toBe(0);
    for (const opt of ["--all", "--out DIR", "--check", "--dump-ir", "--dump-lowered", "--check-grad", "--help"]) expect(r.stdout).toContain(opt);
    expect(r.stderr).toBe("");
  });

  it("--out writes the model's files elsewhere; they import the runtime by package name (dlt/runtime, here the sources) and train", () => {
    const dir = join(OUT, "models", "lr");
    const r = run("dlt-compile.mjs", ["specs/logreg.yaml", "--out", dir]);
    expect(r.status, r.stderr).toBe(0);
    for (const f of ["model.ts", "webgpu.ts", "train.ts", "loops-wasm.ts"]) expect(existsSync(join(dir, f)), f).toBe(true);
    expect(readFileSync(join(dir, "train.ts"), "utf8")).toContain('import { runMain, seedOption } from "dlt/runtime/node";');
    const env = { ...process.env, NODE_OPTIONS: "--conditions=dlt-source" };
    const t = spawnSync(process.execPath, [join(ROOT, "node_modules/tsx/dist/cli.mjs"), join(dir, "train.ts"), "--steps", "3", "--out", join(OUT, "run"), "--quiet"], { cwd: ROOT, encoding: "utf8", timeout: 120_000, env });
    expect(t.stdout + t.stderr).toContain("stopped at global step 3");
    expect(t.status).toBe(0);
  });

  it("--out with several specs, an unknown option, no spec: exit 2 with a reason", () => {
    expect(run("dlt-compile.mjs", ["specs/logreg.yaml", "specs/mlp.yaml", "-o", join(OUT, "x")]).stderr).toContain("give one spec");
    const u = run("dlt-compile.mjs", ["specs/logreg.yaml", "--dump"]);
    expect([u.status, u.stderr.split("\n")[0]]).toEqual([2, "dlt-compile: unknown option --dump"]);
    expect(run("dlt-compile.mjs", []).status).toBe(2);
  });
});

describe("npx finds the project's own commands", () => {
  it("the install links dlt-compile and dlt-train into node_modules/.bin (the repository depends on itself through file:., a development dependency)", () => {
    for (const bin of ["dlt-compile", "dlt-train"]) {
      const link = join(ROOT, "node_modules/.bin", bin);
      expect(existsSync(link), link).toBe(true);
      expect(realpathSync(link)).toBe(realpathSync(join(ROOT, "bin", `${bin}.mjs`)));
    }
  });

  it("four `npx --offline dlt-train --help` at once all run the local command, none asks the registry", async () => {
    const one = () =>
      new Promise<{ code: number | null; out: string }>((done) => {
        const p = spawn("npx", ["--offline", "dlt-train", "--help"], { cwd: ROOT, env: { ...process.env, npm_config_offline: "true" } });
        let out = "";
        p.stdout.on("data", (d: Buffer) => (out += d.toString()));
        p.stderr.on("data", (d: Buffer) => (out += d.toString()));
        p.on("close", (code) => done({ code, out }));
      });
    const runs = await Promise.all([one(), one(), one(), one()]);
    for (const r of runs) {
      expect(r.out).toContain("usage: dlt-train SPEC.yaml");
      expect(r.code, r.out).toBe(0);
    }
  });
});

describe("filesystem errors are one line naming the path, exit 1, no stack", () => {
  it("dlt-train --out naming an existing file", () => {
    const file = join(OUT, "a-file");
    mkdirSync(OUT, { recursive: true });
    writeFileSync(file, "x");
    const r = run("dlt-train.mjs", ["specs/logreg.yaml", "--out", file, "--steps", "1"]);
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split("\n");
    expect(lines.at(-1)).toMatch(new RegExp(`^dlt-train: ${file}.*(EEXIST|ENOTDIR)`));
    expect(lines.length).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("dlt-compile --out below a file", () => {
    const file = join(OUT, "b-file");
    mkdirSync(OUT, { recursive: true });
    writeFileSync(file, "x");
    const r = run("dlt-compile.mjs", ["specs/logreg.yaml", "-o", join(file, "model")]);
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toMatch(/^dlt-compile: .*b-file\/model: a part of the path is a file, not a folder \(mkdir, ENOTDIR\)$/);
  });
});
