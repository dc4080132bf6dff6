// --backend on the runtime's command line (runtime/node/main.ts).
import { describe, expect, it, vi } from "vitest";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { parseArgs, parseBackend, runMain, UsageError } from "../runtime/node/main.ts";

describe("--backend", () => {
  it("defaults to cpu and accepts webgpu", () => {
    expect(parseArgs([]).backend).toBe("cpu");
    expect(parseArgs(["--backend", "webgpu", "--quiet"])).toMatchObject({ backend: "webgpu", quiet: true });
    expect(parseBackend(["specs/mlp.yaml", "--epochs", "2"])).toBe("cpu");
    expect(parseBackend(["specs/mlp.yaml", "--backend", "webgpu"])).toBe("webgpu");
    expect(parseBackend(["--backend", "cpu"])).toBe("cpu");
  });

  it("rejects unknown or missing values", () => {
    expect(() => parseArgs(["--backend", "cuda"])).toThrow(/--backend expects one of cpu, webgpu, found "cuda"/);
    expect(() => parseBackend(["--backend", "cuda"])).toThrow(UsageError);
    expect(() => parseBackend(["--backend"])).toThrow(/--backend needs a value/);
    expect(() => parseBackend(["--backend", "--quiet"])).toThrow(/--backend needs a value/);
  });

  it("refuses to run a CPU model when --backend webgpu was asked for", async () => {
    const model = { desc: { name: "m" } } as unknown as CompiledModel;
    const err = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      expect(await runMain(model, ["--backend", "webgpu"])).toBe(2);
      expect(String(err.mock.calls[0]?.[0])).toMatch(/this entry point runs the CPU model/);
      expect(await runMain(model, ["--backend", "tpu"])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});
