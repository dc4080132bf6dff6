// Inlines the f32x4 math helpers (./mathf.ts) into the loops that call them.
//
// Why: Node 20's V8 does not inline wasm calls (--wasm-inlining is off by
// default), so `(call $tanh4 …)` in a loop's body was a real call per 4
// floats: the caller's live vectors (a splatted bias, the loop's state)
// saved around it, and tanh4's own call to exp4 inside. LeNet's
// `c1 = tanh(c1_maxpool2d + b1)`, 1.44 M floats, took 6.3 ms a step, ~4.4 ns
// a float, against ~1 ns for the arithmetic.
//
// The helper's body goes in place of the call as a block with a result:
//   (call $tanh4 E)  →  (block (result v128) (local.set $m3_x E) …body… result)
// its parameter and locals renamed apart per call site (declared in the
// caller), nested helper calls inlined the same way. The same instructions
// in the same order: the same floats.
import { MATH_FNS, type MathFn, mathFunctionText } from "./mathf.ts";

interface Helper {
  /** The parameter, then the locals, as declared. */
  readonly vars: readonly string[];
  /** Body statements, then the result expression (the last line). */
  readonly body: readonly string[];
}

const HELPERS = new Map<string, Helper>();

function helper(name: MathFn): Helper {
  let h = HELPERS.get(name);
  if (!h) {
    const lines = mathFunctionText(name);
    const head = lines[0]!;
    const vars = [...head.matchAll(/\((?:param|local) \$(\w+) v128\)/g)].map((m) => m[1]!);
    h = { vars, body: lines.slice(1, -1).map((l) => l.trim()) };
    HELPERS.set(name, h);
  }
  return h;
}

/** The index just past the S-expression starting at `start` (an open paren). */
function sexpEnd(text: string, start: number): number {
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    if (text[i] === "(") depth++;
    else if (text[i] === ")" && --depth === 0) return i + 1;
  }
  throw new Error(`inline-math: unbalanced expression at ${start}`);
}

/**
 * Replaces every `(call $<helper> ARG)` in `text` by the helper's body.
 * `fresh` names the renamed variables; each becomes a v128 local of the
 * caller (returned in `locals`). The block's lines are indented two past
 * `indent`.
 */
export function inlineMathCalls(text: string, fresh: () => string, locals: string[], indent = ""): string {
  const call = new RegExp(`\\(call \\$(${MATH_FNS.join("|")}) `, "g");
  let out = "";
  let at = 0;
  for (let m = call.exec(text); m; m = call.exec(text)) {
    const start = m.index;
    const end = sexpEnd(text, start);
    const arg = text.slice(start + m[0].length, end - 1).trim();
    const h = helper(m[1] as MathFn);
    const tag = fresh();
    const rename = new Map(h.vars.map((v) => [v, `${tag}_${v}`]));
    locals.push(...rename.values());
    const renamed = (line: string) => line.replace(/\$(\w+)/g, (s, v: string) => (rename.has(v) ? `$${rename.get(v)!}` : s));
    const inner = `${indent}  `;
    const parts = [`(local.set $${rename.get(h.vars[0]!)!} ${inlineMathCalls(arg, fresh, locals, inner)})`, ...h.body.map((l) => inlineMathCalls(renamed(l), fresh, locals, inner))];
    out += `${text.slice(at, start)}(block (result v128) ;; ${m[1]}\n${parts.map((p) => `${inner}${p}`).join("\n")})`;
    at = end;
    call.lastIndex = end;
  }
  return out + text.slice(at);
}
