// Test data: tensors from literal values and deterministic random ones. A
// `Gen` is seeded per case (from its name), so a case draws the same inputs
// whether it runs alone, filtered with -t, or after every other test.

import { fromArray, type Tensor } from "../../compiler/ir/tensor.ts";
import { numel, type Shape } from "../../compiler/ir/types.ts";

export const f64 = (shape: Shape, v: readonly number[]): Tensor => fromArray(shape, "f64", v);
export const i32 = (shape: Shape, v: readonly number[]): Tensor => fromArray(shape, "i32", v);
export const bool = (shape: Shape, v: readonly number[]): Tensor => fromArray(shape, "bool", v);

/** FNV-1a of a string: a seed from a case's name. */
function seedOf(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** Deterministic random values (mulberry32) and tensors of them. Float
 * tensors are f64 holding values exact in f32, so every backend, whatever
 * its float type, reads the same numbers. */
export class Gen {
  private s: number;
  constructor(seed: number | string) {
    this.s = typeof seed === "string" ? seedOf(seed) : seed >>> 0;
  }
  /** Uniform [0, 1). */
  rand(): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = this.s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  gauss(): number {
    return Math.sqrt(-2 * Math.log(1 - this.rand())) * Math.cos(2 * Math.PI * this.rand());
  }
  fill(shape: Shape, f: (k: number) => number): number[] {
    return Array.from({ length: numel(shape) }, (_, k) => f(k));
  }
  /** f(u, z) per element, u ~ U[0, 1), z ~ N(0, 1), rounded to f32. */
  floats(shape: Shape, f: (u: number, z: number) => number = (_u, z) => z): Tensor {
    return f64(shape, this.fill(shape, () => Math.fround(f(this.rand(), this.gauss()))));
  }
  normal(shape: Shape, scale = 1): Tensor {
    return this.floats(shape, (_u, z) => scale * z);
  }
  uniform(shape: Shape, lo: number, hi: number): Tensor {
    return this.floats(shape, (u) => lo + (hi - lo) * u);
  }
  ints(shape: Shape, lo: number, hi: number): Tensor {
    return i32(shape, this.fill(shape, () => lo + Math.floor((hi - lo) * this.rand())));
  }
  bools(shape: Shape): Tensor {
    return bool(shape, this.fill(shape, () => (this.rand() < 0.5 ? 1 : 0)));
  }
}

/** t with the elements where `keep` is false set to zero (a data input's
 * mostly-zero pixels, a pooled layer's sparse cotangents). */
export function zeroed(t: Tensor, keep: (i: number) => boolean): Tensor {
  return fromArray(t.shape, t.dtype, [...t.data].map((v, i) => (keep(i) ? v : 0)));
}

/** Values where functions overflow, underflow or leave their domain. */
export const SPECIAL = [0, -0, 1e-30, -1e-30, 0.5, -0.5, 20, -20, 50, -50, 100, -100, 1e30, -1e30, Infinity, -Infinity, NaN];
