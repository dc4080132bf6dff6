// dlt-eval: the metrics of a saved checkpoint on the validation and test
// splits, as dlt-train reported them for the same parameters; its refusals
// are one line with exit 1 (or 2 for usage).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";

const scratch = mkdtempSync(join(tmpdir(), "dlt-eval-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const run = (bin: string, args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", bin), ...args], { cwd: ROOT, encoding: "utf8", timeout: 180_000 });

describe("dlt-eval", () => {
  const out = join(scratch, "logreg");

  it("reproduces dlt-train's best validation and test errors from best.safetensors, and the last checkpoint's position", () => {
    const t = run("dlt-train.mjs", ["specs/logreg.yaml", "--out", out, "--epochs", "2", "--quiet"]);
    expect(t.status, t.stderr).toBe(0);
    const m = /best validation score of ([0-9.]+) %, with test performance ([0-9.]+) %/.exec(t.stdout);
    expect(m, t.stdout).not.toBeNull();
    const e = run("dlt-eval.mjs", ["specs/logreg.yaml", "--out", out]);
    expect(e.status, e.stderr).toBe(0);
    const pct = (x: string) => (Number(x)).toFixed(3);
    expect(e.stdout).toContain(`validation (1000 examples): error ${pct(m![1]!)} %`);
    expect(e.stdout).toContain(`test (1000 examples): error ${pct(m![2]!)} %`);
    const last = run("dlt-eval.mjs", ["specs/logreg.yaml", "--out", out, "--last"]);
    expect(last.status, last.stderr).toBe(0);
    expect(last.stdout).toMatch(/checkpoint\.safetensors, a finished run \(global step \d+\)/);
  }, 240_000);

  it("refuses a checkpoint of another spec, a missing one, and training options", () => {
    const wrong = run("dlt-eval.mjs", ["specs/mlp.yaml", "--checkpoint", join(out, "best.safetensors")]);
    expect(wrong.status).toBe(1);
    expect(wrong.stderr.trim().split("\n")).toHaveLength(1);
    expect(wrong.stderr).toMatch(/^dlt-eval: .*best\.safetensors/);
    const missing = run("dlt-eval.mjs", ["specs/logreg.yaml", "--out", join(scratch, "none")]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/^dlt-eval: .*none\/best\.safetensors: no checkpoint/);
    const usage = run("dlt-eval.mjs", ["specs/logreg.yaml", "--resume"]);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--resume is a training option/);
    const help = run("dlt-eval.mjs", ["--help"]);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain("--checkpoint FILE");
  }, 240_000);
});
