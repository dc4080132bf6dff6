// A model's fused elementwise loops and fused sums as WebAssembly SIMD
// functions (one per loop, no parameters: every address and extent is a
// constant). The TypeScript emitter hands over the fused expression as a
// tree whose leaves are constants and buffer reads with per-axis strides (0
// where a broadcast repeats the operand); this file lays the loop out:
//
// - Axes are coalesced where every operand's strides allow (a bias broadcast
//   over a [batch, 20, 12, 12] map becomes rows of 2,880 with the bias
//   contiguous along them), leaving rows × an inner extent L.
// - The inner loop runs 4 floats at a time; operands constant along it are
//   loaded once per row and splatted. The last L mod 4 elements run the same
//   vector expression on splatted scalars and keep lane 0 (no scalar copy of
//   the transcendental helpers needed).
// - Sums accumulate in f64 (two f64x2 halves of each f32x4), as the
//   TypeScript loops do in JS doubles, and store the f32 rounding.
import { shortestF32 } from "../../ir/f32.ts";
import { commentText } from "../comments.ts";
import type { WasmEmitter } from "../../ops/op.ts";
import { inlineMathCalls } from "./inline-math.ts";

export type WasmTree =
  | { readonly kind: "op"; readonly emit: WasmEmitter; readonly args: readonly WasmTree[] }
  | { readonly kind: "const"; readonly value: number }
  /** A read of an f32 buffer at byte address `addr`; `strides[k]` is its
   * stride in elements along output axis k (0: repeated). */
  | { readonly kind: "load"; readonly addr: number; readonly strides: readonly number[] };

const get = (x: string) => `(local.get $${x})`;
const c32 = (v: number) => `(i32.const ${v})`;

function contiguous(shape: readonly number[]): number[] {
  const st = new Array<number>(shape.length).fill(1);
  for (let k = shape.length - 2; k >= 0; k--) st[k] = st[k + 1]! * shape[k + 1]!;
  return st;
}

function f32Const(v: number): string {
  const t = Number.isNaN(v) ? "nan" : v === Infinity ? "inf" : v === -Infinity ? "-inf" : Object.is(v, -0) ? "-0" : shortestF32(v);
  return `(v128.const f32x4 ${t} ${t} ${t} ${t})`;
}

function loadsOf(t: WasmTree, out: { addr: number; strides: readonly number[] }[] = []): { addr: number; strides: readonly number[] }[] {
  if (t.kind === "load") out.push(t);
  if (t.kind === "op") t.args.forEach((a) => loadsOf(a, out));
  return out;
}

/** Merges adjacent axes wherever every stride vector allows; drops size-1 axes. */
function coalesce(shape: readonly number[], strides: readonly (readonly number[])[]): { dims: number[]; strides: number[][] } {
  const keep = shape.map((d, k) => (d === 1 ? -1 : k)).filter((k) => k >= 0);
  let dims = keep.map((k) => shape[k]!);
  let st = strides.map((s) => keep.map((k) => s[k]!));
  for (let k = dims.length - 2; k >= 0; k--) {
    if (st.every((s) => s[k] === s[k + 1]! * dims[k + 1]!)) {
      dims = [...dims.slice(0, k), dims[k]! * dims[k + 1]!, ...dims.slice(k + 2)];
      st = st.map((s) => [...s.slice(0, k), s[k + 1]!, ...s.slice(k + 2)]);
    }
  }
  if (dims.length === 0) return { dims: [1], strides: st.map(() => [0]) };
  return { dims, strides: st };
}

export class WasmLoops {
  private readonly funcs: string[] = [];

  get size(): number {
    return this.funcs.length;
  }

