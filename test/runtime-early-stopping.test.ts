// The tutorial's early stopping, checked against sequences traced by hand
// from logistic_sgd.py's loop.
import { describe, expect, it } from "vitest";
import type { EarlyStoppingDesc } from "../runtime/compiled-model.ts";
import { EarlyStopping, traceEarlyStopping, validationFrequency } from "../runtime/train/early-stopping.ts";

const base: EarlyStoppingDesc = { patience: 10, patienceIncrease: 2, improvementThreshold: 0.995, validationFrequency: null };

describe("validation frequency", () => {
  it("is min(n_train_batches, patience // 2) by default, else as given, at least 1", () => {
    expect(validationFrequency(base, 3)).toBe(3);
    expect(validationFrequency(base, 100)).toBe(5);
    expect(validationFrequency({ ...base, patience: 5000 }, 83)).toBe(83); // logistic_sgd on MNIST
    expect(validationFrequency({ ...base, validationFrequency: 7 }, 100)).toBe(7);
    expect(validationFrequency({ ...base, patience: 1 }, 100)).toBe(1);
    expect(validationFrequency(null, 42)).toBe(42);
  });
});

describe("early stopping", () => {
  it("stops when patience <= iter without a significant gain", () => {
    // patience 10, 3 batches/epoch -> validate at iters 2, 5, 8, ...
    //   iter 2: 0.5   < inf, significant: patience = max(10, 2*2) = 10, best 0.5 @2
    //   iter 5: 0.4   < 0.5*0.995:        patience = max(10, 5*2) = 10, best 0.4 @5
    //   iter 8: 0.399 < 0.4 but not < 0.398: best 0.399 @8, patience stays 10
    //   iter 10: patience 10 <= 10 -> stop (before the iter-11 validation)
    const t = traceEarlyStopping(base, 3, [0.5, 0.4, 0.399, 0.1], 100);
    expect(t.validatedAt).toEqual([2, 5, 8]);
    expect(t.stoppedAt).toBe(10);
    expect(t.state).toEqual({ patience: 10, bestValid: 0.399, bestIter: 8, testAtBest: 0.399, done: true });
  });

  it("extends patience to iter * patience_increase on a significant gain", () => {
    // patience 4, 3 batches/epoch -> frequency min(3, 2) = 2: validate at 1, 3, 5, ...
    //   iter 1: 1.0  best, patience max(4, 2) = 4
    //   iter 3: 0.9  < 0.995: patience max(4, 6) = 6, best 0.9 @3
    //   iter 5: 0.95 no gain
    //   iter 6: 6 <= 6 -> stop
    const t = traceEarlyStopping({ ...base, patience: 4 }, 3, [1.0, 0.9, 0.95, 0.5], 100);
    expect(t.validatedAt).toEqual([1, 3, 5]);
    expect(t.stoppedAt).toBe(6);
    expect(t.state).toMatchObject({ patience: 6, bestValid: 0.9, bestIter: 3, testAtBest: 0.9, done: true });
  });

  it("keeps going while gains keep extending patience", () => {
    // patience 4, frequency 2; steadily improving losses double the patience:
    //   iter 1: p 4; iter 3: p 6; iter 5: p 10; iter 7: p 14; iter 9: p 18; ...
    const losses = Array.from({ length: 50 }, (_, k) => 1 / (k + 1));
    const t = traceEarlyStopping({ ...base, patience: 4 }, 3, losses, 30);
    expect(t.stoppedAt).toBeNull();
    expect(t.state.patience).toBe(29 * 2);
    expect(t.state.bestIter).toBe(29);
  });

  it("ignores equal and worse losses and resumes from a saved state", () => {
    const es = new EarlyStopping(base, 3);
    expect(es.observe(2, 0.5)).toEqual({ improved: true, significant: true });
    expect(es.observe(5, 0.5)).toEqual({ improved: false, significant: false });
    expect(es.observe(8, 0.6).improved).toBe(false);
    expect(es.observe(11, NaN).improved).toBe(false);
    const saved = { ...es.state };
    const resumed = new EarlyStopping(base, 3, saved);
    expect(resumed.state).toEqual(es.state);
    expect(resumed.afterMinibatch(9)).toBe(false);
    expect(resumed.afterMinibatch(10)).toBe(true);
    expect(saved.done).toBe(false); // the restored object is copied, not mutated
  });
});
