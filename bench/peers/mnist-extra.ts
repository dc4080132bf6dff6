// The MNIST models of the bench beyond the supervised SGD ones of peer.ts:
// the denoising autoencoder (specs/da.yaml, dA.py) and the regularised
// dropout net (specs/dnn.yaml, dnn.py). What the peers are given (the
// generated model's initial parameters, the minibatches, and the uniforms
// our trainer draws for its random ops at each step, so that every
// implementation corrupts or drops the same units and the first costs can
// be compared) and the checks that the specs still are the models the
// hand-written peers implement.
//
//   da  (batch 20, SGD lr 0.1):
//     x̃ = x·[U₁ < 0.7];  y = σ(x̃W + b);  z = σ(yWᵀ + b′)
//     cost = −Σ (x log z + (1 − x) log(1 − z)) / 20
//   dnn (batch 100, Adadelta ρ 0.95 ε 1e-6):
//     h1 = relu((x·[U₁ < 0.8]/0.8)W1 + b1)·[U₂ < 0.5]/0.5
//     h2 = relu(h1W2 + b2)·[U₃ < 0.5]/0.5;  p = softmax(h2W3 + b3)
//     cost = −Σ log p[y] + 1e-4·(ΣW1² + ΣW2² + ΣW3²)
// Uᵢ: uniform(seed, salt i, step, 0, element), as the generated code draws
// them (the salts number the spec's random ops in graph order).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import * as rng from "../../runtime/rng/philox.ts";

export const EXTRA_MODELS = ["da", "dnn"] as const;
export type ExtraModelName = (typeof EXTRA_MODELS)[number];

/** One random op of a step: its salt, size and keep probability. */
export interface Draw {
  readonly salt: number;
  readonly size: number;
  readonly keep: number;
}

export interface ExtraModel {
  readonly name: ExtraModelName;
  readonly batchSize: number;
  readonly classes: number;
  /** da: the SGD rate; dnn: unused (Adadelta). */
  readonly lr: number;
  readonly rho: number;
  readonly eps: number;
  readonly l2: number;
  /** The step's random ops, in salt order. */
  readonly draws: readonly Draw[];
  /** Initial parameters in the generated model's layout (read-only). */
  readonly params: Readonly<Record<string, { readonly shape: readonly number[]; readonly data: Float32Array }>>;
}

export interface ExtraBatch {
  /** [batch, 784] pixels in [0, 1]. */
  readonly x: Float32Array;
  /** [batch] labels (dnn; empty for da). */
  readonly y: Int32Array;
  /** The step's uniforms, one array per draw of ExtraModel.draws. */
  readonly uniforms: readonly Float32Array[];
}

interface SpecFile {
  data: { batch_size: number };
  graph: Record<string, string>;
  losses: Record<string, Record<string, { probs?: string; targets?: string; labels?: string; weight?: number; params?: string[] }>>;
  phases: { loss: string; optimizer: { sgd?: { lr: number }; adadelta?: { rho: number; eps: number } } }[];
}

const squash = (s: string): string => s.replace(/\s+/g, "");

/** Reads specs/<name>.yaml and checks that it is the model the peers
 * implement (a changed spec must fail loudly here, not be benchmarked as
 * something else). */
export function extraSpec(name: ExtraModelName, specPath = `specs/${name}.yaml`): Omit<ExtraModel, "params"> {
  const spec = parse(readFileSync(specPath, "utf8")) as SpecFile;
  const fail = (what: string): never => {
    throw new Error(`${specPath}: ${what}; bench/peers implement ${name === "da" ? "dA.py's denoising autoencoder" : "dnn.py's dropout net"} (update bench/peers/mnist-extra.ts and the peers with the spec)`);
  };
  const phase = spec.phases[0]!;
  const terms = spec.losses[phase.loss] ?? fail("no loss");
  const want = (k: string, v: string) => {
    if (squash(String(spec.graph[k])) !== v) fail(`${k} is not ${v}`);
  };
  if (name === "da") {
    want("x_tilde", "binomial_mask(x,0.7)");
    want("y", "sigmoid(x_tilde@W+b)");
    want("z", "sigmoid(y@W.T+b_prime)");
    const ce = terms.cross_entropy;
    if (!ce || ce.probs !== "z" || ce.targets !== "x" || Object.keys(terms).length !== 1) fail("the loss is not the cross-entropy of z against x");
    const lr = phase.optimizer.sgd?.lr ?? fail("the optimizer is not SGD");
    return { name, batchSize: spec.data.batch_size, classes: 0, lr, rho: 0, eps: 0, l2: 0, draws: [{ salt: 1, size: spec.data.batch_size * 784, keep: 0.7 }] };
  }
  want("h1", "dropout(relu(dropout(x,0.2)@W1+b1),0.5)");
  want("h2", "dropout(relu(h1@W2+b2),0.5)");
  want("p_y_given_x", "softmax(h2@W3+b3)");
  const B = spec.data.batch_size;
  if (terms.nll?.probs !== "p_y_given_x" || terms.nll.weight !== B) fail(`the loss's NLL is not summed over the minibatch (weight ${B})`);
  if (squash((terms.l2?.params ?? []).join(",")) !== "W1,W2,W3" || Object.keys(terms).length !== 2) fail("the penalty is not L2 on W1, W2, W3");
  const ada = phase.optimizer.adadelta ?? fail("the optimizer is not Adadelta");
  return {
    name, batchSize: B, classes: 10, lr: 0, rho: ada.rho, eps: ada.eps, l2: terms.l2!.weight!,
    draws: [{ salt: 1, size: B * 784, keep: 0.8 }, { salt: 2, size: B * 200, keep: 0.5 }, { salt: 3, size: B * 200, keep: 0.5 }],
  };
}

/** The uniforms the generated trainer draws at `step`, one array per draw. */
export function stepUniforms(seed: number, step: number, draws: readonly Draw[]): Float32Array[] {
  return draws.map((d) => {
    const out = new Float32Array(d.size);
    for (let i = 0; i < d.size; i++) out[i] = rng.uniform(seed, d.salt, step, 0, i);
    return out;
  });
}

/** Fails unless generated/<name>/model.ts's training step draws as
 * stepUniforms does. */
export function checkGeneratedDraws(source: string, m: Pick<ExtraModel, "name" | "draws">): void {
  const train = source.slice(source.indexOf("private step0("));
  for (const d of m.draws) {
    const fill = new RegExp(`this\\.k\\.uniformFill\\(\\{ dst: \\d+, n: ${d.size}, seed: this\\.desc\\.seed, salt: ${d.salt}, step: step, iter: 0 \\}\\)`);
    if (!fill.test(train) || !train.includes(`compare(random_uniform(), ${d.keep})`)) {
      throw new Error(`generated/${m.name}/model.ts no longer draws as bench/peers/mnist-extra.ts stepUniforms does (salt ${d.salt}, ${d.size} values, keep ${d.keep})`);
    }
  }
}
