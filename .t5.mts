import { readdirSync } from "node:fs";
import { loadSpec } from "./compiler/spec/load.ts";
import { SpecError } from "./compiler/spec/diagnostics.ts";
for (const f of readdirSync("test/specs/bad").sort()) {
  if (f.startsWith("w")) continue;
  try { loadSpec(`test/specs/bad/${f}`); console.log("NO ERROR", f); }
  catch (e) { const d = (e as SpecError).diagnostics; console.log(JSON.stringify({ file: f, code: d[0]!.code, line: d[0]!.line, col: d[0]!.col, n: d.length, msg: d[0]!.message, help: d[0]!.help })); }
}
