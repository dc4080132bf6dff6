// The run folder belongs to one run and one process (real dlt-train
// processes on specs/logreg.yaml): a fresh run refuses to replace an earlier
// one unless --overwrite (which moves it aside); a second process on the
// same folder is refused, naming the owner's pid; a lock left by a killed
// process is taken over; SIGTERM checkpoints like Ctrl-C and releases the
// lock; a checkpoint state that is not what the trainer wrote is refused in
// one line.
import { spawn, spawnSync } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { decodeSafetensors, encodeSafetensors } from "../runtime/checkpoint/safetensors.ts";

const LOCK = "train.lock";
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), "dlt-run-folder-"));
  dirs.push(d);
  return d;
}

const BIN = join(ROOT, "bin", "dlt-train.mjs");

function dltTrain(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, "specs/logreg.yaml", ...args], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function start(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, "specs/logreg.yaml", ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
  return { child, out: () => out, exited };
}

async function until<T>(what: string, f: () => T | undefined, ms = 60_000): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The messages a user sees: one line, no stack trace. */
function expectOneLine(stderr: string, re: RegExp): void {
  const lines = stderr.split("\n").filter((l) => l.startsWith("dlt-train: "));
  expect(lines.length, stderr).toBe(1);
  expect(lines[0]).toMatch(re);
  expect(stderr, stderr).not.toMatch(/^\s+at /m);
}

function trainerState(dir: string): Record<string, unknown> {
  const st = decodeSafetensors(readFileSync(join(dir, "checkpoint.safetensors")), "ck");
  return JSON.parse(st.metadata["dlt.state"]!) as Record<string, unknown>;
}

/** Rewrites the trainer state in a run folder's checkpoint. */
function editState(dir: string, edit: (s: Record<string, unknown>) => void): void {
  const file = join(dir, "checkpoint.safetensors");
  const st = decodeSafetensors(readFileSync(file), file);
  const state = JSON.parse(st.metadata["dlt.state"]!) as Record<string, unknown>;
  edit(state);
  writeFileSync(file, encodeSafetensors(st.tensors, { ...st.metadata, "dlt.state": JSON.stringify(state) }));
}

describe("a fresh run over an earlier one", () => {
  it("is refused (E042) and leaves the earlier run as it was; --overwrite moves it aside", () => {
    const dir = join(tmp(), "run");
    const first = dltTrain(["--out", dir, "--steps", "20", "--quiet"]);
    expect(first.status, first.stderr).toBe(0);
    const before = Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString("hex")]));
    expect(Object.keys(before).sort()).toEqual(["best.safetensors", "checkpoint.safetensors", "metrics.jsonl"]);

    const again = dltTrain(["--out", dir, "--steps", "5", "--quiet"]);
    expect(again.status).toBe(1);
    expectOneLine(again.stderr, /^dlt-train: error\[E042\]: .*run already holds a run \(checkpoint\.safetensors, metrics\.jsonl, best\.safetensors\); continue it with --resume, or start afresh with --overwrite/);
    expect(Object.fromEntries(readdirSync(dir).map((f) => [f, readFileSync(join(dir, f)).toString("hex")]))).toEqual(before);

    const both = dltTrain(["--out", dir, "--resume", "--overwrite"]);
    expect(both.status).toBe(2);
    expect(both.stderr).toContain("give one of them");

    const over = dltTrain(["--out", dir, "--steps", "5", "--overwrite", "--quiet"]);
    expect(over.status, over.stderr).toBe(0);
    expect(over.stderr).toMatch(/^warning: --overwrite: moved the earlier run in .*run to .*run\.old-\d{8}T\d{6}Z$/m);
    const aside = readdirSync(join(dir, "..")).filter((f) => f.startsWith("run.old-"));
    expect(aside.length).toBe(1);
    const moved = join(dir, "..", aside[0]!);
    expect(Object.fromEntries(readdirSync(moved).map((f) => [f, readFileSync(join(moved, f)).toString("hex")]))).toEqual(before);
    expect(trainerState(dir)).toMatchObject({ globalStep: 5 });
    expect(readdirSync(dir)).not.toContain(LOCK);
  });
});

