// The last line of defence of the command-line tools: any error that reaches
// the top level becomes one line on stderr. Filesystem errors name the path
// and what to do; anything else is an internal error to report, with the
// stack only under --debug (or DLT_DEBUG=1).

const FS_ADVICE: Readonly<Record<string, string>> = {
  ENOENT: "no such file or folder",
  ENOTDIR: "a part of the path is a file, not a folder",
  EISDIR: "a folder where a file is expected",
  EEXIST: "already exists",
  EACCES: "permission denied: check the owner and mode, or choose another path",
  EPERM: "operation not permitted: check the owner and mode, or choose another path",
  EROFS: "the file system is read-only: choose a writable path",
  ENOSPC: "the disk is full: free some space or choose another disk",
  EDQUOT: "the disk quota is exhausted: free some space",
  EMFILE: "too many open files: raise the limit (ulimit -n)",
  ENAMETOOLONG: "the path is too long",
};

interface ErrnoLike {
  readonly code?: unknown;
  readonly path?: unknown;
  readonly dest?: unknown;
  readonly syscall?: unknown;
  readonly message?: unknown;
}

/** One line for an error that reached the top level of `tool`, and the exit
 * status: 1 for a filesystem error the user can fix, 2 for an internal one. */
export function topLevelError(tool: string, e: unknown, debug: boolean): { line: string; status: number } {
  const x = (typeof e === "object" && e !== null ? e : {}) as ErrnoLike;
  if (typeof x.code === "string" && x.code in FS_ADVICE) {
    const path = typeof x.path === "string" ? x.path : "";
    const dest = typeof x.dest === "string" ? ` → ${x.dest}` : "";
    const op = typeof x.syscall === "string" ? ` (${x.syscall}, ${x.code})` : ` (${x.code})`;
    return { line: `${tool}: ${path}${dest}${path ? ": " : ""}${FS_ADVICE[x.code]}${op}`, status: 1 };
  }
  const msg = e instanceof Error ? e.message : String(e);
  const stack = debug && e instanceof Error && e.stack ? `\n${e.stack}` : "";
  return { line: `${tool}: internal error: ${msg.split("\n")[0]} — this is a bug in dlt; please report it (run with --debug for the stack)${stack}`, status: 2 };
}

/** Whether the stack of unexpected errors is wanted. */
export function debugRequested(argv: readonly string[]): boolean {
  return argv.includes("--debug") || process.env.DLT_DEBUG === "1";
}
