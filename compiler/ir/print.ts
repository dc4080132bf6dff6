// The canonical text form of a graph (dlt-compile --dump-ir, snapshot tests):
//   %5 = matmul(%0, %1) {transA: false, transB: false} : f32[20, 500]  ; specs/mlp.yaml:21
// Scan bodies are printed indented under their scan.

import type { ScanAttrs } from "../ops/attrs.ts";
import type { Graph, Node } from "./types.ts";

function attrText(n: Node): string {
  if (n.op === "scan") {
    const a = n.attrs as ScanAttrs;
    return ` {carry: ${a.nCarry}, seq: ${a.nSeq}, const: ${a.nConst}, out: ${a.nStepOut}, length: ${a.length}${a.reverse ? ", reverse" : ""}}`;
  }
  const entries = Object.entries(n.attrs as Record<string, unknown>);
  if (entries.length === 0) return "";
  return ` {${entries.map(([k, v]) => `${k}: ${JSON.stringify(v)?.replace(/,/g, ", ")}`).join(", ")}}`;
}

export function printGraph(g: Graph, indent = ""): string {
  const lines: string[] = [];
  for (const n of g.nodes) {
    const args = n.inputs.map((i) => `%${i}`).join(", ");
    const loc = n.loc ? `  ; ${n.loc.file}:${n.loc.line}` : "";
    const type = n.op === "scan" ? "tuple" : `${n.dtype}[${n.shape.join(", ")}]`;
    lines.push(`${indent}%${n.id} = ${n.op}(${args})${attrText(n)} : ${type}${loc}`);
    if (n.op === "scan") lines.push(printGraph((n.attrs as ScanAttrs).body, `${indent}    `));
  }
  const outs = [...g.outputs].map(([k, id]) => `${k} = %${id}`).join(", ");
  lines.push(`${indent}return {${outs}}`);
  return lines.join("\n");
}
