// The lowered program as text (`dlt-compile --dump-lowered`, and the
// snapshots in test/__snapshots__/lowered.test.ts.snap). One line a buffer,
// one a kernel; fused loops show their expression with each operand's read
// strides (`W1[784,1]`; 0 marks a broadcast axis).

import { fmtLoc, type Block, type Expr, type Kernel, type Program } from "./program.ts";

export function printProgram(p: Program): string {
  const out: string[] = ["buffers:"];
  for (const b of p.buffers) {
    const extra = b.role === "const" ? ` = ${b.fill}` : b.ref !== undefined && b.ref !== b.name ? ` (${b.ref})` : "";
    out.push(`  ${b.name}: ${b.dtype}[${b.shape.join(", ")}] ${b.role}${extra}`);
  }
  const name = (id: number) => p.buffers[id]!.name;
  const expr = (e: Expr): string => {
    if (e.kind === "const") return String(e.value);
    if (e.kind === "read") return `${name(e.buffer)}[${e.strides.join(",")}]`;
    return `${e.node.op}(${e.args.map(expr).join(", ")})`;
  };
  const block = (b: Block, indent: string): void => {
    for (const k of b.kernels) kernel(k, indent);
    for (const [key, id] of b.outputs) out.push(`${indent}output ${key} = ${name(id)}`);
  };
  const at = (k: Kernel) => {
    const l = fmtLoc(k.node.loc);
    return l ? `  # ${l}` : "";
  };
  const kernel = (k: Kernel, indent: string): void => {
    const shape = (s: readonly number[]) => `[${s.join(", ")}]`;
    switch (k.kind) {
      case "loop":
        out.push(`${indent}loop ${name(k.out)}${shape(k.shape)} = ${expr(k.expr)}${at(k)}`);
        return;
      case "sum":
        out.push(`${indent}sum ${name(k.out)} = Σ over ${shape(k.shape.slice(k.kept))} of ${expr(k.expr)} for ${shape(k.shape.slice(0, k.kept))}${at(k)}`);
        return;
      case "op":
        out.push(`${indent}${k.node.op} ${name(k.out)} = (${k.ins.map(name).join(", ")})${at(k)}`);
        return;
      case "update":
        out.push(`${indent}update ${name(k.out)}: ${k.products.map((t) => `+= ${t.alpha}·${name(t.kernel.out)}`).join(" ")}${k.rest ? " after the rest of the loop" : ""}${at(k)}`);
        for (const t of k.products) kernel(t.kernel, `${indent}  `);
        kernel(k.loop, `${indent}  `);
        return;
      case "copy":
        out.push(`${indent}copy ${name(k.out)} ← ${name(k.src)}`);
        return;
      case "scan": {
        const s = k.scan;
        out.push(`${indent}scan ${s.length} steps${s.reverse ? " reversed" : ""}: carry ${s.init.map(name).join(", ")} → ${s.carry.map(name).join(", ")}; slices ${s.seqSources.map((x, q) => `${name(x)} → ${name(s.seqs[q]!)}`).join(", ")}; tuple ${s.elems.map(name).join(", ")}${at(k)}`);
        block(s.body, `${indent}  `);
        return;
      }
    }
  };
  for (const f of p.functions) {
    out.push(`${f.kind} ${f.name}:${f.inputs.length ? ` reads ${f.inputs.map(name).join(", ")}` : ""}`);
    block(f.block, "  ");
  }
  return out.join("\n") + "\n";
}
