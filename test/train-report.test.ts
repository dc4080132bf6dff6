// What dlt-train prints about a run: a --steps smoke run names its first and
// last training cost (does the model learn?), and every error rate is a
// percent with 3 decimals — except the tutorial's own summary line, which
// keeps its 6.

import { describe, expect, it } from "vitest";
import { Model as LogReg } from "../generated/logreg/model.ts";
import type { CompiledModel, ModelDescription } from "../runtime/compiled-model.ts";
import { syntheticSplits } from "../runtime/data/dataset.ts";
import { summaryLines } from "../runtime/node/main.ts";
import type { Logger } from "../runtime/progress.ts";
import { silentLogger } from "../runtime/progress.ts";
import { MemoryRunStore, runTraining } from "../runtime/train/trainer.ts";
import type { TrainSummary } from "../runtime/train/trainer.ts";

/** LogReg (batch 600) with its description changed. */
function logreg(change: (d: ModelDescription) => ModelDescription = (d) => d): CompiledModel {
  const m = new LogReg();
  Object.assign(m, { desc: change(m.desc) });
  return m;
}

const splitsOf = (m: CompiledModel) => syntheticSplits(m.desc.data, m.desc.inputs, 7, { train: 3000, valid: 600, test: 600 });

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { lines, log: { ...silentLogger, info: (s) => lines.push(s), record: () => {} } };
}

const base: TrainSummary = { bestValid: null, monitor: null, testAtBest: null, epochs: 1, steps: 5, seconds: 1, stoppedEarly: false, finished: true, phases: [], trainCost: null };

describe("--steps: the first and the last training cost", () => {
  it("the summary carries them as plain data; a resumed run's trace starts at its own first step", async () => {
    const m = logreg();
    const splits = splitsOf(m);
    const store = new MemoryRunStore();
    const s = await runTraining(m, splits, store, { maxSteps: 5, log: silentLogger });
    expect(s.finished).toBe(false);
    expect(s.trainCost?.first).toEqual({ phase: "train", step: 1, cost: expect.closeTo(Math.log(10), 5) }); // zero init: uniform p
    expect(s.trainCost?.last.step).toBe(5);
    expect(Number.isFinite(s.trainCost!.last.cost) && s.trainCost!.last.cost !== s.trainCost!.first.cost).toBe(true);
    const r = await runTraining(m, splits, store, { resume: true, maxSteps: 8, log: silentLogger });
    expect([r.trainCost?.first.step, r.trainCost?.last.step]).toEqual([6, 8]);
    // Nothing left to run: no trace.
    const again = await runTraining(m, splits, store, { resume: true, maxSteps: 8, log: silentLogger });
    expect(again.trainCost).toBeNull();
  });

  it("the stopped run's summary prints them after the resume hint", () => {
    const s: TrainSummary = { ...base, finished: false, trainCost: { first: { phase: "train", step: 1, cost: 2.302585 }, last: { phase: "train", step: 30, cost: 0.41234 } } };
    expect(summaryLines(s, "runs/x")).toEqual(["stopped at global step 5; continue with --resume (checkpoint in runs/x)", "train cost 2.3026 at step 1 → 0.4123 at step 30"]);
    const phases: TrainSummary = { ...s, trainCost: { first: { phase: "pretrain", step: 1, cost: 70 }, last: { phase: "finetune", step: 9, cost: 0.5 } } };
    expect(summaryLines(phases, "r")[1]).toBe("train cost 70.0000 at step 1 (pretrain) → 0.5000 at step 9 (finetune)");
    expect(summaryLines({ ...s, trainCost: null }, "r")).toHaveLength(1);
  });
});

describe("error rates are percents", () => {
  it("the summary: the final model's test error in percent; the tutorial's line keeps its 6 decimals", () => {
    expect(summaryLines({ ...base, finalTest: { error: 0.1112, cost: 0.3 } }, "r")[0]).toBe("Optimization complete; the final model's test error is 11.120 %");
    expect(summaryLines({ ...base, finalTest: { cost: 0.3 } }, "r")[0]).toBe("Optimization complete; the final model's test cost 0.300000");
    expect(summaryLines({ ...base, bestValid: 0.079, testAtBest: 0.0811 }, "r")[0]).toBe(
      "Optimization complete with best validation score of 7.900000 %, with test performance 8.110000 %",
    );
  });

  it("the phase-end line (best validation error and its test) and the final parameters' test line", async () => {
    const es = capture();
    await runTraining(logreg(), splitsOf(logreg()), new MemoryRunStore(), { maxEpochs: 1, log: es.log });
    const done = es.lines.find((l) => l.startsWith("phase train done"));
    expect(done).toMatch(/^phase train done: best validation error \d+\.\d{3} % at iter \d+, test \d+\.\d{3} %$/);
    const plain = capture();
    const m = logreg((d) => ({ ...d, phases: d.phases.map((p) => ({ ...p, earlyStopping: null })) }));
    await runTraining(m, splitsOf(m), new MemoryRunStore(), { maxEpochs: 1, log: plain.log });
    expect(plain.lines.find((l) => l.startsWith("final parameters"))).toMatch(/^final parameters on the test split: error \d+\.\d{3} %, cost \d+\.\d{6}$/);
  });
});
