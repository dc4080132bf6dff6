// Atomic file replacement in Node, for checkpoints and every other file a
// run writes: a crash or power cut leaves either the old or the new file,
// never a torn one.
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from "node:fs";
import { dirname } from "node:path";

export interface AtomicWriteOptions {
  /** Bytes per write call (default 4 MiB). */
  readonly chunkSize?: number;
  /** Called after each chunk with the bytes written so far. Tests throw from
   * it to simulate a crash midway; nothing else should need it. */
  readonly onChunk?: (written: number) => void;
}

/** Writes `bytes` to `file` atomically: into `<file>.tmp-<pid>`, fsync, then
 * rename over `file` (atomic on POSIX file systems), then fsync the
 * directory so the rename itself survives a power cut. If anything fails
 * before the rename the temporary file is removed and `file` is untouched,
 * so a crash mid-write never leaves a torn checkpoint. */
export function writeFileAtomic(file: string, bytes: Uint8Array, opts: AtomicWriteOptions = {}): void {
  const tmp = `${file}.tmp-${process.pid}`;
  const chunk = opts.chunkSize ?? 4 * 1024 * 1024;
  let fd = openSync(tmp, "w");
  try {
    let written = 0;
    while (written < bytes.length) {
      const n = writeSync(fd, bytes, written, Math.min(chunk, bytes.length - written));
      written += n;
      opts.onChunk?.(written);
    }
    fsyncSync(fd);
    closeSync(fd);
    fd = -1;
    renameSync(tmp, file);
  } catch (e) {
    if (fd >= 0) closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  syncDir(dirname(file));
}

function syncDir(dir: string): void {
  // Directory fsync is not supported everywhere (e.g. Windows); the rename
  // has happened either way, so failing here would only hide a good write.
  try {
    const fd = openSync(dir, "r");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}
