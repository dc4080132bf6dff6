// The lowered program as text (`dlt-compile --dump-lowered`, and the
// snapshots in test/__snapshots__/lowered.test.ts.snap). One line a buffer,
// one a kernel; fused loops show their expression with each operand's read
// strides (`W1[784,1]`; 0 marks a broadcast axis).

import { fmtLoc, type Block, type Expr, type Kernel, type Program } from "./program.ts";

const INFIX: Readonly<Record<string, string>> = { add: "+", sub: "-", mul: "*", div: "/" };

/** What a kernel computes, in the function's buffer names:
 * `hidden = tanh(hidden_matmul + b1)`, `grad_b1 = Σ d_hidden_mul`,
 * `p_y_given_x_matmul = matmul(hidden, W2)`. For comments in generated code. */
export function kernelFormula(k: Kernel, p: Program): string {
  const name = (id: number) => p.buffers[id]!.local;
  const expr = (e: Expr, top: boolean): string => {
    if (e.kind === "const") return String(Math.fround(e.value) === e.value ? shortest(e.value) : e.value);
    if (e.kind === "read") return name(e.buffer);
    const op = INFIX[e.node.op];
    if (op && e.args.length === 2) {
      const t = `${expr(e.args[0]!, false)} ${op} ${expr(e.args[1]!, false)}`;
      return top ? t : `(${t})`;
    }
    if (e.node.op === "neg" && e.args.length === 1) return `-${expr(e.args[0]!, false)}`;
    return `${e.node.op}(${e.args.map((a) => expr(a, true)).join(", ")})`;
  };
  switch (k.kind) {
    case "loop":
      return `${name(k.out)} = ${expr(k.expr, true)}`;
    case "sum":
      return `${name(k.out)} = Σ ${expr(k.expr, false)}`;
    case "op":
      return `${name(k.out)} = ${k.node.op}(${k.ins.map(name).join(", ")})`;
    case "update":
      return `${name(k.out)} += ${k.products.map((t) => `${shortest(t.alpha)} · ${name(t.kernel.out)}`).join(" + ")}`;
    case "copy":
      return `${name(k.out)} = ${name(k.src)}`;
    case "scan":
      return `scan over ${k.scan.count === undefined ? "" : `${name(k.scan.count)} of `}${k.scan.length} steps`;
  }
}

function shortest(v: number): string {
  const f = Math.fround(v);
  for (let d = 1; d <= 17; d++) {
    const s = Number(f.toPrecision(d));
    if (Math.fround(s) === f) return String(s);
  }
  return String(v);
}

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
        out.push(`${indent}scan ${s.count === undefined ? "" : `${name(s.count)} of `}${s.length} steps${s.reverse ? " reversed" : ""}: carry ${s.init.map(name).join(", ")} → ${s.carry.map(name).join(", ")}; slices ${s.seqSources.map((x, q) => `${name(x)} → ${name(s.seqs[q]!)}`).join(", ")}; tuple ${s.elems.map((e) => (e === null ? "_" : name(e))).join(", ")}${at(k)}`);
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
