// Minibatch assembly. In the data's own order a training batch is a view of
// the split's rows (no copy: a split placed in a CPU model's memory is then
// read where it lies, runtime/cpu/arena.ts); shuffled, its rows are copied
// into buffers allocated once per iterator (in the model's memory where the
// trainer can place them there), so the training loop allocates nothing
// per step (the generated step functions read the batch synchronously and
// never keep or write it).
//
// Training walks `floor(n / batchSize)` minibatches per epoch, dropping the
// last partial one as the tutorial does (n_train_batches = n // batch_size).
// The order is a pure function of (seed, epoch): Philox shuffle with
// salt = epoch when shuffling, identity otherwise, so a resumed run can
// recompute the order of the epoch it stopped in.
//
// Evaluation covers every example: the last batch is padded with zero rows
// and reports how many of its rows are real.
import type { Batch, TensorDesc } from "../compiled-model.ts";
import { shuffle } from "../rng/philox.ts";
import { DataError, sizeOf } from "./dataset.ts";
import type { NamedTensor, Split } from "./dataset.ts";

/** Where one model input's rows come from: the f32 input reads the split's
 * x, the i32 input its y (the datasets carry one of each); a regression's
 * second f32 input reads its real-valued targets t. */
interface Binding {
  readonly name: string;
  readonly src: Float32Array | Int32Array;
  readonly dst: Float32Array | Int32Array;
  /** Elements per example. */
  readonly size: number;
}

/** Where an iterator's f32 batch buffers go: an array of that length in a
 * model's memory (CompiledModel.resident), or undefined for a plain one. */
export type PlaceBuffer = (length: number) => Float32Array | undefined;

function bind(split: Split, inputs: readonly TensorDesc[], rows: number, what: string, place?: PlaceBuffer): Binding[] {
  const f32 = (n: number) => place?.(n) ?? new Float32Array(n);
  let floats = 0;
  let ints = 0;
  return inputs.map((input) => {
    const size = sizeOf(input.shape);
    const isF32 = input.dtype === "f32";
    if (split.named) return bindNamed(split, split.named, input, size, rows, what);
    const k = isF32 ? floats++ : ints++;
    if (isF32 && k === 1 && split.t) {
      const tShape = split.tShape ?? [];
      if (sizeOf(tShape) !== size || split.t.length !== split.n * size) {
        throw new DataError(`${what}: input "${input.name}" expects targets of shape [${input.shape.join(", ")}], the data's targets have shape [${tShape.join(", ")}]`);
      }
      return { name: input.name, src: split.t, dst: f32(rows * size), size };
    }
    if (k > 0) {
      throw new DataError(`${what}: the datasets provide one f32 and one i32 input (noisy-line: two f32); input "${input.name}" is one ${input.dtype} input too many`);
    }
    const have = isF32 ? sizeOf(split.shape) : sizeOf(split.yShape);
    const haveShape = isF32 ? split.shape : split.yShape;
    if (have !== size || (isF32 ? split.x.length : split.y.length) !== split.n * size) {
      throw new DataError(
        `${what}: input "${input.name}" expects examples of shape [${input.shape.join(", ")}] (${size} values), ` +
          `the data has shape [${haveShape.join(", ")}] (${have} values)`,
      );
    }
    return isF32
      ? { name: input.name, src: split.x, dst: f32(rows * size), size }
      : { name: input.name, src: split.y, dst: new Int32Array(rows * size), size };
  });
}

/** An input of a dataset whose tensors are named (atis): same name, dtype
 * and per-example size, or a one-line error listing what the data has. */
function bindNamed(split: Split, named: Readonly<Record<string, NamedTensor>>, input: TensorDesc, size: number, rows: number, what: string): Binding {
  const t = named[input.name];
  const list = () => Object.entries(named).map(([n, v]) => `${n} [${v.shape.join(", ")}] ${v.data instanceof Int32Array ? "i32" : "f32"}`).join(", ");
  if (t === undefined) throw new DataError(`${what}: the data has no tensor "${input.name}" for the input of that name (it has: ${list()})`);
  const isF32 = input.dtype === "f32";
  if (isF32 !== t.data instanceof Float32Array || sizeOf(t.shape) !== size || t.data.length !== split.n * size) {
    throw new DataError(`${what}: input "${input.name}" is [${input.shape.join(", ")}] ${input.dtype}, the data's "${input.name}" is [${t.shape.join(", ")}] ${t.data instanceof Int32Array ? "i32" : "f32"} (it has: ${list()})`);
  }
  return { name: input.name, src: t.data, dst: isF32 ? new Float32Array(rows * size) : new Int32Array(rows * size), size };
}