  /** `out` (contiguous, `shape`) = tree, elementwise. False when the layout
   * does not fit (an operand strided along the inner axis). */
  elementwise(name: string, comment: string, tree: WasmTree, outAddr: number, shape: readonly number[]): boolean {
    const loads = loadsOf(tree);
    const { dims, strides } = coalesce(shape, [contiguous(shape), ...loads.map((l) => l.strides)]);
    const inner = dims.length - 1;
    if (strides.some((s) => s[inner] !== 0 && s[inner] !== 1)) return false;
    const L = dims[inner]!;
    const rows = dims.slice(0, inner).reduce((a, b) => a * b, 1);
    const opStrides = strides.slice(1);
    const vec = new Map<number, "vector" | "splat">(loads.map((l, k) => [k, opStrides[k]![inner] === 1 ? "vector" : "splat"]));
    const locals = ["row", "j", "bo", ...loads.map((_, k) => `b${k}`)];
    const vlocals = loads.map((_, k) => `s${k}`).filter((_, k) => vec.get(k) === "splat");
    const rowAddr = (k: number) => `(i32.add ${c32(loads[k]!.addr)} ${this.rowOffset(dims, opStrides[k]!)})`;
    const [vexpr, sexpr] = this.bodies(tree, (k) => vec.get(k) === "splat");
    this.push(
      `;; ${commentText(comment)}`,
      `(func $${name} (export "${name}") ${locals.map((l) => `(local $${l} i32)`).join(" ")}${vlocals.map((l) => ` (local $${l} v128)`).join("")}`,
      `  (local.set $row (i32.const 0))`,
      `  (loop $rows`,
      `    (local.set $bo (i32.add ${c32(outAddr)} (i32.mul ${get("row")} ${c32(L * 4)})))`,
      ...loads.map((_, k) => `    (local.set $b${k} ${rowAddr(k)})`),
      ...loads.flatMap((_, k) => (vec.get(k) === "splat" ? [`    (local.set $s${k} (f32x4.splat (f32.load ${get(`b${k}`)})))`] : [])),
      `    (local.set $j (i32.const 0))`,
      `    (block $vend (loop $v`,
      `      (br_if $vend (i32.gt_u (i32.add ${get("j")} (i32.const 16)) ${c32(L * 4)}))`,
      `      (v128.store (i32.add ${get("bo")} ${get("j")}) ${vexpr})`,
      `      (local.set $j (i32.add ${get("j")} (i32.const 16)))`,
      `      (br $v)))`,
      `    (block $send (loop $s`,
      `      (br_if $send (i32.ge_u ${get("j")} ${c32(L * 4)}))`,
      `      (f32.store (i32.add ${get("bo")} ${get("j")}) (f32x4.extract_lane 0 ${sexpr}))`,
      `      (local.set $j (i32.add ${get("j")} (i32.const 4)))`,
      `      (br $s)))`,
      `    (br_if $rows (i32.lt_u (local.tee $row (i32.add ${get("row")} (i32.const 1))) ${c32(rows)}))`,
      `  )`,
      `)`,
    );
    return true;
  }

  /** out[row] = Σ_j tree[row, j] over the trailing `reduced` elements of each
   * of `rows` rows. Each operand is contiguous across the reduced block (read
   * as vectors) or constant across it (a per-row value, splatted once a
   * row), with any strides over the kept axes (a bias broadcast over the
   * rows: the RBM's Σ softplus(x·W + hbias)). False otherwise. */
  sum(name: string, comment: string, tree: WasmTree, outAddr: number, srcShape: readonly number[], kept: number): boolean {
    const loads = loadsOf(tree);
    const keptDims = srcShape.slice(0, kept), red = srcShape.slice(kept);
    const redCs = contiguous(red);
    const kinds = loads.map((l) => {
      const rs = l.strides.slice(kept);
      if (rs.every((st, k) => red[k] === 1 || st === redCs[k])) return "vector" as const;
      if (rs.every((st, k) => red[k] === 1 || st === 0)) return "splat" as const;
      return undefined;
    });
    if (kinds.some((k) => k === undefined)) return false;
    const rows = keptDims.reduce((a, b) => a * b, 1);
    const L = red.reduce((a, b) => a * b, 1);
    // A row's base: row·stride where the kept axes step linearly, else the
    // coordinates unravelled (rowOffset).
    const rowAddr = (k: number): string => {
      const ks = loads[k]!.strides.slice(0, kept);
      const axes = keptDims.map((d, a) => ({ d, st: ks[a]! })).filter((x) => x.d > 1);
      const linear = axes.every((x, a) => a === axes.length - 1 || x.st === axes[a + 1]!.st * axes[a + 1]!.d);
      const last = axes[axes.length - 1];
      if (!last || (linear && last.st === 0)) return c32(loads[k]!.addr);
      const off = linear ? `(i32.mul ${get("row")} ${c32(last.st * 4)})` : this.rowOffset([...keptDims, L], [...ks, 1]);
      return `(i32.add ${c32(loads[k]!.addr)} ${off})`;
    };
    const splatted = (k: number) => kinds[k] === "splat";
    const vlocals = loads.map((_, k) => `s${k}`).filter((_, k) => splatted(k));
    const [vexpr, sexpr] = this.bodies(tree, splatted);
    const high = "(i8x16.shuffle 8 9 10 11 12 13 14 15 8 9 10 11 12 13 14 15 (local.get $v) (local.get $v))";
    this.push(
      `;; ${commentText(comment)}`,
      `(func $${name} (export "${name}") (local $row i32) (local $j i32)${loads.map((_, k) => ` (local $b${k} i32)`).join("")} (local $v v128) (local $a0 v128) (local $a1 v128) (local $s f64)${vlocals.map((l) => ` (local $${l} v128)`).join("")}`,
      `  (local.set $row (i32.const 0))`,
      `  (loop $rows`,
      ...loads.map((_, k) => `    (local.set $b${k} ${rowAddr(k)})`),
      ...loads.flatMap((_, k) => (splatted(k) ? [`    (local.set $s${k} (f32x4.splat (f32.load ${get(`b${k}`)})))`] : [])),
      `    (local.set $a0 (v128.const i32x4 0 0 0 0))`,
      `    (local.set $a1 (v128.const i32x4 0 0 0 0))`,
      `    (local.set $j (i32.const 0))`,
      `    (block $vend (loop $v`,
      `      (br_if $vend (i32.gt_u (i32.add ${get("j")} (i32.const 16)) ${c32(L * 4)}))`,
      `      (local.set $v ${vexpr})`,
      `      (local.set $a0 (f64x2.add ${get("a0")} (f64x2.promote_low_f32x4 ${get("v")})))`,
      `      (local.set $a1 (f64x2.add ${get("a1")} (f64x2.promote_low_f32x4 ${high})))`,
      `      (local.set $j (i32.add ${get("j")} (i32.const 16)))`,
      `      (br $v)))`,
      `    (local.set $a0 (f64x2.add ${get("a0")} ${get("a1")}))`,
      `    (local.set $s (f64.add (f64x2.extract_lane 0 ${get("a0")}) (f64x2.extract_lane 1 ${get("a0")})))`,
      `    (block $send (loop $s`,
      `      (br_if $send (i32.ge_u ${get("j")} ${c32(L * 4)}))`,
      `      (local.set $s (f64.add ${get("s")} (f64.promote_f32 (f32x4.extract_lane 0 ${sexpr}))))`,
      `      (local.set $j (i32.add ${get("j")} (i32.const 4)))`,
      `      (br $s)))`,
      `    (f32.store (i32.add ${c32(outAddr)} (i32.shl ${get("row")} (i32.const 2))) (f32.demote_f64 ${get("s")}))`,
      `    (br_if $rows (i32.lt_u (local.tee $row (i32.add ${get("row")} (i32.const 1))) ${c32(rows)}))`,
      `  )`,
      `)`,
    );
    return true;
  }