describe("two processes on one run folder", () => {
  it("the second is refused naming the owner's pid (E043); SIGTERM checkpoints and releases the lock", async () => {
    const dir = join(tmp(), "run");
    const a = start(["--out", dir, "--steps", "12000", "--checkpoint-every", "0"]);
    try {
      // The lock exists before its owner line is written: wait for a whole line.
      const owner = await until("the lock", () => {
        const text = existsSync(join(dir, LOCK)) ? readFileSync(join(dir, LOCK), "utf8") : "";
        return text.endsWith("\n") ? (JSON.parse(text) as { pid: number }) : undefined;
      });
      expect(owner.pid).toBe(a.child.pid);
      // The same command again, and with --resume: refused before touching anything.
      for (const extra of [[], ["--resume"]]) {
        const b = dltTrain(["--out", dir, "--steps", "12000", ...extra]);
        expect(b.status, b.stderr).toBe(1);
        expectOneLine(b.stderr, new RegExp(`^dlt-train: error\\[E043\\]: .*run is in use by dlt-train pid ${a.child.pid} \\(since `));
      }
      // A is training (a checkpoint at an epoch end); stop it like a service manager would.
      await until("a checkpoint", () => (existsSync(join(dir, "checkpoint.safetensors")) ? true : undefined));
      a.child.kill("SIGTERM");
      expect(await a.exited).toBe(0);
      expect(a.out()).toContain("SIGTERM: checkpointing after this step");
      expect(a.out()).toMatch(/stopped at global step \d+; continue with --resume/);
    } finally {
      a.child.kill("SIGKILL");
    }
    expect(readdirSync(dir)).not.toContain(LOCK);
    // One writer: the metrics log is a clean sequence of epochs.
    const recs = readFileSync(join(dir, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as { epoch: number });
    expect(recs.map((r) => r.epoch)).toEqual(recs.map((_, i) => i + 1));
    const steps = trainerState(dir).globalStep as number;
    expect(steps).toBeGreaterThan(0);
    // It resumes where SIGTERM left it.
    const c = dltTrain(["--out", dir, "--resume", "--steps", String(steps + 3), "--quiet"]);
    expect(c.status, c.stderr).toBe(0);
    expect(c.stdout).toContain(`stopped at global step ${steps + 3}`);
  });
});

describe("the lock on abrupt exits", () => {
  // A second Ctrl-C ends the process with process.exit(130) from the signal
  // handler; a bug ends it with an uncaught error. Signals of one kind do not
  // queue, so two sent at once arrive as one: process.exit and the throw are
  // called directly here, in a real process that holds a run folder.
  it.each([
    ["process.exit(130)", "process.exit(130);", 130],
    ["an uncaught error", "throw new Error('boom');", 1],
  ])("%s releases it", (_what, end, code) => {
    const dir = join(tmp(), "run");
    const script = join(tmp(), "hold.ts");
    writeFileSync(script, `import { openRunDir } from ${JSON.stringify(join(ROOT, "runtime/node/run-dir.ts"))};\nimport { existsSync } from "node:fs";\nopenRunDir(process.argv[2]!);\nif (!existsSync(process.argv[2] + "/${LOCK}")) process.exit(9);\n${end}\n`);
    const r = spawnSync(process.execPath, ["--import", "tsx", script, dir], { cwd: ROOT, encoding: "utf8", timeout: 60_000 });
    expect(r.status, r.stderr).toBe(code);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe("kill -9 mid-epoch after a time-based checkpoint", () => {
  it("--resume takes over the stale lock, removes stale temporary files, and ends bit-identical to an uninterrupted run", async () => {
    const N = 600;
    const straight = join(tmp(), "straight");
    const s = dltTrain(["--out", straight, "--steps", String(N), "--checkpoint-every", "0", "--quiet"]);
    expect(s.status, s.stderr).toBe(0);

    const dir = join(tmp(), "killed");
    // 0.0001 minutes = 6 ms: a checkpoint every step or so (an epoch of
    // logreg, 13 steps and a validation, takes about 100 ms).
    const a = start(["--out", dir, "--steps", String(N), "--checkpoint-every", "0.0001", "--quiet"]);
    let killedAt: Record<string, unknown>;
    try {
      killedAt = await until("a mid-epoch checkpoint", () => {
        try {
          const st = trainerState(dir);
          return (st.batch as number) > 0 && (st.globalStep as number) >= 20 ? st : undefined;
        } catch {
          return undefined; // not there yet
        }
      });
      a.child.kill("SIGKILL");
    } finally {
      a.child.kill("SIGKILL");
    }
    await a.exited;
    expect(killedAt.globalStep as number).toBeLessThan(N);
    expect(existsSync(join(dir, LOCK))).toBe(true);
    // What a write killed before its rename leaves, and files that only look alike.
    writeFileSync(join(dir, "checkpoint.safetensors.tmp-4194000"), "torn");
    writeFileSync(join(dir, "metrics.jsonl.tmp-77"), "torn");
    writeFileSync(join(dir, "notes.tmp-draft"), "mine");
    writeFileSync(join(dir, "tmp-123"), "mine");

    const r = dltTrain(["--out", dir, "--resume", "--steps", String(N), "--checkpoint-every", "0.0001"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`warning: took over the stale lock .*train\\.lock \\(pid ${a.child.pid} no longer runs on `));
    expect(r.stderr).toContain("checkpoint.safetensors.tmp-4194000, left by an interrupted write");
    expect(readdirSync(dir).sort()).toEqual(["best.safetensors", "checkpoint.safetensors", "metrics.jsonl", "notes.tmp-draft", "tmp-123"]);

    const tensors = (d: string) => {
      const st = decodeSafetensors(readFileSync(join(d, "checkpoint.safetensors")), d);
      return [...st.tensors].map(([k, t]) => [k, Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength).toString("hex")]);
    };
    expect(tensors(dir)).toEqual(tensors(straight));
    expect({ ...trainerState(dir), elapsed: 0 }).toEqual({ ...trainerState(straight), elapsed: 0 });
    const metrics = (d: string) => readFileSync(join(d, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => ({ ...(JSON.parse(l) as object), elapsed: 0 }));
    expect(metrics(dir)).toEqual(metrics(straight));
    expect(readFileSync(join(dir, "best.safetensors")).equals(readFileSync(join(straight, "best.safetensors")))).toBe(true);
  });
});

let base: string | undefined;
/** A run stopped at step 20, made once and copied by each case. */
function baseRun(): string {
  if (base) return base;
  const dir = join(tmp(), "base");
  const first = dltTrain(["--out", dir, "--steps", "20", "--quiet"]);
  expect(first.status, first.stderr).toBe(0);
  return (base = dir);
}

describe("a checkpoint whose trainer state was tampered with", () => {
  it.each([
    ["results: [null, 5]", (s: Record<string, unknown>) => (s.results = [null, 5]), /field "results\[0\]" must be object, found null/],
    ["epoch: 1e9", (s: Record<string, unknown>) => (s.epoch = 1e9), /field "epoch" is 1000000000, past phase "train"'s 1000 epochs/],
  ])("%s is refused in one line naming the file and the field (E044)", (_name, edit, re) => {
    const dir = join(tmp(), "run");
    cpSync(baseRun(), dir, { recursive: true });
    editState(dir, edit);
    const r = dltTrain(["--out", dir, "--resume"]);
    expect(r.status).toBe(1);
    expectOneLine(r.stderr, /^dlt-train: error\[E044\]: .*run\/checkpoint\.safetensors: "dlt\.state" /);
    expectOneLine(r.stderr, re);
    expect(r.stdout).not.toContain("Optimization complete");
    expect(readdirSync(dir)).not.toContain(LOCK);
  });
});
