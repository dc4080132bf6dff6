// Max-pooling's gradient on windows with ties: the cotangent goes to the
// FIRST maximum in window order (row-major within the window) on every path
// — the f64 reference `evaluate` of compiler/ops/max-pool2d-grad.ts, the
// WebAssembly kernel's 2×2 vector path (four windows a step,
// compiler/emit/wasm/pool.ts) and its scalar tail and general-window loop,
// and WGSL on Dawn. The expected gradient is written down by hand from how
// the windows were made (test/setup/pool-ties.ts), not computed by any of
// the code under test. The other pooling cases (test/ops-backends.test.ts)
// compare the backends with the reference, which would not notice the
// reference and a backend breaking ties the same wrong way, and their
// random inputs put no tie inside a window that the vector path reads.

import { describe, expect, it } from "vitest";
import { interpret } from "../compiler/ir/interpret.ts";
import type { Tensor } from "../compiler/ir/tensor.ts";
import { BACKENDS, op, prepare, RUN, runCase } from "./setup/op-backends.ts";
import { tieWindows } from "./setup/pool-ties.ts";

interface Layout {
  readonly name: string;
  readonly size: [number, number];
  readonly Ho: number;
  readonly Wo: number;
  readonly extraRows: number;
  readonly extraCols: number;
  /** The paths of the wasm kernel these windows take. */
  readonly paths: string;
}

const LAYOUTS: Layout[] = [
  // Wo = 9: two steps of the vector path (windows 0–3, 4–7), then window 8
  // on the scalar tail; a column and a row no window covers.
  { name: "2×2, 9 windows a row", size: [2, 2], Ho: 2, Wo: 9, extraRows: 1, extraCols: 1, paths: "vector path and scalar tail" },
  // Wo = 4 exactly: the vector path only.
  { name: "2×2, 4 windows a row", size: [2, 2], Ho: 3, Wo: 4, extraRows: 0, extraCols: 0, paths: "vector path only" },
  // Wo = 3 < 4: the scalar tail only.
  { name: "2×2, 3 windows a row", size: [2, 2], Ho: 2, Wo: 3, extraRows: 0, extraCols: 1, paths: "scalar tail only" },
  // Not 2×2: the general scalar loop.
  { name: "3×2", size: [3, 2], Ho: 2, Wo: 5, extraRows: 2, extraCols: 0, paths: "general windows" },
];

function caseOf(l: Layout) {
  const t = tieWindows(l.size[0], l.size[1], l.Ho, l.Wo, l.extraRows, l.extraCols);
  const c = op(`max_pool2d_grad ties ${l.name}`, "max_pool2d_grad", { size: l.size }, () => [t.x, t.ct]);
  return { t, c };
}

/** Positions where got differs from the hand-made gradient (at most 8). */
function offBy(got: ArrayLike<number>, want: readonly number[]): string[] {
  const bad: string[] = [];
  if (got.length !== want.length) return [`${got.length} elements, want ${want.length}`];
  for (let k = 0; k < want.length && bad.length < 8; k++) if (got[k] !== want[k]) bad.push(`[${k}] got ${got[k]}, want ${want[k]}`);
  return bad;
}

describe.each(LAYOUTS.map((l) => [l.name, l] as const))("max_pool2d_grad, windows with ties, %s", (_name, l) => {
  it("every tie set is used, each window has a tie, and every window's cotangent lands somewhere", () => {
    const { t } = caseOf(l);
    expect(t.uses.every((u) => u > 0)).toBe(true);
    // The hand-made gradient holds each cotangent exactly once.
    const placed = t.want.filter((v) => v !== 0).sort((a, b) => a - b);
    expect(placed).toEqual([...t.ct.data].sort((a, b) => a - b));
  });

  it("the f64 reference (evaluate) sends each window's cotangent to its first maximum", () => {
    const { t, c } = caseOf(l);
    const p = prepare(c, "f64");
    const got = interpret(p.g, { input: p.leaves }, RUN)[p.out] as Tensor;
    expect(offBy(got.data, t.want)).toEqual([]);
  });

  it.each([
    ["ts", `the WebAssembly kernel (${l.paths})`],
    ["wgsl", "WGSL on Dawn"],
  ] as const)("on %s, %s: to the first maximum", async (name: "ts" | "wgsl", _what: string) => {
    const { t, c } = caseOf(l);
    const backend = BACKENDS.find((b) => b.name === name)!;
    const o = await runCase(backend, c);
    if (name === "ts") expect(o.code).toMatch(/K\.maxPool2dGrad\(/);
    expect(offBy(o.got, t.want), `${c.name} on ${name}\n${o.code}`).toEqual([]);
  });
});