  /** The tree as a vector expression (4 floats at byte offset $j of each
   * operand's row, $b<k>) and as the same expression on splatted scalars (the
   * row's tail); operands that `splatted(k)` are read from their $s<k> local. */
  private bodies(tree: WasmTree, splatted: (k: number) => boolean): [string, string] {
    let next = 0;
    const expr = (t: WasmTree, scalar: boolean): string => {
      if (t.kind === "const") return f32Const(t.value);
      if (t.kind === "load") {
        const k = next++;
        if (splatted(k)) return get(`s${k}`);
        const at = `(i32.add ${get(`b${k}`)} ${get("j")})`;
        return scalar ? `(f32x4.splat (f32.load ${at}))` : `(v128.load ${at})`;
      }
      return t.emit.expr(t.args.map((a) => expr(a, scalar)));
    };
    const v = expr(tree, false);
    next = 0;
    return [v, expr(tree, true)];
  }

  /** A function's lines (a comment, the header, the body), the math
   * helpers' calls inlined (./inline-math.ts) and their variables declared
   * in the header. */
  private push(...lines: string[]): void {
    let n = 0;
    const locals: string[] = [];
    const body = lines.slice(2).flatMap((l) => inlineMathCalls(l, () => `m${n++}`, locals, /^ */.exec(l)![0]).split("\n"));
    this.funcs.push(lines[0]!, `${lines[1]!}${locals.map((l) => ` (local $${l} v128)`).join("")}`, ...body);
  }

  /** Byte offset of an operand's row `row` (a local) from its outer strides. */
  private rowOffset(dims: readonly number[], strides: readonly number[]): string {
    const inner = dims.length - 1;
    const terms: string[] = [];
    let period = 1;
    for (let a = inner - 1; a >= 0; a--) {
      const st = strides[a]!;
      if (st !== 0) {
        let idx = period === 1 ? get("row") : `(i32.div_u ${get("row")} ${c32(period)})`;
        if (a > 0) idx = `(i32.rem_u ${idx} ${c32(dims[a]!)})`;
        terms.push(`(i32.mul ${idx} ${c32(st * 4)})`);
      }
      period *= dims[a]!;
    }
    if (terms.length === 0) return c32(0);
    return terms.reduce((acc, t) => `(i32.add ${acc} ${t})`);
  }

  /** The whole module; `shared`: the memory import is a shared memory. */
  module(header: string, shared: boolean): string {
    return [
      ...header.split("\n").filter((l) => l).map((l) => `;; ${l.replace(/^\/\/ ?/, "")}`),
      "(module",
      `  (import "env" "memory" (memory 1${shared ? " 65536 shared" : ""}))`,
      ...this.funcs.map((l) => `  ${l}`),
      ")",
      "",
    ].join("\n");
  }
}
