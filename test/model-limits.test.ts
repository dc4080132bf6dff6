// Sizes past a back end's limits are refused before any code is emitted, at
// the spec line of the offending buffer: WebAssembly's 4 GiB memory (E036)
// stops the compile; WebGPU's binding limit (E034) only takes away the
// WebGPU program (warning W004): the CPU model is complete, and running the
// WebGPU plan is refused with the reason.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { IRError } from "../compiler/ir/types.ts";
import { createGpuModel } from "../runtime/webgpu/executor.ts";

const MLP = readFileSync(join(ROOT, "specs/mlp.yaml"), "utf8");
const lineOf = (text: string, needle: string) => text.split("\n").findIndex((l) => l.includes(needle)) + 1;
const hidden = (n: number) => MLP.replace("W1: { shape: [784, 500]", `W1: { shape: [784, ${n}]`).replace("b1: { shape: [500]", `b1: { shape: [${n}]`).replace("W2: { shape: [500, 10]", `W2: { shape: [${n}, 10]`);

describe("model sizes past the back ends' limits", () => {
  it("10⁵ hidden units: compiles for the CPU; no WebGPU program (W004 at W1's line); the plan is refused with the reason", async () => {
    const text = hidden(100_000);
    const c = compileSpec(loadSpecText(text, "big.yaml"));
    expect(c.files.get("model.ts")).toContain("class Model");
    expect(c.warnings.map((w) => [w.code, w.loc?.line])).toEqual([["W004", lineOf(text, "W1: {")]]);
    expect(c.warnings[0]!.message).toMatch(/buffer W1 needs 313600000 bytes, more than WebGPU's default binding limit/);
    // webgpu.ts holds the reason as the plan's `unsupported`; the executor
    // refuses such a plan before it touches the device.
    const why = JSON.parse(c.files.get("webgpu.ts")!.match(/unsupported: ("[^"]*")/)![1]!) as string;
    await expect(createGpuModel(c.desc, { unsupported: why, buffers: [], kernels: [], steps: [], eval: { commands: [], outputs: {} }, limits: {} as never }, {} as GPUDevice)).rejects.toThrow(
      /this model has no WebGPU program: buffer W1 needs .* \[E034\] \(the CPU backend runs it\)/,
    );
  });

  it("10⁹ hidden units: E036 at W1's line, naming the largest buffers, before anything is assembled", () => {
    const text = hidden(1_000_000_000);
    let err: unknown;
    try {
      compileSpec(loadSpecText(text, "huge.yaml"));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IRError);
    const e = err as IRError;
    expect([e.code, e.loc?.line]).toEqual(["E036", lineOf(text, "W1: {")]);
    expect(e.message).toMatch(/more than WebAssembly's 4 GiB; the largest buffers: W1 \[784, 1000000000\]/);
  });
});
