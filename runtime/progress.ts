// Training progress for humans. On a terminal: one progress line on stderr
// (phase, epoch, batch k/n, cost, examples/s, ETA of the epoch), redrawn at
// most 10 times a second so drawing never slows training; validation results
// are printed as permanent lines above it. Not on a terminal (logs, CI):
// only the permanent lines, one per validation. The sink is abstract so the
// browser can route the same text into the page.

/** One line of metrics.jsonl, written after every validation (or, for a
 * phase without metrics, at every epoch end). */
export interface MetricsRecord {
  readonly phase: string;
  /** 1-based, as the tutorial prints it. */
  readonly epoch: number;
  /** 1-based minibatch index within the epoch, and the epoch's count. */
  readonly minibatch: number;
  readonly minibatches: number;
  /** The tutorial's iter: 0-based minibatch counter within the phase. */
  readonly iter: number;
  readonly globalStep: number;
  /** Mean training cost of the minibatches since the previous record. */
  readonly trainCost: number | null;
  /** Mean per-example validation metrics (error as a fraction). */
  readonly valid: Readonly<Record<string, number>> | null;
  /** This validation produced a new best model. */
  readonly best: boolean;
  /** Test metrics of the best model so far. */
  readonly testAtBest: Readonly<Record<string, number>> | null;
  readonly elapsed: number;
  /** A sampling phase's record: `trainCost` is the mean of the value it
   * reports (named here) over its draws. */
  readonly reported?: string;
}

/** What the trainer reports after every minibatch (Logger.batch). */
export interface BatchProgress {
  readonly phase: string;
  readonly epoch: number;
  readonly epochs: number;
  /** 1-based minibatch just done, of `batches` in the epoch. */
  readonly batch: number;
  readonly batches: number;
  readonly cost: number;
  readonly batchSize: number;
}

/** What the trainer reports; every method must be cheap. */
export interface Logger {
  batch(p: BatchProgress): void;
  record(r: MetricsRecord): void;
  info(message: string): void;
  /** Clears any transient output (the progress line). */
  close(): void;
}

/** Where ProgressLogger writes: a stream (process.stderr) or anything with
 * `write` and whether it is a terminal. */
export interface TextSink {
  readonly isTTY: boolean;
  write(text: string): void;
}

/** A Logger that reports nothing (the API's default). */
export const silentLogger: Logger = {
  batch: () => {},
  record: () => {},
  info: () => {},
  close: () => {},
};

/** An error rate (a fraction) as every line of the CLI prints it: a
 * percent with 3 decimals ("7.900 %"). Only the summary's tutorial line
 * ("Optimization complete with best validation score of 7.900000 %") keeps
 * the tutorial's own 6 decimals. */
export function formatErrorRate(v: number): string {
  return `${(v * 100).toFixed(3)} %`;
}

/** One metric's value: the error rate as a percent, an F1 (already a
 * percent, as conlleval prints it) with 2 decimals, anything else (a mean
 * cost) with 6 decimals. */
export function formatMetric(name: string, v: number): string {
  return name === "error" ? formatErrorRate(v) : name === "f1" ? v.toFixed(2) : v.toFixed(6);
}

/** Metrics as "error 7.900 %, cost 0.271234". */
export function formatMetrics(m: Readonly<Record<string, number>>): string {
  return Object.entries(m)
    .map(([k, v]) => `${k} ${formatMetric(k, v)}`)
    .join(", ");
}

/** The permanent line for a metrics record, close to the tutorial's print. */
export function formatRecord(r: MetricsRecord): string {
  if (r.reported !== undefined) {
    const mean = r.trainCost === null || r.reported === "" ? "" : `, mean ${r.reported} ${r.trainCost.toFixed(6)}`;
    return `${r.phase}: ${r.minibatch}/${r.minibatches} draws${mean} (${r.elapsed.toFixed(1)}s)`;
  }
  const parts = [`${r.phase} epoch ${r.epoch}, minibatch ${r.minibatch}/${r.minibatches}`];
  if (r.trainCost !== null) parts.push(`train cost ${r.trainCost.toFixed(6)}`);
  if (r.valid) parts.push(`validation ${formatMetrics(r.valid)}`);
  if (r.best && r.testAtBest) parts.push(`test of best model ${formatMetrics(r.testAtBest)}`);
  return `${parts.join(", ")} (${r.elapsed.toFixed(1)}s)`;
}

function fmtDuration(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s` : `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** Options of ProgressLogger: what is printed and how often the progress line
 * is redrawn. */
export interface ProgressOptions {
  readonly quiet?: boolean;
  /** Milliseconds clock, injectable for tests. */
  readonly now?: () => number;
  /** Minimum milliseconds between redraws of the progress line. */
  readonly redrawMs?: number;
}

/** The CLI's Logger: a redrawn progress line on a terminal and one permanent
 * line per validation, written to a TextSink (stderr in Node, a page element
 * in a browser). */
export class ProgressLogger implements Logger {
  private readonly now: () => number;
  private readonly redrawMs: number;
  private lastDraw = -Infinity;
  private lineShown = false;
  /** Throughput window: examples and time since it was last reset. */
  private windowStart = -1;
  private windowExamples = 0;
  private rate = 0;

  constructor(
    private readonly sink: TextSink,
    private readonly opts: ProgressOptions = {},
  ) {
    this.now = opts.now ?? (() => Date.now());
    this.redrawMs = opts.redrawMs ?? 100;
  }

  batch(p: BatchProgress): void {
    if (this.opts.quiet || !this.sink.isTTY) return;
    const t = this.now();
    // The first batch only starts the clock: when it began is unknown.
    if (this.windowStart < 0) this.windowStart = t;
    else this.windowExamples += p.batchSize;
    const last = p.batch === p.batches;
    if (t - this.lastDraw < this.redrawMs && !last) return;
    const dt = (t - this.windowStart) / 1000;
    // Rate over the last window (about a second) so it tracks slowdowns.
    if (dt > 0) this.rate = this.windowExamples / dt;
    if (dt >= 1) {
      this.windowStart = t;
      this.windowExamples = 0;
    }
    this.lastDraw = t;
    const eta = this.rate > 0 ? ((p.batches - p.batch) * p.batchSize) / this.rate : Infinity;
    const width = 20;
    const filled = Math.round((p.batch / p.batches) * width);
    const bar = "#".repeat(filled) + ".".repeat(width - filled);
    const text =
      `${p.phase} epoch ${p.epoch}/${p.epochs} [${bar}] ${p.batch}/${p.batches} ` +
      `cost ${p.cost.toFixed(4)} ${this.rate > 0 ? this.rate.toFixed(0) : "?"} ex/s ETA ${fmtDuration(eta)}`;
    this.sink.write(`\r\x1b[K${text}`);
    this.lineShown = true;
  }

  record(r: MetricsRecord): void {
    this.line(formatRecord(r));
  }

  info(message: string): void {
    // Warnings are printed even with --quiet.
    if (this.opts.quiet && message.startsWith("warning:")) {
      this.sink.write(message + "\n");
      return;
    }
    this.line(message);
  }

  close(): void {
    this.clear();
  }

  private line(text: string): void {
    if (this.opts.quiet) return;
    this.clear();
    this.sink.write(text + "\n");
    // Redraw the bar on the next batch rather than after a delay.
    this.lastDraw = -Infinity;
  }

  private clear(): void {
    if (this.lineShown) this.sink.write("\r\x1b[K");
    this.lineShown = false;
  }
}
