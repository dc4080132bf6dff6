// The improvement threshold's boundary (runtime/train/early-stopping.ts,
// logistic_sgd.py's `if this < best * improvement_threshold`): a validation
// loss exactly at threshold × best is a new best but NOT a significant
// improvement (patience stays), the next float below it is one (patience
// grows to iter × patience_increase).

import { describe, expect, it } from "vitest";
import type { EarlyStoppingDesc } from "../runtime/compiled-model.ts";
import { EarlyStopping, traceEarlyStopping } from "../runtime/train/early-stopping.ts";

const desc: EarlyStoppingDesc = { patience: 10, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: 1 };

/** The largest double below a positive finite x. */
function below(x: number): number {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  v.setBigUint64(0, v.getBigUint64(0) - 1n);
  return v.getFloat64(0);
}

/** An EarlyStopping whose best so far is `best` (observed at iter 0). */
function after(best: number, d: EarlyStoppingDesc = desc): EarlyStopping {
  const es = new EarlyStopping(d, 100);
  expect(es.observe(0, best)).toEqual({ improved: true, significant: true });
  expect(es.state.patience).toBe(d.patience);
  return es;
}

describe("improvement threshold boundary", () => {
  it.each([
    ["0.8 and 0.995 (the tutorial's threshold)", 0.8, 0.995],
    ["1 and 0.5 (exact in binary)", 1, 0.5],
    ["0.0921 and 0.995", 0.0921, 0.995],
  ])("best × threshold exactly is a new best but not significant: %s", (_what, best, threshold) => {
    const d = { ...desc, improvementThreshold: threshold };
    const es = after(best, d);
    const atThreshold = best * threshold;
    expect(atThreshold).toBeLessThan(best);
    expect(es.observe(20, atThreshold)).toEqual({ improved: true, significant: false });
    expect(es.state.patience).toBe(10); // not max(10, 20 · 2)
    expect(es.state.bestValid).toBe(atThreshold);
    expect(es.state.bestIter).toBe(20);
  });

  it.each([
    ["0.8 and 0.995", 0.8, 0.995],
    ["1 and 0.5", 1, 0.5],
    ["0.0921 and 0.995", 0.0921, 0.995],
  ])("the next float below best × threshold is significant: %s", (_what, best, threshold) => {
    const d = { ...desc, improvementThreshold: threshold };
    const es = after(best, d);
    const justBelow = below(best * threshold);
    expect(justBelow).toBeLessThan(best * threshold);
    expect(es.observe(20, justBelow)).toEqual({ improved: true, significant: true });
    expect(es.state.patience).toBe(40); // max(10, 20 · 2)
    expect(es.state.bestValid).toBe(justBelow);
  });

  it("over a whole run: a loss at the threshold stops at the old patience, one just below runs on", () => {
    // Validating after every minibatch: iter 0 sets best 1; iter 6 brings
    // 0.5 (at threshold: patience stays 10, stop at iter 10) or the float
    // below it (patience max(10, 12) = 12, stop at iter 12).
    const d = { ...desc, improvementThreshold: 0.5 };
    const flat = [1, 1, 1, 1, 1, 1];
    const at = traceEarlyStopping(d, 100, [...flat, 0.5], 100);
    expect(at.stoppedAt).toBe(10);
    expect(at.state.patience).toBe(10);
    expect(at.state.bestValid).toBe(0.5);
    const under = traceEarlyStopping(d, 100, [...flat, below(0.5)], 100);
    expect(under.stoppedAt).toBe(12);
    expect(under.state.patience).toBe(12);
  });
});
