// Checks of scans: a known number of steps (E019), outputs and finals that
// name values of the scan (E020), and carries that the body updates (W002).

import type { Diagnostic } from "../diagnostics.ts";
import type { ScanNode } from "../types.ts";
import { choiceHelp } from "../suggest.ts";
import { refAt, scanEntries, type SpecCheck } from "./context.ts";

export const scanLength: SpecCheck = {
  code: "E019",
  title: "scan without length or sequences",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, e] of scanEntries(ls.spec)) {
      if (e.scan.length === undefined && Object.keys(e.scan.sequences ?? {}).length === 0) {
        out.push(ctx.diag("E019", { path: ["graph", n, "scan"], key: true }, `scan '${n}' has neither \`length\` nor \`sequences\`: its number of steps is unknown`, { help: "add `length: K` (e.g. Gibbs steps) or iterate over a tensor with `sequences: { x_t: xs }`" }));
      }
    }
    return out;
  },
};

export const scanBinding: SpecCheck = {
  code: "E020",
  title: "scan output or final names no value of the scan",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const r of ctx.refs) {
      if (r.role !== "scanOutput" && r.role !== "scanFinal") continue;
      const s = (ls.spec.graph[r.scan!] as ScanNode).scan;
      const carries = Object.keys(s.carry);
      if (r.role === "scanFinal") {
        if (carries.includes(r.name)) continue;
        out.push(ctx.diag("E020", refAt(r), `finals of scan '${r.scan}': '${r.name}' is not a carry of this scan`, { help: carries.length ? choiceHelp(r.name, carries, "carries") : "this scan has no carries" }));
      } else {
        const ok = [...Object.keys(s.body), ...carries.filter((c) => !(c in s.body))];
        if (ok.includes(r.name)) continue;
        out.push(ctx.diag("E020", refAt(r), `outputs of scan '${r.scan}': '${r.name}' is not a body name or carry of this scan`, { help: choiceHelp(r.name, ok, "per-step values") }));
      }
    }
    return out;
  },
};

export const carryNotUpdated: SpecCheck = {
  code: "W002",
  title: "scan carry never updated",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, e] of scanEntries(ls.spec)) {
      for (const c of Object.keys(e.scan.carry)) {
        if (!(c in e.scan.body)) out.push(ctx.diag("W002", { path: ["graph", n, "scan", "carry", c], key: true }, `carry '${c}' of scan '${n}' is never updated: every step sees its initial value`, { help: `add a body entry \`${c}: …\` giving its value after each step` }));
      }
    }
    return out;
  },
};
