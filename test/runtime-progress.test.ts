// Progress output: a throttled progress line on a terminal, plain lines
// otherwise, nothing when quiet. The clock is injected: no timing asserts.
import { describe, expect, it } from "vitest";
import { formatRecord, ProgressLogger } from "../runtime/progress.ts";
import type { BatchProgress, MetricsRecord } from "../runtime/progress.ts";

function sink(isTTY: boolean): { isTTY: boolean; out: string[]; write(t: string): void } {
  return { isTTY, out: [], write(t: string) { this.out.push(t); } };
}

const rec: MetricsRecord = {
  phase: "train", epoch: 3, minibatch: 83, minibatches: 83, iter: 248, globalStep: 249, trainCost: 0.25,
  valid: { error: 0.0912, cost: 0.31 }, best: true, testAtBest: { error: 0.089, cost: 0.3 }, elapsed: 12.34,
};

function batch(k: number): BatchProgress {
  return { phase: "train", epoch: 1, epochs: 10, batch: k, batches: 100, cost: 0.5, batchSize: 20 };
}

describe("progress", () => {
  it("formats a validation like the tutorial", () => {
    expect(formatRecord(rec)).toBe(
      "train epoch 3, minibatch 83/83, train cost 0.250000, validation error 9.120 %, cost 0.310000, " +
        "test of best model error 8.900 %, cost 0.300000 (12.3s)",
    );
  });

  it("redraws the terminal line at most every 100 ms and keeps records as lines", () => {
    let t = 0;
    const s = sink(true);
    const log = new ProgressLogger(s, { now: () => t });
    for (let k = 1; k <= 50; k++) {
      t += 10; // 10 ms per batch: 500 ms in all
      log.batch(batch(k));
    }
    const draws = s.out.filter((o) => o.startsWith("\r\x1b[K") && o.length > 4);
    expect(draws.length).toBeGreaterThanOrEqual(4);
    expect(draws.length).toBeLessThanOrEqual(6);
    expect(draws.at(-1)).toMatch(/train epoch 1\/10 \[#+\.+\] \d+\/100 cost 0\.5000 2000 ex\/s ETA \d+s/);
    log.record(rec);
    expect(s.out.at(-1)).toBe(formatRecord(rec) + "\n");
    expect(s.out.at(-2)).toBe("\r\x1b[K"); // the bar is cleared first
  });

  it("prints only records off a terminal, and nothing when quiet", () => {
    const plain = sink(false);
    const log = new ProgressLogger(plain);
    log.batch(batch(1));
    log.record(rec);
    log.close();
    expect(plain.out).toEqual([formatRecord(rec) + "\n"]);
    const quiet = sink(true);
    const q = new ProgressLogger(quiet, { quiet: true });
    q.batch(batch(1));
    q.record(rec);
    q.info("x");
    expect(quiet.out).toEqual([]);
  });
});
