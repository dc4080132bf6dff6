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
//   dbn (its first phase, the first RBM's CD-1: batch 10, SGD lr 0.01):
//     h = σ(xW1 + b1);  v = [U₁ < h]W1ᵀ + vb1;  e = [U₂ < σ(v)] (held constant)
//     cost = mean FE(x) − mean FE(e); the step reports the reconstruction
//     cross-entropy mean Σ (x·softplus(−v) + (1 − x)·softplus(v))
//   newmu_convnet (batch 128, Newmu's RMSprop ρ 0.9 ε 1e-6 lr 0.001):
//     l1 = drop₀.₂(pool(relu(conv_full(x, w))));  l2 = drop₀.₂(pool(relu(conv(l1, w2))))
//     l3 = drop₀.₂(flat(pool(relu(conv(l2, w3)))));  l4 = drop₀.₅(relu(l3 w4))
//     cost = mean −log softmax(l4 w_o)[y]; pool: 2×2 max, a partial last
//     window kept (ceil); dropₚ(a) = a·[U < 1 − p]/(1 − p); true convolutions
// Uᵢ: uniform(seed, salt i, step, iteration, element), as the generated
// code draws them (the salts number the spec's random ops in graph order;
// the iteration is the Gibbs step, 0 outside a scan).
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import * as rng from "../../runtime/rng/philox.ts";

export const EXTRA_MODELS = ["da", "dnn", "rbm", "dbn", "newmu_convnet"] as const;
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
  phases: { loss: string; optimizer: { sgd?: { lr: number }; adadelta?: { rho: number; eps: number }; rmsprop?: { lr: number; rho: number; eps: number } } }[];
}

const squash = (s: string): string => s.replace(/\s+/g, "");

/** Reads specs/<name>.yaml and checks that it is the model the peers
 * implement (a changed spec must fail loudly here, not be benchmarked as
 * something else). */
export function extraSpec(name: ExtraModelName, specPath = `specs/${name.replace(/_/g, "-")}.yaml`): Omit<ExtraModel, "params"> {
  const spec = parse(readFileSync(specPath, "utf8")) as SpecFile;
  const fail = (what: string): never => {
    const model = { da: "dA.py's denoising autoencoder", dnn: "dnn.py's dropout net", rbm: "rbm.py's RBM", dbn: "DBN.py's first RBM", newmu_convnet: "5_convolutional_net.py" }[name];
    throw new Error(`${specPath}: ${what}; bench/peers implement ${model} (update bench/peers/mnist-extra.ts and the peers with the spec)`);
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
  if (name === "dbn") {
    want("h1", "sigmoid(x@W1+b1)");
    want("v1_pre", "bernoulli(h1)@W1.T+vb1");
    want("v1_mean", "sigmoid(v1_pre)");
    want("end1", "stop_gradient(bernoulli(v1_mean))");
    want("cd1", "mean(-sum(x*vb1,1)-sum(softplus(x@W1+b1),1))-mean(-sum(end1*vb1,1)-sum(softplus(end1@W1+b1),1))");
    want("recon1", "mean(sum(x*softplus(-v1_pre)+(1-x)*softplus(v1_pre),1))");
    if (squash((terms as unknown as { expr?: { value: string } }).expr?.value ?? "") !== "cd1") fail("the first phase's loss is not cd1");
    const lr = phase.optimizer.sgd?.lr ?? fail("the optimizer is not SGD");
    const B = spec.data.batch_size;
    return { name, batchSize: B, classes: 0, lr, rho: 0, eps: 0, l2: 0, draws: [{ salt: 1, size: B * 1000, iters: 1 }, { salt: 2, size: B * 784, iters: 1 }] };
  }
  if (name === "newmu_convnet") {
    want("img", "reshape(x,-1,1,28,28)");
    want("l1", "dropout(max_pool_ceil(relu(conv2d_full(img,w)),2,2),0.2)");
    want("l2", "dropout(max_pool_ceil(relu(conv2d(l1,w2)),2,2),0.2)");
    want("l3", "dropout(flatten(max_pool_ceil(relu(conv2d(l2,w3)),2,2)),0.2)");
    want("l4", "dropout(relu(l3@w4),0.5)");
    want("p_y_given_x", "softmax(l4@w_o)");
    if (terms.nll?.probs !== "p_y_given_x" || terms.nll.weight !== undefined || Object.keys(terms).length !== 1) fail("the loss is not the mean NLL");
    const rms = phase.optimizer.rmsprop ?? fail("the optimizer is not RMSprop");
    const B = spec.data.batch_size;
    return {
      name, batchSize: B, classes: 10, lr: rms.lr, rho: rms.rho, eps: rms.eps, l2: 0,
      draws: [{ salt: 1, size: B * 32 * 15 * 15, iters: 1, keep: 0.8 }, { salt: 2, size: B * 64 * 7 * 7, iters: 1, keep: 0.8 }, { salt: 3, size: B * 1152, iters: 1, keep: 0.8 }, { salt: 4, size: B * 625, iters: 1, keep: 0.5 }],
    };
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
 * steps draw 385,200 uniforms a minibatch and newmu_convnet's dropouts
 * 1,550,464, so fewer are pre-drawn. */
export function distinctBatches(name: ExtraModelName, fallback: number): number {
  return name === "rbm" || name === "newmu_convnet" ? Math.min(fallback, name === "rbm" ? 20 : 8) : fallback;
}
