// Checks of dropout calls (E029): the drop probability is a number literal
// in [0, 1), known when the graphs are built — training graphs divide the
// kept units by 1 − p and evaluation graphs leave dropout out.

import type { Diagnostic } from "../diagnostics.ts";
import type { Expr } from "../parse-expr.ts";
import type { SpecCheck } from "./context.ts";

function calls(e: Expr, fn: string, out: Extract<Expr, { kind: "call" }>[] = []): Extract<Expr, { kind: "call" }>[] {
  switch (e.kind) {
    case "unary":
    case "transpose":
      calls(e.arg, fn, out);
      break;
    case "binary":
      calls(e.left, fn, out);
      calls(e.right, fn, out);
      break;
    case "call":
      if (e.fn === fn) out.push(e);
      for (const a of e.args) calls(a, fn, out);
      break;
    default:
      break;
  }
  return out;
}

/** Offset of the first character of an expression (a binary node's pos is
 * its operator, a transpose's its `.T`). */
function startOf(e: Expr): number {
  if (e.kind === "binary") return Math.min(e.pos, startOf(e.left));
  if (e.kind === "transpose") return Math.min(e.pos, startOf(e.arg));
  return e.pos;
}

/** Length of the argument starting at `from`: up to the `,` or `)` that
 * closes it. */
function argLength(src: string, from: number): number {
  let depth = 0;
  for (let i = from; i < src.length; i++) {
    const ch = src[i];
    if (ch === "(") depth++;
    else if ((ch === ")" || ch === ",") && depth === 0) return Math.max(1, src.slice(from, i).trimEnd().length);
    else if (ch === ")") depth--;
  }
  return Math.max(1, src.length - from);
}

/** The literal value of a (possibly negated) number, else undefined. */
function literal(e: Expr): number | undefined {
  if (e.kind === "num") return e.value;
  if (e.kind === "unary" && e.arg.kind === "num") return -e.arg.value;
  return undefined;
}

export const dropoutRate: SpecCheck = {
  code: "E029",
  title: "dropout probability out of range",
  run(_ls, ctx) {
    const out: Diagnostic[] = [];
    for (const site of ctx.exprs) {
      if (!site.expr) continue;
      for (const c of calls(site.expr, "dropout")) {
        const arg = c.args[1];
        if (!arg) continue;
        const p = literal(arg);
        if (p !== undefined && p >= 0 && p < 1) continue;
        const from = startOf(arg);
        const found = p === undefined ? "an expression" : String(p);
        out.push(
          ctx.diag("E029", { path: site.path, offset: from, len: argLength(site.src, from) }, `dropout: the drop probability must be a number in [0, 1), found ${found}`, {
            help: "write the probability of dropping a unit, e.g. dropout(h, 0.5); 0 keeps every unit",
          }),
        );
      }
    }
    return out;
  },
};
