// Initialisers, resolved at compile time into plain data for the runtime
// (runtime/train/model-ops.ts fills the buffers). Glorot bounds become
// uniform ranges; literal `values` are checked against the declared shape and
// flattened row-major; `inverse_of` inverts another tensor's literal matrix
// here, in f64, so the runtime never solves a linear system.

import type { InitDesc } from "../../runtime/compiled-model.ts";
import type { LoadedSpec, NestedNumbers, ParamSpec } from "../frontend/types.ts";
import { IRError, type SpecLoc } from "../ir/types.ts";

/** The runtime's description of tensor `name`'s initialiser (`kind` says
 * whether it is a parameter or a state tensor, for locations). */
export function resolveInit(ls: LoadedSpec, kind: "params" | "state", name: string): InitDesc {
  const p = (kind === "params" ? ls.spec.params : ls.spec.state ?? {})[name]!;
  const init = p.init;
  const shape = p.shape;
  const at = (): SpecLoc => {
    const l = ls.locate([kind, name, "init"]);
    return { file: ls.file, line: l.line, col: l.col, what: `${kind}.${name}.init` };
  };
  if (init === "zeros") return { kind: "zeros" };
  if ("constant" in init) return { kind: "constant", value: init.constant.value };
  if ("uniform" in init) return { kind: "uniform", low: init.uniform.low, high: init.uniform.high };
  if ("normal" in init) return { kind: "normal", mean: init.normal.mean ?? 0, std: init.normal.std };
  if ("orthogonal" in init) return { kind: "orthogonal", rows: shape[0] ?? 1, cols: shape.slice(1).reduce((a, d) => a * d, 1) };
  if ("values" in init) return { kind: "values", values: flatten(init.values, shape, `${kind}.${name}`, at) };
  if ("inverse_of" in init) return { kind: "values", values: inverseOf(ls, name, shape, init.inverse_of, at) };
  const fanIn = shape[0] ?? 1;
  const fanOut = shape[shape.length - 1] ?? 1;
  const r = (init.glorot_uniform.gain ?? 1) * Math.sqrt(6 / (fanIn + fanOut));
  return { kind: "uniform", low: -r, high: r };
}

/** Nested lists of exactly `shape`, row-major, every number finite. */
function flatten(v: NestedNumbers, shape: readonly number[], what: string, at: () => SpecLoc): number[] {
  const out: number[] = [];
  const walk = (x: NestedNumbers, axis: number, where: string): void => {
    if (axis === shape.length) {
      if (typeof x !== "number") throw new IRError(`${what}: values${where} is a list, the shape [${shape.join(", ")}] has ${shape.length} axes`, at(), "E031");
      if (!Number.isFinite(x)) throw new IRError(`${what}: values${where} is ${x}; values must be finite`, at(), "E031");
      out.push(x);
      return;
    }
    if (!Array.isArray(x) || x.length !== shape[axis]) {
      const got = Array.isArray(x) ? `${x.length} entries` : "a number";
      throw new IRError(`${what}: values${where} has ${got}, axis ${axis} of the shape [${shape.join(", ")}] has ${shape[axis]}`, at(), "E031");
    }
    x.forEach((y, i) => walk(y, axis + 1, `${where}[${i}]`));
  };
  walk(v, 0, "");
  return out;
}

/** The inverse of `of`'s literal square matrix (Gauss–Jordan with partial
 * pivoting in f64), for a tensor of the same shape. */
function inverseOf(ls: LoadedSpec, name: string, shape: readonly number[], of: string, at: () => SpecLoc): number[] {
  const src: ParamSpec | undefined = ls.spec.state?.[of] ?? ls.spec.params[of];
  if (src === undefined || src.init === "zeros" || !("values" in src.init)) {
    throw new IRError(`inverse_of '${of}': needs a state tensor or parameter initialised with \`values\` (a literal matrix)`, at(), "E031");
  }
  const n = src.shape[0]!;
  if (src.shape.length !== 2 || src.shape[1] !== n || shape.length !== 2 || shape[0] !== n || shape[1] !== n) {
    throw new IRError(`inverse_of '${of}': '${of}' is [${src.shape.join(", ")}] and '${name}' [${shape.join(", ")}]; both must be the same square matrix shape`, at(), "E031");
  }
  const a = flatten(src.init.values, src.shape, of, at);
  const inv = Array.from({ length: n * n }, (_, k) => (Math.floor(k / n) === k % n ? 1 : 0));
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(a[r * n + c]!) > Math.abs(a[pivot * n + c]!)) pivot = r;
    const scale = Math.max(...a.map(Math.abs));
    if (!(Math.abs(a[pivot * n + c]!) > 1e-12 * scale)) throw new IRError(`inverse_of '${of}': the matrix is singular`, at(), "E031");
    for (const m of [a, inv]) for (let k = 0; k < n; k++) [m[c * n + k], m[pivot * n + k]] = [m[pivot * n + k]!, m[c * n + k]!];
    const d = a[c * n + c]!;
    for (let k = 0; k < n; k++) {
      a[c * n + k]! /= d;
      inv[c * n + k]! /= d;
    }
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = a[r * n + c]!;
      if (f === 0) continue;
      for (let k = 0; k < n; k++) {
        a[r * n + k]! -= f * a[c * n + k]!;
        inv[r * n + k]! -= f * inv[c * n + k]!;
      }
    }
  }
  return inv;
}
