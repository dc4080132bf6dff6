// The lowered program (compiler/lower/): a text snapshot per spec (what
// `dlt-compile --dump-lowered` prints, reviewed like the IR snapshots), and
// the lowering's decisions that every back end relies on.

import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpec } from "../compiler/frontend/load.ts";
import { Builder } from "../compiler/ir/builder.ts";
import { LOWERING_LIMITS, lowerModel } from "../compiler/lower/lower.ts";
import { printProgram } from "../compiler/lower/print.ts";
import { allKernels, type Kernel } from "../compiler/lower/program.ts";

const specs = [
  ...readdirSync(join(ROOT, "specs")).filter((f) => f.endsWith(".yaml")).map((f) => `specs/${f}`),
  ...readdirSync(join(ROOT, "test/specs")).filter((f) => f.endsWith(".yaml")).map((f) => `test/specs/${f}`),
];

describe("lowered program snapshots", () => {
  it.each(specs)("%s", async (file) => {
    const c = compileSpec(loadSpec(file));
    await expect(printProgram(c.program)).toMatchFileSnapshot(`__snapshots__/lowered/${file.replace(/\//g, "__")}.txt`);
  });
});

describe("lowering decisions", () => {
  const mlp = compileSpec(loadSpec("specs/mlp.yaml")).program;
  const step = mlp.functions.find((f) => f.name === "step0")!;
  const kernels = [...allKernels(step.block)];
  const byName = (n: string) => mlp.buffers.find((b) => b.name === n);

  it("names buffers after the spec: graph entries, gradients of parameters, outputs", () => {
    for (const n of ["hidden", "grad_b1", "grad_b2", "cost", "eval_p_y_given_x", "eval_error"]) expect(byName(n), n).toBeDefined();
    expect(mlp.buffers.every((b) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(b.name))).toBe(true);
    expect(new Set(mlp.buffers.map((b) => b.name)).size).toBe(mlp.buffers.length);
  });

  it("writes SGD updates in place, W's products accumulated into W", () => {
    const W1 = byName("W1")!.id;
    const upd = kernels.find((k): k is Kernel & { kind: "update" } => k.kind === "update" && k.out === W1);
    expect(upd?.products.map((p) => p.kernel.node.op)).toEqual(["matmul"]);
    const b1 = byName("b1")!.id;
    expect(kernels.some((k) => k.kind === "loop" && k.out === b1)).toBe(true);
    expect(step.block.kernels.some((k) => k.kind === "copy")).toBe(false);
  });

  it("copies an update that a later kernel would read the old value of", () => {
    // s ← s + 1, but the cost reads s after the update's position: no in place.
    const b = new Builder();
    const s = b.leaf("state", "s", [4], "f32");
    const x = b.leaf("input", "x", [4], "f32");
    const next = b.add(s, b.constant(1, [4]));
    const cost = b.sum(b.matmul(b.reshape(s, [1, 4]), b.reshape(x, [4, 1])), [0, 1]);
    b.graph.outputs.set("state:s", next);
    b.graph.outputs.set("cost", cost);
    const p = lowerModel({ steps: [b.graph], evalGraph: new Builder().graph });
    const ks = p.functions[0]!.block.kernels;
    expect(ks.at(-1)?.kind).toBe("copy");
  });

  it("splits a sum longer than one GPU workgroup may loop into two stages", () => {
    const b = new Builder();
    const n = LOWERING_LIMITS.maxSumTerms * 2;
    const x = b.leaf("input", "x", [2, n], "f32");
    b.graph.outputs.set("cost", b.sum(b.sum(b.mul(x, x), [1]), [0]));
    const p = lowerModel({ steps: [b.graph], evalGraph: new Builder().graph });
    const sums = p.functions[0]!.block.kernels.filter((k) => k.kind === "sum");
    expect(sums.map((k) => (k.kind === "sum" ? [k.shape, k.kept] : null))).toEqual([
      [[2, 2, n / 2], 2],
      [[2, 2], 1],
      [[2], 0],
    ]);
  });

  it("LeNet's per-map bias gradient is one sum over batch and map (the spec writes + b1)", () => {
    const lenet = compileSpec(loadSpec("specs/lenet.yaml")).program;
    const gb1 = lenet.buffers.find((b) => b.name === "grad_b1")!;
    const k = [...allKernels(lenet.functions[0]!.block)].find((x) => x.out === gb1.id);
    expect(k?.kind === "sum" ? k.shape : null).toEqual([20, 500, 12, 12]);
  });
});
