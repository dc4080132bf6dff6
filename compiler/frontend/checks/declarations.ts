// Checks of the definitions themselves: a name defined twice (E012), and
// declared values that contradict each other (E026 uniform init, E027 classes
// on a float input).

import type { Diagnostic } from "../diagnostics.ts";
import { defAt, KIND_NAME, scanEntries, type SpecCheck } from "./context.ts";

export const definedTwice: SpecCheck = {
  code: "E012",
  title: "name defined twice",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const d of ctx.defs) {
      const first = ctx.scope.get(d.name)!;
      if (first === d) continue;
      out.push(
        ctx.diag("E012", defAt(d), `'${d.name}' is defined twice: as ${KIND_NAME[first.kind]} and as ${KIND_NAME[d.kind]}`, {
          help: "tensor names (inputs, parameters, graph entries, scan outputs and finals) share one namespace: rename one",
          related: [ctx.related(defAt(first), `'${d.name}' first defined here`)],
        }),
      );
    }
    for (const [n, e] of scanEntries(ls.spec)) {
      const s = e.scan;
      const seqs = Object.keys(s.sequences ?? {});
      for (const c of Object.keys(s.carry)) {
        if (seqs.includes(c)) {
          out.push(ctx.diag("E012", { path: ["graph", n, "scan", "carry", c], key: true }, `'${c}' is both a sequence and a carry of scan '${n}'`, { help: "rename one of them", related: [ctx.related({ path: ["graph", n, "scan", "sequences", c], key: true }, `sequence '${c}'`)] }));
        }
      }
      for (const b of Object.keys(s.body)) {
        if (seqs.includes(b)) {
          out.push(ctx.diag("E012", { path: ["graph", n, "scan", "body", b], key: true }, `body name '${b}' redefines the sequence '${b}' of scan '${n}'`, { help: "a sequence is read-only in the body: choose another name", related: [ctx.related({ path: ["graph", n, "scan", "sequences", b], key: true }, `sequence '${b}'`)] }));
        }
      }
    }
    const phases = new Map<string, number>();
    ls.spec.phases.forEach((p, i) => {
      const j = phases.get(p.name);
      if (j === undefined) phases.set(p.name, i);
      else out.push(ctx.diag("E012", { path: ["phases", i, "name"] }, `phase name '${p.name}' is used twice`, { help: "phase names identify phases in logs and checkpoints: make them unique", related: [ctx.related({ path: ["phases", j, "name"] }, "first used here")] }));
    });
    return out;
  },
};

export const uniformRange: SpecCheck = {
  code: "E026",
  title: "empty uniform range",
  run(ls, ctx) {
    const out: Diagnostic[] = [];
    for (const [n, p] of Object.entries(ls.spec.params)) {
      const init = p.init;
      if (typeof init === "object" && "uniform" in init && !(init.uniform.low < init.uniform.high)) {
        out.push(ctx.diag("E026", { path: ["params", n, "init", "uniform", "high"] }, `uniform init of '${n}': high (${init.uniform.high}) must be greater than low (${init.uniform.low})`, { help: "e.g. `{ uniform: { low: -0.5, high: 0.5 } }`", related: [ctx.related({ path: ["params", n, "init", "uniform", "low"] }, "low is set here")] }));
      }
    }
    return out;
  },
};

export const classesOnFloat: SpecCheck = {
  code: "E027",
  title: "classes on a float input",
  run(ls, ctx) {
    return Object.entries(ls.spec.data.inputs)
      .filter(([, i]) => i.classes !== undefined && i.dtype !== "i32")
      .map(([n]) => ctx.diag("E027", { path: ["data", "inputs", n, "classes"], key: true }, `input '${n}' has \`classes\` but dtype f32: classes describe integer labels`, { help: "use `dtype: i32` for class labels, or remove `classes`", related: [ctx.related({ path: ["data", "inputs", n, "dtype"] }, "dtype is set here")] }));
  },
};