function asBatch(bindings: readonly Binding[]): Batch {
  const batch: Record<string, Float32Array | Int32Array> = {};
  for (const b of bindings) batch[b.name] = b.dst;
  return batch;
}

/** Training minibatches in shuffled or sequential order. */
export class BatchIterator {
  readonly numBatches: number;
  private readonly bindings: Binding[];
  private readonly batch: Batch;
  private readonly order: Int32Array;
  /** In the data's order: minibatch k as views of the split, made once. */
  private readonly views: Batch[] = [];
  private epoch = -1;

  constructor(
    private readonly split: Split,
    inputs: readonly TensorDesc[],
    readonly batchSize: number,
    private readonly opts: { readonly shuffle: boolean; readonly seed: number; readonly place?: PlaceBuffer },
  ) {
    this.numBatches = Math.floor(split.n / batchSize);
    if (this.numBatches === 0) {
      throw new DataError(`train split has ${split.n} examples, fewer than one minibatch of ${batchSize}`);
    }
    // Only shuffled batches are copied: only they need buffers.
    this.bindings = bind(split, inputs, opts.shuffle ? batchSize : 0, "train split", opts.place);
    this.batch = asBatch(this.bindings);
    this.order = new Int32Array(split.n);
  }

  /** Computes the example order of an epoch (0-based). Idempotent, so the
   * trainer can call it on every epoch start including a resumed one. */
  setEpoch(epoch: number): void {
    if (epoch === this.epoch) return;
    if (this.opts.shuffle) shuffle(this.opts.seed, epoch, this.split.n, this.order);
    else for (let i = 0; i < this.split.n; i++) this.order[i] = i;
    this.epoch = epoch;
  }

  /** The example indices of the current epoch's order (for tests). */
  get currentOrder(): Readonly<Int32Array> {
    return this.order;
  }

  /** Minibatch k (0 ≤ k < numBatches) of the current epoch: views of the
   * split in its own order, else copied rows that the next call
   * overwrites. Read only. */
  fill(k: number): Batch {
    if (this.epoch < 0) throw new Error("BatchIterator.fill called before setEpoch");
    if (k < 0 || k >= this.numBatches) throw new RangeError(`minibatch ${k} outside 0..${this.numBatches - 1}`);
    const base = k * this.batchSize;
    if (!this.opts.shuffle) {
      let view = this.views[k];
      if (view === undefined) {
        const end = base + this.batchSize;
        view = Object.fromEntries(this.bindings.map((b) => [b.name, b.src.subarray(base * b.size, end * b.size)]));
        this.views[k] = view;
      }
      return view;
    }
    for (const b of this.bindings) {
      for (let r = 0; r < this.batchSize; r++) {
        const e = this.order[base + r];
        b.dst.set(b.src.subarray(e * b.size, (e + 1) * b.size), r * b.size);
      }
    }
    return this.batch;
  }
}

/** Sequential evaluation batches covering every example of a split: whole
 * batches are views of the split (read in place where it lies in a
 * model's memory), the last, short one is copied and padded. */
export class PaddedBatches {
  readonly numBatches: number;
  private readonly bindings: Binding[];
  private readonly batch: Batch;
  private readonly views: Batch[] = [];

  constructor(
    private readonly split: Split,
    inputs: readonly TensorDesc[],
    readonly batchSize: number,
    what: string,
    place?: PlaceBuffer,
  ) {
    this.numBatches = Math.ceil(split.n / batchSize);
    this.bindings = bind(split, inputs, split.n % batchSize === 0 ? 0 : batchSize, what, place);
    this.batch = asBatch(this.bindings);
  }

  /** Batch k with the number of real (unpadded) rows. Read only. */
  fill(k: number): { readonly batch: Batch; readonly count: number } {
    const start = k * this.batchSize;
    const count = Math.min(this.batchSize, this.split.n - start);
    if (k < 0 || count <= 0) throw new RangeError(`eval batch ${k} outside 0..${this.numBatches - 1}`);
    if (count === this.batchSize) {
      let view = this.views[k];
      if (view === undefined) {
        view = Object.fromEntries(this.bindings.map((b) => [b.name, b.src.subarray(start * b.size, (start + count) * b.size)]));
        this.views[k] = view;
      }
      return { batch: view, count };
    }
    for (const b of this.bindings) {
      b.dst.set(b.src.subarray(start * b.size, (start + count) * b.size), 0);
      // Zero the padding so padded rows are valid inputs (label 0, black
      // image); their metrics are ignored by the caller.
      if (count < this.batchSize) b.dst.fill(0, count * b.size);
    }
    return { batch: this.batch, count };
  }
}
