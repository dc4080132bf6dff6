// Comments in generated code (TypeScript, WAT, WGSL) that tie it to the spec: `// specs/mlp.yaml:19
// hidden` above each kernel, `// specs/mlp.yaml:19 gradient of hidden` in
// the backward pass. The spec's text enters a comment only through
// `commentText`, which keeps the characters a file name or a spec name may
// have and drops anything that could end a comment or a line.

import type { SpecLoc } from "../ir/types.ts";

/** Text safe inside a `//` comment (and a `;;` WAT comment): letters,
 * digits and a few punctuation marks only, so no line or paragraph
 * separator (\n, \r, U+2028/9) can end the comment early. */
export function commentText(s: string): string {
  return s.replace(/[^\w./\[\]:,()%=+*Σ·—\- ]/g, "");
}

/** `// <file>:<line> <what>: <detail>` (what: the spec line's graph entry,
 * loss or optimizer; `gradient of …` in the backward pass). */
export function specComment(loc: SpecLoc | undefined, detail: string): string {
  const what = loc?.what ? `${loc.grad ? "gradient of " : ""}${loc.what.replace(/^graph\./, "")}` : "";
  const where = loc ? `${commentText(loc.file)}:${loc.line}` : "";
  const head = [where, commentText(what)].filter((x) => x).join(" ");
  return `// ${[head, commentText(detail)].filter((x) => x).join(": ")}`;
}

/** A string literal for generated TypeScript: JSON.stringify, and the line
 * and paragraph separators (legal inside JS strings, but line breaks to
 * every reader and to WGSL) escaped too. The only way a string from outside
 * the compiler becomes a literal in generated code. */
export function jsString(s: string): string {
  return JSON.stringify(s).replace(/\u2028/g, "\\u2028").replace(/\u2029/g, "\\u2029");
}
