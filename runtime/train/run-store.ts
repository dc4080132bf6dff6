// Where a run keeps its files (checkpoints, best model, metrics log, images).
// The trainer only sees the RunStore interface so it runs unchanged in Node
// (files in a directory: runtime/node/run.ts) and in the browser (memory,
// IndexedDB, OPFS). Methods are async because browser storage is.

/** The JSON-lines log of validations, one MetricsRecord (runtime/progress.ts)
 * per line. */
export const METRICS_FILE = "metrics.jsonl";

/** Where a training run keeps its files: checkpoints, the best model, the
 * metrics log, images. A folder in Node (train's `outDir`), memory
 * (MemoryRunStore), or a page's own storage. */
export interface RunStore {
  /** Human-readable location of a file, for messages (e.g. a path). */
  where(name: string): string;
  /** The file's bytes, or null when it does not exist. */
  read(name: string): Promise<Uint8Array | null>;
  /** Replaces the file all at once: a reader (or a crash) sees either the
   * old or the new contents, never a mix. */
  writeAtomic(name: string, bytes: Uint8Array): Promise<void>;
  /** Appends one line (a newline is added) to a text log. */
  appendLine(name: string, line: string): Promise<void>;
  /** Keeps only the first `lines` lines of a text log (creating it empty
   * when missing): a resumed run drops lines written after its checkpoint. */
  truncateLines(name: string, lines: number): Promise<void>;
}

/** In-memory store: tests and the browser's default. */
export class MemoryRunStore implements RunStore {
  readonly files = new Map<string, Uint8Array>();
  private readonly logs = new Map<string, string[]>();

  where(name: string): string {
    return `memory:${name}`;
  }

  async read(name: string): Promise<Uint8Array | null> {
    const log = this.logs.get(name);
    if (log) return new TextEncoder().encode(log.map((l) => l + "\n").join(""));
    const f = this.files.get(name);
    return f ? f.slice() : null;
  }

  async writeAtomic(name: string, bytes: Uint8Array): Promise<void> {
    this.files.set(name, bytes.slice());
  }

  async appendLine(name: string, line: string): Promise<void> {
    const log = this.logs.get(name) ?? [];
    log.push(line);
    this.logs.set(name, log);
  }

  async truncateLines(name: string, lines: number): Promise<void> {
    this.logs.set(name, (this.logs.get(name) ?? []).slice(0, lines));
  }

  /** Lines of a text log (for tests). */
  lines(name: string): readonly string[] {
    return this.logs.get(name) ?? [];
  }
}
