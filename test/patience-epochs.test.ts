// Early stopping's patience in epochs: `patience_epochs: N` instead of
// `patience:` (minibatch iterations, the tutorial's), exactly one of the
// two. The description carries it as it is written (the data's size is
// known only at run time); the runtime multiplies it by the phase's
// minibatches per epoch.

import { readFileSync } from "node:fs";
import { describe as group, expect, it } from "vitest";
import { describe } from "../compiler/compile.ts";
import { type Diagnostic, SpecError } from "../compiler/frontend/diagnostics.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { Model as LogReg } from "../generated/logreg/model.ts";
import type { EarlyStoppingDesc } from "../runtime/compiled-model.ts";
import { syntheticSplits } from "../runtime/data/dataset.ts";
import { EarlyStopping, traceEarlyStopping, validationFrequency } from "../runtime/train/early-stopping.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";

const LOGREG = readFileSync("specs/logreg.yaml", "utf8");

function errorsOf(text: string): readonly Diagnostic[] {
  try {
    loadSpecText(text, "t.yaml");
  } catch (e) {
    if (e instanceof SpecError) return e.diagnostics;
    throw e;
  }
  return [];
}

group("the spec", () => {
  it("takes patience_epochs instead of patience; the description carries it, patience null", () => {
    const text = LOGREG.replace("patience: 5000", "patience_epochs: 5");
    expect(errorsOf(text)).toEqual([]);
    const es = describe(loadSpecText(text, "t.yaml"), []).phases[0]!.earlyStopping;
    expect(es).toEqual({ patience: null, patienceEpochs: 5, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: null });
  });

  it("a spec with patience describes exactly as before (no patienceEpochs key)", () => {
    const es = describe(loadSpecText(LOGREG, "t.yaml"), []).phases[0]!.earlyStopping!;
    expect(Object.keys(es)).toEqual(["patience", "patienceIncrease", "improvementThreshold", "validationFrequency"]);
  });

  it("both: one E009 at early_stopping, keep one", () => {
    const d = errorsOf(LOGREG.replace("patience: 5000", "patience: 5000\n      patience_epochs: 5"));
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: "E009", message: "'phases[0].early_stopping' takes exactly one of patience, patience_epochs; found 2: patience, patience_epochs" });
    expect(d[0]!.help).toBe("keep one of patience, patience_epochs");
  });

  it("neither: one E009 naming both, each with its meaning", () => {
    const d = errorsOf(LOGREG.replace("      patience: 5000\n", ""));
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: "E009", message: "'phases[0].early_stopping' needs one of: patience, patience_epochs" });
    expect(d[0]!.help).toMatch(/^`patience: …` — patience: Minimum number of minibatches.*; or `patience_epochs: …` — patience_epochs: Minimum number of epochs/);
  });

  it("a typo of patience is reported as the typo, once", () => {
    const d = errorsOf(LOGREG.replace("patience: 5000", "patiense: 5000"));
    expect(d.map((x) => x.code)).toEqual(["E003"]);
    expect(d[0]!.help).toContain("did you mean 'patience'?");
  });

  it("patience_epochs must be an integer ≥ 1", () => {
    expect(errorsOf(LOGREG.replace("patience: 5000", "patience_epochs: 0")).map((x) => [x.code, x.message])).toEqual([["E006", "'phases[0].early_stopping.patience_epochs' must be ≥ 1, found 0"]]);
  });
});

group("the runtime", () => {
  const inIters: EarlyStoppingDesc = { patience: 6, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: null };
  const inEpochs: EarlyStoppingDesc = { ...inIters, patience: null, patienceEpochs: 2 };

  it("converts epochs with the phase's minibatches per epoch: 2 epochs of 3 minibatches are 6 iterations", () => {
    expect(new EarlyStopping(inEpochs, 3).state.patience).toBe(6);
    expect(new EarlyStopping(inEpochs, 50).state.patience).toBe(100);
    expect(validationFrequency(inEpochs, 3)).toBe(validationFrequency(inIters, 3));
    expect(validationFrequency(inEpochs, 50)).toBe(50); // min(50, 100 / 2)
    const losses = [0.5, 0.4, 0.399, 0.398, 0.1];
    expect(traceEarlyStopping(inEpochs, 3, losses, 100)).toEqual(traceEarlyStopping(inIters, 3, losses, 100));
  });

  it("a training run stops where the same patience in minibatches stops it", async () => {
    const run = async (es: EarlyStoppingDesc) => {
      const m = new LogReg();
      Object.assign(m, { desc: { ...m.desc, phases: m.desc.phases.map((p) => ({ ...p, earlyStopping: es })) } });
      const splits = syntheticSplits(m.desc.data, m.desc.inputs, 5, { train: 1800, valid: 600, test: 600 });
      return (await runTraining(m, splits, new MemoryRunStore(), { log: silentLogger })).phases[0]!;
    };
    // 3 minibatches of 600; patience_increase 1 never extends past iter + 1.
    const epochs = await run({ patience: null, patienceEpochs: 2, patienceIncrease: 1, improvementThreshold: 0.995, validationFrequency: null });
    expect(epochs).toMatchObject({ stoppedEarly: true, steps: 7 });
    expect(epochs).toEqual(await run({ patience: 6, patienceIncrease: 1, improvementThreshold: 0.995, validationFrequency: null }));
  });
});
