// specs/lstm.yaml is lstm.py's model: the evaluation's per-sentence cost
// equals a plain TypeScript transcription of lstm.py's forward pass
// (build_model without noise: x·W + b, the four gates sliced i, f, o, c,
// masked steps keeping h and c, mean pooling over the mask, softmax, −log p)
// on the model's own initial parameters. The f64 oracle of the same graph
// could not catch a spec that says something else.
import { describe, expect, it } from "vitest";
import { Model as Lstm } from "../generated/lstm/model.ts";
import type { CompiledModel } from "../runtime/compiled-model.ts";
import { uniform } from "../runtime/rng/philox.ts";
import { initModel } from "../runtime/train/model-ops.ts";

describe("specs/lstm.yaml against lstm.py", () => {
  it("each sentence's evaluation cost equals the transcription's", () => {
    const m: CompiledModel = new Lstm();
    initModel(m, { trainExamples: 160 });
    // Parameters far from their initialisation (U ~ 0.01 gives every
    // sentence a cost of ≈ ln 2 whatever the LSTM computes): a wrong gate
    // order or mask must move the costs.
    const scale: Record<string, number> = { Wemb: 0.5, lstm_W: 0.3, lstm_U: 0.3, lstm_b: 0.5, U: 2, b: 0.5 };
    m.desc.params.forEach((p, n) => {
      const a = m.params[p.name]!;
      for (let i = 0; i < a.length; i++) a[i] = scale[p.name]! * (2 * uniform(10, n, 0, 0, i) - 1);
    });
    const B = m.desc.evalBatchSize;
    const T = 100;
    const D = 128;
    const lengths = Array.from({ length: B }, (_, k) => 1 + Math.floor(uniform(9, 1, k, 0, 0) * 30));
    const words = new Int32Array(B * T);
    const mask = new Float32Array(B * T);
    lengths.forEach((len, k) => {
      for (let t = 0; t < len; t++) {
        words[k * T + t] = 2 + Math.floor(uniform(9, 2, k, 0, t) * 9990);
        mask[k * T + t] = 1;
      }
    });
    const label = Int32Array.from({ length: B }, (_, k) => k % 2);
    const out = { error: new Float32Array(B), cost: new Float32Array(B) };
    m.evaluate({ words, mask, length: Int32Array.from(lengths), label }, out);

    const P = m.params;
    const spread: number[] = [];
    const sig = (z: number) => 1 / (1 + Math.exp(-z));
    for (let k = 0; k < B; k++) {
      let h = new Float64Array(D);
      let c = new Float64Array(D);
      const pooled = new Float64Array(D);
      for (let t = 0; t < T; t++) {
        const mt = mask[k * T + t]!;
        const w = words[k * T + t]!;
        const pre = new Float64Array(4 * D);
        for (let j = 0; j < 4 * D; j++) {
          let z = P.lstm_b![j]!;
          for (let i = 0; i < D; i++) z += P.Wemb![w * D + i]! * P.lstm_W![i * 4 * D + j]! + h[i]! * P.lstm_U![i * 4 * D + j]!;
          pre[j] = z;
        }
        const h2 = new Float64Array(D);
        const c2 = new Float64Array(D);
        for (let j = 0; j < D; j++) {
          const [i, f, o, g] = [sig(pre[j]!), sig(pre[D + j]!), sig(pre[2 * D + j]!), Math.tanh(pre[3 * D + j]!)];
          c2[j] = mt * (f * c[j]! + i * g) + (1 - mt) * c[j]!;
          h2[j] = mt * (o * Math.tanh(c2[j]!)) + (1 - mt) * h[j]!;
          pooled[j] += h2[j]! * mt;
        }
        h = h2;
        c = c2;
        if (t >= lengths[k]!) break; // the rest is masked: h, c unchanged, nothing pooled
      }
      for (let j = 0; j < D; j++) pooled[j] /= lengths[k]!;
      const s = [0, 1].map((y) => {
        let z = P.b![y]!;
        for (let j = 0; j < D; j++) z += pooled[j]! * P.U![j * 2 + y]!;
        return z;
      });
      const top = Math.max(...s);
      const nll = -(s[label[k]!]! - top - Math.log(s.reduce((a, z) => a + Math.exp(z - top), 0)));
      expect(Math.abs(out.cost[k]! - nll), `sentence ${k} (${lengths[k]} words)`).toBeLessThan(1e-4 * Math.max(1, nll));
      spread.push(nll);
    }
    // The costs differ from sentence to sentence (the check is not vacuous).
    expect(Math.max(...spread) - Math.min(...spread)).toBeGreaterThan(0.5);
  });
});
