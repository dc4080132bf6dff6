// The lowered program: what every back end renders. The optimised graphs of a
// model (one training step per phase, evaluation, samplers) become blocks of
// kernels over named buffers. Decided here, once, for every target:
// - which values get a buffer and what it is called (after the spec's graph
//   entries, parameters and losses: `hidden`, `grad_W1`);
// - which elementwise chains and sums are fused into one loop, and how each
//   operand of a loop is read (strides along the loop's axes; 0 repeats it:
//   a broadcast costs no copy);
// - which updates are written in place into a parameter's or state's buffer,
//   which are copied there at the end, and which SGD updates accumulate their
//   products straight into the parameter;
// - how a scan runs: its carries, per-step slices and stacked outputs.
// A renderer (compiler/emit/ts, compiler/emit/wgsl) maps each kernel to its
// target's code and walks no graph of its own. `printProgram` is the text
// form that `dlt-compile --dump-lowered` prints and the snapshots hold.

import type { DType, Node, Shape, SpecLoc, TensorType } from "../ir/types.ts";

export type BufferId = number;

export type BufferRole =
  /** A trained parameter or carried state: lives across steps. */
  | "param"
  | "state"
  /** A data input, written from the batch before a function runs. */
  | "input"
  /** Filled once with `fill` when the model is created. */
  | "const"
  /** An intermediate of one function. */
  | "temp";

export interface BufferInfo {
  readonly id: BufferId;
  /** An identifier, unique in the model (compiler/lower/names.ts): the
   * function's prefix (none for the first training step, `eval_`, …) and
   * `local`. */
  readonly name: string;
  /** The name inside its function (unique there): what generated code calls
   * the buffer's local variable. Leaves: their own name. */
  readonly local: string;
  readonly dtype: DType;
  readonly shape: Shape;
  /** Elements (at least 1: a scalar is one element). */
  readonly size: number;
  readonly role: BufferRole;
  /** Parameter, state or input name (those roles). */
  readonly ref?: string;
  readonly fill?: number;
  /** Where the value comes from in the spec (for errors about the buffer). */
  readonly loc?: SpecLoc;
}

/** How a fused loop computes one element. Operands are read through strides
 * over the loop's own axes (0 along an axis the operand is broadcast over). */
export type Expr =
  | { readonly kind: "read"; readonly buffer: BufferId; readonly strides: readonly number[] }
  | { readonly kind: "const"; readonly value: number; readonly dtype: DType }
  /** An elementwise op applied to its operands (the node gives op and attrs). */
  | { readonly kind: "op"; readonly node: Node; readonly args: readonly Expr[] };

interface KernelBase {
  /** The IR node whose value the kernel writes (its op, attrs, spec line). */
  readonly node: Node;
  /** The nodes fused into it (computed inside, no buffer). */
  readonly fused: readonly Node[];
  readonly out: BufferId;
}

