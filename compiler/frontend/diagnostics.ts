// Diagnostics: located, coded messages printed like rustc's, never a stack
// trace. A SpecError carries every error found in a spec; the CLI prints
// `formatDiagnostic(d)` for each and exits 1.

import { readTextFile } from "./host-files.ts";
import type { SpecLoc } from "../ir/types.ts";
import type { Path } from "./types.ts";

/** An error (`E0nn`, the spec does not compile) or a warning (`W0nn`). */
export type Severity = "error" | "warning";

/** Another place in the same spec that explains a diagnostic (e.g. where a
 * name was first defined). */
export interface RelatedLocation {
  readonly line: number;
  readonly col: number;
  readonly message: string;
}

/** One problem of a spec, located: code, severity, file, line and column,
 * message, and advice (help, notes, related places). `formatDiagnostic`
 * prints it as the CLI does. */
export interface Diagnostic {
  /** Stable code, `E0nn` for errors and `W0nn` for warnings (docs/errors.md). */
  readonly code: string;
  readonly severity: Severity;
  readonly file: string;
  /** 1-based line and column (UTF-16 code units). */
  readonly line: number;
  readonly col: number;
  readonly message: string;
  /** One line of advice: `did you mean 'x'?`, the valid choices, a fix. */
  readonly help?: string;
  /** Unlocated notes (e.g. what a key means). */
  readonly notes?: readonly string[];
  /** Other places in the same file that explain the error. */
  readonly related?: readonly RelatedLocation[];
  /** Width of the underlined span (default 1). */
  readonly span?: number;
  /** The text of the source line, for the snippet (read from `file` if absent). */
  readonly sourceLine?: string;
}

/** Thrown by the spec loader with every error found (never partial output). */
export class SpecError extends Error {
  constructor(readonly diagnostics: readonly Diagnostic[]) {
    super(diagnostics.length ? headline(diagnostics[0]!) + (diagnostics.length > 1 ? ` (and ${diagnostics.length - 1} more)` : "") : "invalid spec");
    this.name = "SpecError";
  }
}

export function diagnosticFromLoc(code: string, loc: SpecLoc, message: string, help?: string): Diagnostic {
  return { code, severity: code.startsWith("W") ? "warning" : "error", file: loc.file, line: loc.line, col: loc.col, message, ...(help !== undefined ? { help } : {}) };
}

function headline(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col} ${d.severity}[${d.code}]: ${d.message}`;
}

const fileCache = new Map<string, readonly string[] | null>();

function lineOf(d: Diagnostic, text?: string): string | undefined {
  if (d.sourceLine !== undefined) return d.sourceLine;
  let lines: readonly string[] | null | undefined;
  if (text !== undefined) lines = text.split(/\r?\n/);
  else {
    lines = fileCache.get(d.file);
    if (lines === undefined) {
      lines = readTextFile(d.file)?.split(/\r?\n/) ?? null;
      fileCache.set(d.file, lines);
    }
  }
  return lines?.[d.line - 1];
}

/**
 * ```text
 * specs/x.yaml:12:5 error[E003]: unknown key 'batch_sise' in 'data'
 *    |
 * 12 |   batch_sise: 20
 *    |   ^^^^^^^^^^
 *   = help: did you mean 'batch_size'?
 *   = note: specs/x.yaml:3:3: first defined here
 * ```
 * The snippet uses `d.sourceLine`, else line `d.line` of `text`, else of the
 * file `d.file` read from disk; it is left out when none is available.
 */
export function formatDiagnostic(d: Diagnostic, text?: string): string {
  const out = [headline(d)];
  const src = lineOf(d, text);
  if (src !== undefined) {
    const num = String(d.line);
    const pad = " ".repeat(num.length);
    const line = src.replace(/\s+$/, "");
    // Keep tabs so that the caret lines up with the text above it.
    const prefix = src.slice(0, Math.max(0, d.col - 1)).replace(/[^\t]/g, " ");
    const width = Math.max(1, Math.min(d.span ?? 1, Math.max(1, line.length - (d.col - 1))));
    out.push(`${pad} |`, `${num} | ${line}`, `${pad} | ${prefix}${"^".repeat(width)}`);
  }
  if (d.help !== undefined) out.push(`  = help: ${d.help}`);
  for (const n of d.notes ?? []) out.push(`  = note: ${n}`);
  for (const r of d.related ?? []) out.push(`  = note: ${d.file}:${r.line}:${r.col}: ${r.message}`);
  return out.join("\n");
}

/** Orders diagnostics by position (then code) and drops exact repeats. */
export function sortDiagnostics(ds: readonly Diagnostic[]): Diagnostic[] {
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const d of [...ds].sort((a, b) => a.line - b.line || a.col - b.col || a.code.localeCompare(b.code))) {
    const k = `${d.code}|${d.line}|${d.col}|${d.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(d);
  }
  return out;
}

/** `data.batch_size`, `phases[0].optimizer`, `params.W.shape[1]`. */
export function displayPath(path: Path): string {
  let s = "";
  for (const seg of path) s += typeof seg === "number" ? `[${seg}]` : s ? `.${seg}` : seg;
  return s || "the spec";
}

/** How wide to underline the token that starts `rest`: a quoted string with
 * its quotes, a name or number, else one character. Load errors and check
 * diagnostics both point at a token, so they underline it the same way. */
export function tokenSpan(rest: string): number {
  const q = rest[0];
  if (q === '"' || q === "'") {
    const end = rest.indexOf(q, 1);
    return end > 0 ? end + 1 : 1;
  }
  const m = /^[A-Za-z0-9_.+\-]+/.exec(rest);
  return m ? m[0].length : 1;
}
