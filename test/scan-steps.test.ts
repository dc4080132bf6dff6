// Scans whose number of steps comes with the batch (`steps: n`): one
// compiled model for sequences of every length up to the scan's `length`.
// The reference semantics (steps past n leave 0, the finals are the carries
// after step n), gradients through time at every n, and the WebGPU rule that
// the count must be a data input. The CPU and WebGPU trainers are checked
// against the reference at varying n in backends.test.ts.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { checkSpecGradients } from "../compiler/gradcheck/gradcheck.ts";
import { interpret } from "../compiler/ir/interpret.ts";
import { fromArray, type Tensor } from "../compiler/ir/tensor.ts";
import type { Node } from "../compiler/ir/types.ts";
import type { ScanAttrs } from "../compiler/ops/attrs.ts";
import { uniform } from "../runtime/rng/philox.ts";

const FILE = "test/specs/elman-steps.yaml";
const TEXT = readFileSync(join(ROOT, FILE), "utf8");

describe("a scan that runs n of its steps", () => {
  const c = compileSpec(loadSpecText(TEXT, FILE));
  const scanNode = c.evalGraph.nodes.find((n) => n.op === "scan") ?? c.steps[0]!.nodes.find((n) => n.op === "scan")!;
  const g = c.steps[0]!;
  const scan = g.nodes.find((n) => n.op === "scan" && !(n.attrs as ScanAttrs).reverse) as Node<"scan">;

  it.each([0, 1, 2, 3, 4, 9, -1])("n = %i: outputs past n are 0, the final carry is the one after step min(n, 4)", (n) => {
    expect(scanNode).toBeDefined();
    const x = fromArray([1, 4, 3], "f64", Array.from({ length: 12 }, (_, i) => uniform(1, 2, 3, 0, i)));
    const params = new Map<string, Tensor>(c.desc.params.map((p, k) => [p.name, fromArray(p.shape, "f64", Array.from({ length: p.shape.reduce((a, d) => a * d, 1) }, (_, i) => uniform(9, k, 0, 0, i) - 0.5))]));
    const values = interpret(g, { input: new Map([["x", x], ["n", fromArray([1], "i32", [n])]]), param: params, state: new Map() }, { seed: 1, step: 0 });
    const [final, hs] = values[scan.id] as Tensor[];
    const run = Math.max(0, Math.min(4, n));
    for (let t = 0; t < 4; t++) {
      const row = Array.from(hs!.data.subarray(t * 6, (t + 1) * 6));
      if (t < run) expect(row.some((v) => v !== 0), `step ${t} ran`).toBe(true);
      else expect(row, `step ${t} did not run`).toEqual([0, 0, 0, 0, 0, 0]);
    }
    const want = run === 0 ? Array.from(params.get("h0")!.data) : Array.from(hs!.data.subarray((run - 1) * 6, run * 6));
    expect(Array.from(final!.data)).toEqual(want);
  });

  // The gradient check draws its inputs from a seed; these seeds give n = 1..4.
  const seedFor = (n: number) => {
    for (let seed = 1; seed < 500; seed++) if (Math.floor(uniform(seed, 2, 7, 0, 0) * 5) === n) return seed;
    throw new Error(`no seed gives n = ${n}`);
  };
  it.each([1, 2, 3, 4])("n = %i: derived gradients through time agree with finite differences (f64)", (n) => {
    const rows = checkSpecGradients(loadSpecText(TEXT, FILE), { seed: seedFor(n) });
    expect(rows.length).toBe(5);
    for (const r of rows) {
      expect(r.ok, `${r.param}: numeric ${r.numeric}, derived ${r.analytic}`).toBe(true);
      if (r.param !== "h0" && n > 0) expect(Math.abs(r.analytic), r.param).toBeGreaterThan(0);
    }
  });

  it("on WebGPU the number of steps must be a data input (the host skips the steps past it): else no WebGPU program", () => {
    const computed = TEXT.replace("      steps: n\n", "      steps: m\n").replace("  xs: time_major(x)", "  xs: time_major(x)\n  m: n + 1");
    const cm = compileSpec(loadSpecText(computed, FILE));
    expect(cm.warnings.map((w) => w.code)).toEqual(["W004"]);
    expect(cm.warnings[0]!.message).toMatch(/number of steps must be a data input on WebGPU .* \[E035\]/);
    expect(cm.files.get("webgpu.ts")).toContain("unsupported:");
    expect(c.warnings).toEqual([]);
  });

  it("refuses a count that is not one i32", () => {
    const bad = TEXT.replace("      steps: n\n", "      steps: x\n");
    expect(() => compileSpec(loadSpecText(bad, FILE))).toThrow(/scan steps 'x' is f32/);
  });
});