export type Kernel =
  /** out[i] = expr at every index of `shape`. */
  | (KernelBase & { readonly kind: "loop"; readonly shape: Shape; readonly expr: Expr })
  /** out[o] = Σ_r expr(o, r) over an iteration space `shape` whose first
   * `kept` axes index the output and whose other axes are summed (a sum over
   * leading axes reads its operand through permuted strides). `trailing`:
   * the node sums trailing axes; `whole`: the kernel computes the node's
   * value (false for the two stages of a sum split to fit the loop budget,
   * so a renderer may use the op's own kernel only when it is true). */
  | (KernelBase & { readonly kind: "sum"; readonly shape: Shape; readonly kept: number; readonly expr: Expr; readonly trailing: boolean; readonly whole: boolean })
  /** An op's own kernel (product, convolution, gather, …) over whole buffers.
   * `inTypes` are the operands' types as the op sees them (a reshaped
   * operand shares its source's buffer); `dataInputs` marks operands that
   * are mostly zeros, which a product may skip: data inputs (pixels), a
   * counted scan's stacked step outputs (0 past the batch's count) and
   * Bernoulli samples (a Gibbs chain's visible units); `binaryInputs`
   * marks operands whose every element is exactly 0 or 1 (Bernoulli
   * samples), whose products need no multiplications. */
  | (KernelBase & { readonly kind: "op"; readonly ins: readonly BufferId[]; readonly inTypes: readonly TensorType[]; readonly dataInputs: readonly boolean[]; readonly binaryInputs: readonly boolean[] })
  /** An SGD update `W ← W − c·(±P₁ ± P₂ … + rest)` whose matrix products Pᵢ
   * are used nowhere else: `loop` is the whole update reading each Pᵢ from
   * its buffer; a target may instead accumulate `alpha·Pᵢ` straight into W
   * (then the loop runs first with the products read as 0, and only when
   * `rest`). */
  | (KernelBase & {
      readonly kind: "update";
      readonly loop: Kernel & { readonly kind: "loop" };
      readonly products: readonly { readonly kernel: Kernel & { readonly kind: "op" }; readonly alpha: number }[];
      readonly rest: boolean;
    })
  /** A loop over t of a block: carries copied in, per-step slices of the
   * sequences copied into `seqs`, the body run, step outputs stored at t. */
  | (KernelBase & { readonly kind: "scan"; readonly scan: ScanBlock })
  /** out ← src (a parameter/state update that could not be written in place). */
  | (KernelBase & { readonly kind: "copy"; readonly src: BufferId });

export interface ScanBlock {
  /** The most iterations (the stacked buffers' leading extent). */
  readonly length: number;
  /** An i32 buffer whose first element is this run's number of iterations
   * (clamped to 0..length; steps not run leave their stacked slots 0);
   * absent: always `length`. */
  readonly count?: BufferId;
  readonly reverse: boolean;
  /** Initial carries (outer buffers) and the carry buffers the body reads. */
  readonly init: readonly BufferId[];
  readonly carry: readonly BufferId[];
  /** Whole sequences (outer) and the one-step slices the body reads. */
  readonly seqSources: readonly BufferId[];
  readonly seqs: readonly BufferId[];
  /** Tuple elements: final carries, stacked step outputs, stacked carry
   * history; null for an element nothing reads (a gradient scan's history
   * of its accumulators, read only by a second derivative), which is then
   * neither recorded nor cleared. */
  readonly elems: readonly (BufferId | null)[];
  readonly nStepOut: number;
  readonly body: Block;
  /** Buffers of the body's outputs: new carries, then step outputs. */
  readonly bodyOuts: readonly BufferId[];
}

export interface Block {
  readonly kernels: readonly Kernel[];
  /** Named results (`cost`, `metric:error`, `param:W1`, `next`) → buffer. */
  readonly outputs: ReadonlyMap<string, BufferId>;
}

export interface LoweredFunction {
  readonly kind: "step" | "eval" | "sampler";
  /** Identifier of the function (`step0`, `evaluate`, `sampler0`). */
  readonly name: string;
  readonly block: Block;
  /** Data inputs the function reads (buffers of role input). */
  readonly inputs: readonly BufferId[];
}

export interface Program {
  readonly buffers: readonly BufferInfo[];
  readonly functions: readonly LoweredFunction[];
}

/** Row-major strides of a shape (the read of a same-shaped buffer). */
export function contiguous(shape: Shape): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let k = shape.length - 2; k >= 0; k--) st[k] = st[k + 1]! * shape[k + 1]!;
  return st;
}

export function isContiguous(strides: readonly number[], shape: Shape): boolean {
  const c = contiguous(shape);
  return strides.every((s, k) => s === c[k] || shape[k] === 1);
}

/** The function-local kernels of a block, scan bodies included (depth-first). */
export function* allKernels(b: Block): Generator<Kernel> {
  for (const k of b.kernels) {
    yield k;
    if (k.kind === "update") yield* k.products.map((p) => p.kernel);
    if (k.kind === "scan") yield* allKernels(k.scan.body);
  }
}

export function fmtLoc(loc: SpecLoc | undefined): string {
  if (!loc) return "";
  return `${loc.file}:${loc.line}${loc.what ? ` (${loc.grad ? "gradient of " : ""}${loc.what})` : ""}`;
}
