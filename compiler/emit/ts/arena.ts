// The CPU back end's memory: every buffer the generated model touches lives
// at a fixed byte offset of one WebAssembly memory, laid out at compile time
// (16-byte aligned for f32x4 loads), so kernels take addresses as constants.
// Parameters and state come first, in the model description's order; then
// each buffer in the order the renderer first names it. Address 0 stays
// unused: a zero offset is never a buffer.

import type { DType } from "../../ir/types.ts";
import type { BufferId, BufferInfo } from "../../lower/program.ts";

export type ArrayCtor = "Float32Array" | "Float64Array" | "Int32Array" | "Uint8Array";

export function ctorOf(dtype: DType): ArrayCtor {
  switch (dtype) {
    case "f32":
      return "Float32Array";
    case "f64":
      return "Float64Array";
    case "i32":
      return "Int32Array";
    default:
      return "Uint8Array";
  }
}

/** A class field: a typed-array view of the arena. */
export interface FieldDecl {
  readonly name: string;
  readonly ctor: ArrayCtor;
  readonly size: number;
  readonly offset: number;
  readonly fill?: number;
}

export class Arena {
  private next = 16;
  private readonly offsets = new Map<BufferId, number>();
  /** Fields for buffers that are not parameters or state, in placement order. */
  readonly fields: FieldDecl[] = [];

  constructor(private readonly buffers: readonly BufferInfo[]) {}

  private reserve(ctor: ArrayCtor, size: number): number {
    const bytes = size * (ctor === "Float64Array" ? 8 : ctor === "Uint8Array" ? 1 : 4);
    const at = this.next;
    this.next = Math.ceil((at + bytes) / 16) * 16;
    return at;
  }

  /** Byte offset of a buffer, placing it on first use. */
  offset(b: BufferId): number {
    const have = this.offsets.get(b);
    if (have !== undefined) return have;
    const info = this.buffers[b]!;
    const ctor = ctorOf(info.dtype);
    const at = this.reserve(ctor, info.size);
    this.offsets.set(b, at);
    if (info.role !== "param" && info.role !== "state") this.fields.push({ name: info.name, ctor, size: info.size, offset: at, ...(info.fill !== undefined ? { fill: info.fill } : {}) });
    return at;
  }

  /** Scratch memory a kernel needs besides its operands (a field of its own). */
  scratch(name: string, ctor: ArrayCtor, size: number): FieldDecl {
    const f = { name, ctor, size, offset: this.reserve(ctor, size) };
    this.fields.push(f);
    return f;
  }

  /** Whether a buffer has a place (the renderers named it). */
  has(b: BufferId): boolean {
    return this.offsets.has(b);
  }

  get size(): number {
    return this.next;
  }
}
