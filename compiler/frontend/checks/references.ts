// Checks of what expressions and fields refer to: expressions that do not
// parse (E021–E024, found once when the context parses them) and tensor names
// that nothing defines (E010), with a hint at what the writer may have meant.

import type { Diagnostic } from "../diagnostics.ts";
import { FUNCTIONS } from "../parse-expr.ts";
import { didYouMean } from "../suggest.ts";
import { type CheckContext, type CheckedSpec, refAt, type SpecCheck } from "./context.ts";

export function exprCheck(code: string, title: string): SpecCheck {
  return {
    code,
    title,
    run: (_ls, ctx) =>
      ctx.exprs
        .filter((s) => s.error?.code === code)
        .map((s) => ctx.diag(code, { path: s.path, offset: s.error!.offset, len: s.error!.length }, s.error!.message, { help: s.error!.help })),
  };
}

/** Why an unknown tensor name might have been written. */
function unknownNameHelp(ls: CheckedSpec, ctx: CheckContext, name: string, candidates: readonly string[]): string {
  const parts: string[] = [];
  const dym = didYouMean(name, candidates);
  if (dym) parts.push(dym);
  if (name in FUNCTIONS) parts.push(`'${name}' is a function: call it as ${FUNCTIONS[name]!.usage}`);
  else if (name in ls.spec.losses) parts.push(`'${name}' is a loss, not a tensor`);
  else if (ls.spec.metrics && name in ls.spec.metrics) parts.push(`'${name}' is a metric, not a tensor`);
  else {
    for (const [s, names] of ctx.inner) if (names.has(name)) parts.push(`'${name}' is local to the body of scan '${s}': bind it with \`outputs\` or \`finals\``);
  }
  if (!parts.length) parts.push(`define it under \`graph:\`, \`params:\` or \`data.inputs:\``);
  return parts.join("; ");
}

function scopeNames(ctx: CheckContext, scan?: string): string[] {
  return [...(scan ? [...(ctx.inner.get(scan) ?? [])] : []), ...ctx.scope.keys()];
}

export const unknownTensor: SpecCheck = {
  code: "E010",
  title: "unknown tensor name",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const r of ctx.refs) {
      if (r.role !== "tensor" && r.role !== "labels" && r.role !== "probs") continue;
      if (r.scan && ctx.inner.get(r.scan)?.has(r.name)) continue;
      if (ctx.scope.has(r.name)) continue;
      const where = r.scan ? `in the body of scan '${r.scan}'` : `in ${r.field}`;
      out.push(ctx.diag("E010", refAt(r), `unknown tensor '${r.name}' ${where}`, { help: unknownNameHelp(ls, ctx, r.name, scopeNames(ctx, r.scan)) }));
    }
    return out;
  },
};
