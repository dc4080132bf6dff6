import { readFileSync } from "node:fs";
import { loadSpecText } from "./compiler/spec/load.ts";
import { SpecError, formatDiagnostic } from "./compiler/spec/diagnostics.ts";
let seed = 42;
const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % n; };
const bases = ["specs/logreg.yaml","specs/mlp.yaml","test/specs/elman.yaml","test/specs/gibbs-chain.yaml","test/specs/rbm-free-energy.yaml","test/specs/denoising.yaml"].map(f => readFileSync(f, "utf8"));
const chars = " :{}[],-#'\"\n\tabxyzW0129.@()*+_";
let counts: Record<string, number> = {};
for (let k = 0; k < 20000; k++) {
  let t = bases[rnd(bases.length)]!;
  const m = rnd(5);
  const lines = t.split("\n");
  if (m === 0) lines.splice(rnd(lines.length), 1);
  else if (m === 1) { const i = rnd(lines.length); lines.splice(i, 0, lines[rnd(lines.length)]!); }
  else { for (let r = 0; r < 1 + rnd(3); r++) { const i = rnd(t.length); t = t.slice(0, i) + chars[rnd(chars.length)] + t.slice(i + (m === 2 ? 1 : 0)); } }
  if (m <= 1) t = lines.join("\n");
  try { loadSpecText(t, "x.yaml"); counts.ok = (counts.ok ?? 0) + 1; }
  catch (e) {
    if (!(e instanceof SpecError)) { console.log("CRASH", e, "\n---\n" + t); process.exit(1); }
    for (const d of e.diagnostics) { counts[d.code] = (counts[d.code] ?? 0) + 1; formatDiagnostic(d); if (!(d.line >= 1 && d.col >= 1)) { console.log("BADPOS", d); process.exit(1);} }
  }
}
console.log(counts);
