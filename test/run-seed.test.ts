// A run's own seed (dlt-train --seed N, new Model({ seed })): it changes the
// initialisation and the draws but not the data's splits; the checkpoint
// records it, a resume continues it bitwise and refuses another (E061).

import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { Model as Lstm } from "../generated/lstm/model.ts";
import { Model as Mlp } from "../generated/mlp/model.ts";
import { CheckpointError } from "../runtime/checkpoint/safetensors.ts";
import { CHECKPOINT_FILE, decodeCheckpoint } from "../runtime/checkpoint/state.ts";
import { describeRun, MAX_SEED } from "../runtime/compiled-model.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import type { Splits } from "../runtime/data/dataset.ts";
import { loadRunData, parseArgs, seedOption, UsageError } from "../runtime/node/main.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore } from "../runtime/train/run-store.ts";
import { runTraining } from "../runtime/train/trainer.ts";
import { initModel } from "../runtime/train/model-ops.ts";

const bytes = (m: CompiledModel) => Object.values(m.params).map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString("hex"));

let embedded: Splits;
beforeAll(async () => {
  embedded = await loadRunData(new Mlp().desc, {});
});

describe("describeRun", () => {
  const spec = new Mlp().desc;

  it("keeps the spec's description without a seed or with the spec's own", () => {
    expect(describeRun(spec)).toBe(spec);
    expect(describeRun(spec, { seed: spec.seed })).toBe(spec);
  });

  it("replaces the seed and keeps the spec's for the data", () => {
    const d = describeRun(spec, { seed: 7 });
    expect([d.seed, d.dataSeed, d.specHash]).toEqual([7, spec.seed, spec.specHash]);
    // Reseeding a reseeded description still points the data at the spec's.
    expect(describeRun(d, { seed: 9 }).dataSeed).toBe(spec.seed);
  });

  it.each([-1, 1.5, MAX_SEED + 1, Number.NaN])("refuses seed %s", (seed) => {
    expect(() => describeRun(spec, { seed })).toThrow(RangeError);
  });
});

describe("a seeded model", () => {
  it("initialises differently from the spec's seed and from another seed; the same seed twice alike", () => {
    const init = (seed?: number) => {
      const m = new Mlp(seed === undefined ? {} : { seed });
      initModel(m);
      return bytes(m);
    };
    expect(init(7)).toEqual(init(7));
    expect(init(7)).not.toEqual(init());
    expect(init(7)).not.toEqual(init(8));
  });

  it("is validated and tested on the spec's split (rt-polarity's split is an order drawn from the seed)", async () => {
    const spec = new Lstm().desc;
    const seeded = describeRun(spec, { seed: spec.seed + 1 });
    const rows = async (d: typeof spec) => Buffer.from((await loadRunData(d, {})).test.x.buffer).toString("hex");
    expect(await rows(seeded)).toBe(await rows(spec));
    // And the check could fail: the seed does move the split.
    expect(await rows({ ...spec, seed: spec.seed + 1 })).not.toBe(await rows(spec));
  });

  it("records its seed in the checkpoint, resumes bitwise with it, and refuses another (E061)", async () => {
    const N = 60;
    const straight = new Mlp({ seed: 7 });
    await runTraining(straight, embedded, new MemoryRunStore(), { maxSteps: N, log: silentLogger });
    const store = new MemoryRunStore();
    await runTraining(new Mlp({ seed: 7 }), embedded, store, { maxSteps: N / 2, log: silentLogger });
    const ck = decodeCheckpoint((await store.read(CHECKPOINT_FILE))!, "ck", new Mlp({ seed: 7 }).desc);
    expect(ck.seed).toBe(7);
    await expect(runTraining(new Mlp(), embedded, store, { resume: true, maxSteps: N, log: silentLogger })).rejects.toThrow(/E061.*seed 7.*resume with --seed 7/);
    await expect(runTraining(new Mlp({ seed: 8 }), embedded, store, { resume: true, maxSteps: N, log: silentLogger })).rejects.toThrow(CheckpointError);
    const resumed = new Mlp({ seed: 7 });
    await runTraining(resumed, embedded, store, { resume: true, maxSteps: N, log: silentLogger });
    expect(bytes(resumed)).toEqual(bytes(straight));
    // The spec's seed differs at the same step count: the seed took effect.
    const spec = new Mlp();
    await runTraining(spec, embedded, new MemoryRunStore(), { maxSteps: N, log: silentLogger });
    expect(bytes(spec)).not.toEqual(bytes(straight));
  });

  it("a run of the spec's seed refuses a resume with --seed (E061, resume without --seed)", async () => {
    const store = new MemoryRunStore();
    await runTraining(new Mlp(), embedded, store, { maxSteps: 5, log: silentLogger });
    await expect(runTraining(new Mlp({ seed: 3 }), embedded, store, { resume: true, maxSteps: 10, log: silentLogger })).rejects.toThrow(/E061.*resume without --seed/);
  });
});

describe("--seed on the command line", () => {
  it("parses 0 .. 2^32 - 1 and refuses anything else (exit 2 in the CLI)", () => {
    expect(parseArgs(["--seed", "0"]).seed).toBe(0);
    expect(parseArgs(["--seed", String(MAX_SEED)]).seed).toBe(MAX_SEED);
    for (const bad of ["-1", "1.5", "1e3", String(MAX_SEED + 1), "x"]) expect(() => parseArgs(["--seed", bad])).toThrow(UsageError);
    expect(seedOption(["--data", "d", "--seed", "12"])).toBe(12);
    expect(seedOption(["--seed", "x"])).toBeUndefined();
    expect(seedOption([])).toBeUndefined();
  });

  const OUT = mkdtempSync(join(tmpdir(), "dlt-seed-"));
  afterAll(() => rmSync(OUT, { recursive: true, force: true }));
  const train = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "dlt-train.mjs"), "specs/mlp.yaml", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

  it("dlt-train --seed says so, and a resume without it is one line naming the seed", () => {
    const dir = join(OUT, "mlp");
    const a = train(["--seed", "7", "--steps", "3", "--out", dir]);
    expect(a.status).toBe(0);
    expect(a.stderr).toContain("seed 7 (the spec's is 1234, which the data's splits keep)");
    const b = train(["--steps", "6", "--out", dir, "--resume"]);
    expect(b.status).toBe(1);
    expect(b.stderr.trim().split("\n").at(-1)).toBe(`dlt-train: error[E061]: ${join(dir, "checkpoint.safetensors")} was written by a run with seed 7, this run's seed is 1234: resume with --seed 7`);
    const c = train(["--seed", "x"]);
    expect([c.status, c.stderr.split("\n")[0]]).toEqual([2, 'dlt-train: --seed expects an integer 0 to 4294967295, found "x"']);
  });
});
