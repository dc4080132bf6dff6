// Taking a run directory for one training process: a lock file so two
// processes never write the same run, the refusal to start a fresh run over
// an earlier one (unless asked to move it aside), and the removal of
// temporary files a killed write left behind.
//
// The lock is `<dir>/train.lock`, created with O_EXCL ("wx") and holding the
// owner's pid, host and start time as JSON. A lock whose pid no longer runs
// on this host (a process killed with SIGKILL, a power cut) is stale and is
// taken over with a warning; one held by a live process, or by another
// host, is refused (E043). The lock is released on every exit path: the
// caller's finally, and a process "exit" hook for process.exit() (a second
// Ctrl-C) and uncaught errors.
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { BEST_FILE, CHECKPOINT_FILE } from "../checkpoint/state.ts";
import type { Logger } from "../progress.ts";
import { METRICS_FILE } from "../train/run-store.ts";

export const LOCK_FILE = "train.lock";

/** The files whose presence means a run already lives in a directory. */
const RUN_FILES = [CHECKPOINT_FILE, METRICS_FILE, BEST_FILE];

/** Temporary files of writeFileAtomic (`<name>.tmp-<pid>`). */
const TEMP_FILE = /^[^/]+\.tmp-\d+$/;

/** The run directory cannot be used: held by another process (E043), or
 * it holds an earlier run and neither --resume nor --overwrite was given
 * (E042). */
export class RunDirError extends Error {
  override readonly name = "RunDirError";
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly started: string;
}

export interface RunDirOptions {
  /** The run continues: an earlier run in the directory is what it wants. */
  readonly resume?: boolean;
  /** Move an earlier run aside (to `<dir>.old-<time>`) and start afresh. */
  readonly overwrite?: boolean;
  readonly log?: Logger;
  /** Clock for the name of the moved-aside directory (tests). */
  readonly date?: () => Date;
}

/** A run directory held by this process until release(). */
export interface RunDir {
  readonly dir: string;
  /** Where an earlier run was moved (with overwrite; absolute), if one was. */
  readonly movedTo: string | null;
  release(): void;
}

function readOwner(file: string): LockOwner | null | "unreadable" {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return null; // gone meanwhile
  }
  try {
    const o = JSON.parse(text) as Partial<LockOwner>;
    if (typeof o.pid === "number" && Number.isSafeInteger(o.pid) && o.pid > 0 && typeof o.host === "string") {
      return { pid: o.pid, host: o.host, started: typeof o.started === "string" ? o.started : "?" };
    }
  } catch {
    /* fall through */
  }
  return "unreadable";
}

/** Whether a process with this pid runs on this host (EPERM: it does,
 * under another user). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

function sameOwner(a: LockOwner | null | "unreadable", b: LockOwner | "unreadable"): boolean {
  if (a === null || a === "unreadable" || b === "unreadable") return a === b;
  return a.pid === b.pid && a.host === b.host && a.started === b.started;
}

/** Creates the lock file or throws RunDirError naming its owner. */
function takeLock(dir: string, log: Logger | undefined): LockOwner {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const host = hostname();
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, JSON.stringify(me) + "\n", { flag: "wx" });
      return me;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const owner = readOwner(file);
    if (owner === null) continue;
    let why: string;
    if (owner === "unreadable") {
      // A lock being written right now, or torn by a crash: stale only once
      // it is clearly old.
      let age = 0;
      try {
        age = Date.now() - statSync(file).mtimeMs;
      } catch {
        continue;
      }
      if (age < 10_000) {
        throw new RunDirError(`error[E043]: ${dir} is locked by another dlt-train (${file} is being written); wait for it, or remove ${file} if no dlt-train runs there`);
      }
      why = `unreadable and ${Math.round(age / 1000)} s old`;
    } else if (owner.host !== host) {
      throw new RunDirError(`error[E043]: ${dir} is in use by dlt-train pid ${owner.pid} on host ${owner.host} (since ${owner.started}); if that process is gone, remove ${file}`);
    } else if (alive(owner.pid)) {
      const self = owner.pid === process.pid ? " (this process)" : "";
      throw new RunDirError(`error[E043]: ${dir} is in use by dlt-train pid ${owner.pid}${self} (since ${owner.started}); wait for it to finish, or stop it (Ctrl-C or kill ${owner.pid}: it checkpoints and exits)`);
    } else {
      why = `pid ${owner.pid} no longer runs on ${host}`;
    }
    // Stale. Move it aside under a name of our own, and take it over only
    // if what moved is the lock judged stale (another process may have
    // taken it over and locked afresh in between: then put theirs back).
    const aside = `${file}.stale-${process.pid}`;
    try {
      renameSync(file, aside);
    } catch {
      continue;
    }
    const moved = readOwner(aside);
    if (sameOwner(moved, owner)) {
      rmSync(aside, { force: true });
      log?.info(`warning: took over the stale lock ${file} (${why})`);
    } else {
      try {
        linkSync(aside, file);
      } catch {
        /* someone locked meanwhile: theirs stands */
      }
      rmSync(aside, { force: true });
    }
  }
  throw new RunDirError(`error[E043]: could not lock ${dir} (${file} keeps changing hands)`);
}

