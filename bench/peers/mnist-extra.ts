// The MNIST models of the bench beyond the supervised SGD ones of peer.ts:
// the denoising autoencoder (specs/da.yaml, dA.py), the regularised
// dropout net (specs/dnn.yaml, dnn.py) and the RBM trained by PCD-15
// (specs/rbm.yaml, rbm.py). What the peers are given (the
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
//   rbm (batch 20, SGD lr 0.1, a persistent chain h of [20, 500] from 0):
//     15 × (v = [U₁ < σ(hWᵀ + vbias)];  h = [U₂ < σ(vW + hbias)]), then
//     cost = mean FE(x) − mean FE(v) (v held constant), persistent ← h;
//     the step reports the pseudo-likelihood of x with bit (step mod 784)
//     flipped (rbm.py's get_pseudo_likelihood_cost), FE(v) = −v·vbias −
//     Σ softplus(vW + hbias), from the parameters before the update.
// Uᵢ: uniform(seed, salt i, step, iteration, element), as the generated
// code draws them (the salts number the spec's random ops in graph order;
// the iteration is the Gibbs step, 0 outside a scan).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import * as rng from "../../runtime/rng/philox.ts";

export const EXTRA_MODELS = ["da", "dnn", "rbm"] as const;
export type ExtraModelName = (typeof EXTRA_MODELS)[number];

/** One random op of a step: its salt, size, the scan iterations it is
 * drawn at (1 outside a scan) and, for a mask, its keep probability (a
 * Bernoulli sample's probability is computed: none). */
export interface Draw {
  readonly salt: number;
  readonly size: number;
  readonly iters: number;
  readonly keep?: number;
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
  /** The step's uniforms, one array per draw of ExtraModel.draws
   * ([iters, size]). */
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
    return { name, batchSize: spec.data.batch_size, classes: 0, lr, rho: 0, eps: 0, l2: 0, draws: [{ salt: 1, size: spec.data.batch_size * 784, iters: 1, keep: 0.7 }] };
  }
  if (name === "rbm") {
    const chain = (spec.graph as unknown as Record<string, { scan?: { length: number; carry: Record<string, string>; body: Record<string, string> } }>).chain?.scan;
    if (!chain || squash(JSON.stringify(chain.carry)) !== '{"h":"persistent","v":"x"}') fail("the chain does not carry h from the persistent state and v from x");
    const body = Object.fromEntries(Object.entries(chain!.body).map(([k, v]) => [k, squash(v)]));
    if (body.v_sample !== "bernoulli(sigmoid(h@W.T+vbias))" || body.h !== "bernoulli(sigmoid(v_sample@W+hbias))") fail("the chain's Gibbs step is not rbm.py's");
    want("fe_data", "-sum(x*vbias,1)-sum(softplus(x@W+hbias),1)");
    want("fe_chain", "-sum(chain_end*vbias,1)-sum(softplus(chain_end@W+hbias),1)");
    want("pseudo_likelihood", "mean(784*log(sigmoid(fe_xi_flip-fe_xi)))");
    if (squash((terms as unknown as { expr?: { value: string } }).expr?.value ?? "") !== "mean(fe_data)-mean(fe_chain)") fail("the loss is not mean(fe_data) − mean(fe_chain)");
    const lr = phase.optimizer.sgd?.lr ?? fail("the optimizer is not SGD");
    const B = spec.data.batch_size;
    return { name, batchSize: B, classes: 0, lr, rho: 0, eps: 0, l2: 0, draws: [{ salt: 1, size: B * 784, iters: chain!.length }, { salt: 2, size: B * 500, iters: chain!.length }] };
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
    draws: [{ salt: 1, size: B * 784, iters: 1, keep: 0.8 }, { salt: 2, size: B * 200, iters: 1, keep: 0.5 }, { salt: 3, size: B * 200, iters: 1, keep: 0.5 }],
  };
}

/** The uniforms the generated trainer draws at `step`, one array per draw
 * ([iters, size]). */
export function stepUniforms(seed: number, step: number, draws: readonly Draw[]): Float32Array[] {
  return draws.map((d) => {
    const out = new Float32Array(d.iters * d.size);
    for (let t = 0; t < d.iters; t++) for (let i = 0; i < d.size; i++) out[t * d.size + i] = rng.uniform(seed, d.salt, step, t, i);
    return out;
  });
}

/** Fails unless generated/<name>/model.ts's training step draws as
 * stepUniforms does. */
export function checkGeneratedDraws(source: string, m: Pick<ExtraModel, "name" | "draws">): void {
  const train = source.slice(source.indexOf("private step0("));
  for (const d of m.draws) {
    const iter = d.iters > 1 ? "t\\$\\d+" : "0";
    const fill = new RegExp(`this\\.k\\.uniformFill\\(\\{ dst: \\d+, n: ${d.size}, seed: this\\.desc\\.seed, salt: ${d.salt}, step: step, iter: ${iter} \\}\\)`);
    if (!fill.test(train) || (d.keep !== undefined && !train.includes(`compare(random_uniform(), ${d.keep})`))) {
      throw new Error(`generated/${m.name}/model.ts no longer draws as bench/peers/mnist-extra.ts stepUniforms does (salt ${d.salt}, ${d.size} values${d.keep !== undefined ? `, keep ${d.keep}` : ""})`);
    }
  }
}

/** Distinct minibatches a measurement cycles through: the RBM's 15 Gibbs
 * steps draw 385,200 uniforms a minibatch, so fewer are pre-drawn. */
export function distinctBatches(name: ExtraModelName, fallback: number): number {
  return name === "rbm" ? Math.min(fallback, 20) : fallback;
}
