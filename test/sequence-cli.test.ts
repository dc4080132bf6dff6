// The sequence models' bad data through the CLI, as a user meets it: one
// line naming the file and the item, exit 1, no stack trace; and a smoke
// run of each spec on its real data (a few steps, the cost printed).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync, gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { readMidiRoll } from "../runtime/node/piano-roll.ts";

const scratch = mkdtempSync(join(tmpdir(), "dlt-sequence-cli-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const train = (args: string[]) => spawnSync(process.execPath, [join(ROOT, "bin", "dlt-train.mjs"), ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });

function expectOneLineError(r: ReturnType<typeof train>, pattern: RegExp): void {
  expect(r.status, r.stderr).toBe(1);
  const lines = r.stderr.trim().split("\n").filter((l) => !l.startsWith("data:") && !l.startsWith("compiled "));
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("bad data", () => {
  it("a truncated ATIS pickle", () => {
    const dir = join(scratch, "atis");
    const bytes = gunzipSync(readFileSync("../shared/data/atis/atis.fold3.pkl.gz"));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "atis.fold3.pkl.gz"), gzipSync(bytes.subarray(0, 50_000)));
    const r = train(["specs/rnnslu.yaml", "--data", dir, "--out", join(scratch, "run-atis"), "--steps", "1"]);
    expectOneLineError(r, /^dlt-train: .*atis\.fold3\.pkl\.gz: truncated pickle/);
  });

  it("a missing ATIS folder", () => {
    const r = train(["specs/rnnslu.yaml", "--data", join(scratch, "nowhere"), "--out", join(scratch, "run-none"), "--steps", "1"]);
    expectOneLineError(r, /^dlt-train: .*nowhere\/atis\.fold3\.pkl\.gz: file not found/);
  });

  it("a polarity file with binary content", () => {
    const dir = join(scratch, "rt");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "rt-polarity.pos"), "a good film\n");
    writeFileSync(join(dir, "rt-polarity.neg"), Buffer.from([0x61, 0x00, 0x62, 0x0a]));
    const r = train(["specs/lstm.yaml", "--data", dir, "--out", join(scratch, "run-rt"), "--steps", "1"]);
    expectOneLineError(r, /^dlt-train: .*rt-polarity\.neg/);
  });
});

describe("--fold", () => {
  it("names the folds of the spec's dataset when out of range", () => {
    const r = train(["specs/rnnslu.yaml", "--fold", "7", "--out", join(scratch, "run-fold"), "--steps", "1"]);
    expectOneLineError(r, /^dlt-train: .*--fold 7: atis has folds 0-4/);
  });

  it("refuses a dataset without folds", () => {
    const r = train(["specs/logreg.yaml", "--fold", "1", "--out", join(scratch, "run-fold-mnist"), "--steps", "1"]);
    expectOneLineError(r, /^dlt-train: .*--fold 1: the spec's dataset "mnist" has no folds/);
  });

  it("trains rt-polarity on another cross-validation fold", () => {
    const r = train(["specs/lstm.yaml", "--fold", "4", "--out", join(scratch, "run-fold-rt"), "--steps", "2"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/seed 123, fold 4; train \d+ \/ valid \d+ \/ test 1066 sentences/);
  });
});

describe("smoke runs on the real data", () => {
  it.each([
    ["specs/rnnslu.yaml", 30],
    ["specs/lstm.yaml", 5],
  ] as const)("%s: a few steps print their first and last cost", (spec, steps) => {
    const r = train([spec, "--out", join(scratch, `smoke-${spec.replace(/\W/g, "_")}`), "--steps", String(steps)]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`train cost \\d+\\.\\d+ at step 1 → \\d+\\.\\d+ at step ${steps}`));
  });
});

describe("the RNN-RBM writes its music", () => {
  it("one epoch on JSB Chorales ends with 200 generated frames as MIDI and a piano roll", () => {
    const out = join(scratch, "rnnrbm-jsb");
    const r = train(["specs/rnnrbm.yaml", "--dataset", "jsb", "--epochs", "1", "--out", out, "--quiet"]);
    expect(r.status, r.stderr).toBe(0);
    const roll = readMidiRoll(readFileSync(join(out, "music.mid")), "music.mid");
    const frames = roll.length / 88;
    // midiwrite drops trailing silent frames: at most the 200 generated.
    expect(frames).toBeGreaterThan(0);
    expect(frames).toBeLessThanOrEqual(200);
    expect(roll.every((v) => v === 0 || v === 1)).toBe(true);
    const png = readFileSync(join(out, "music_roll.png"));
    expect(png.subarray(1, 4).toString()).toBe("PNG");
    // The roll image: time along x (200 frames), the 88 notes along y.
    expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([200, 88]);
  });
});