/** Removes `<name>.tmp-<pid>` files that a write killed before its rename
 * left behind (only names of that pattern; this process holds the lock, so
 * no live writer owns them). */
function removeStaleTemps(dir: string, log: Logger | undefined): void {
  for (const name of readdirSync(dir)) {
    if (!TEMP_FILE.test(name)) continue;
    const file = join(dir, name);
    try {
      if (!statSync(file).isFile()) continue;
      unlinkSync(file);
      log?.info(`removed ${file}, left by an interrupted write`);
    } catch {
      /* gone meanwhile */
    }
  }
}

function stamp(d: Date): string {
  return d.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
}

/** Takes `dir` (created if missing) for one training process: locks it,
 * removes stale temporary files, and — for a fresh run — refuses an
 * earlier run there (E042) unless opts.overwrite, which renames the
 * directory to `<dir>.old-<UTC time>` and starts in a new, empty one. */
export function openRunDir(dir: string, opts: RunDirOptions = {}): RunDir {
  try {
    return takeRunDir(dir, opts);
  } catch (e) {
    if (e instanceof RunDirError) throw e;
    // A path that is a file, a folder we may not write: one line, no trace.
    const err = e as NodeJS.ErrnoException;
    throw new RunDirError(`${dir} cannot be used as a run folder: ${err.code ? `${err.code}: ` : ""}${err.message.replace(/^\w+: /, "")}`);
  }
}

function takeRunDir(dir: string, opts: RunDirOptions): RunDir {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true });
  let owner = takeLock(dir, opts.log);
  let lockDir = abs;
  let movedTo: string | null = null;
  const release = (): void => {
    const file = join(lockDir, LOCK_FILE);
    const cur = readOwner(file);
    // Only our own lock (not one a later process took over).
    if (cur !== null && cur !== "unreadable" && cur.pid === owner.pid && cur.started === owner.started) rmSync(file, { force: true });
  };
  process.on("exit", release);
  const done = (): void => {
    release();
    process.off("exit", release);
  };
  try {
    if (!opts.resume) {
      const found = RUN_FILES.filter((f) => existsSync(join(abs, f)));
      if (found.length > 0 && !opts.overwrite) {
        throw new RunDirError(`error[E042]: ${dir} already holds a run (${found.join(", ")}); continue it with --resume, or start afresh with --overwrite (moves it to ${dir}.old-<time>)`);
      }
      if (found.length > 0) {
        const cwd = process.cwd();
        if (cwd === abs || cwd.startsWith(abs + sep)) {
          throw new RunDirError(`error[E042]: --overwrite cannot move ${dir} aside: it contains the current directory; use another --out`);
        }
        let target = `${abs}.old-${stamp(opts.date?.() ?? new Date())}`;
        for (let i = 1; existsSync(target); i++) target = `${abs}.old-${stamp(opts.date?.() ?? new Date())}-${i}`;
        // The directory moves whole (one rename), our lock with it; then a
        // new directory is locked afresh.
        renameSync(abs, target);
        lockDir = target;
        release();
        mkdirSync(abs, { recursive: true });
        owner = takeLock(dir, opts.log);
        lockDir = abs;
        movedTo = target;
        opts.log?.info(`warning: --overwrite: moved the earlier run in ${dir} to ${relative(process.cwd(), target) || target}`);
      }
    }
    removeStaleTemps(abs, opts.log);
  } catch (e) {
    done();
    throw e;
  }
  return { dir, movedTo, release: done };
}
