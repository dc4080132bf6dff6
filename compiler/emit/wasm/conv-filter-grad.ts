// A valid convolution's filter gradient straight from the layer's input and
// the output's cotangent (runtime/cpu/kernels.wat, beside ./gemm.ts):
//
//   transpose_planes(src, dst, n, rows, cols)
//     dst[b, c, r] = src[b, r, c] for n planes rows × cols: the cotangent
//     g [N, K, Ho·Wo] as gt [N, Ho·Wo, K], each pixel's K values adjacent.
//   conv_filter_grad(x, g, gt, dw, tab, N, C, H, W, K, Ho, Wo, P, nb, p0, p1)
//     dw[k, p] = Σ_n Σ_{i,j} gt[n, i·Wo + j, k] · x[n, i·W + j + tab[p]]
//     with gt = g [N, K, Ho·Wo] transposed one block of nb images at a
//     time into the calling thread's scratch gt (nb·Ho·Wo·K floats)
//     for taps p0..p1 of the P = C·kh·kw in the tap table (conv_taps,
//     ./conv-direct.ts): dw [K, C, kh, kw] is the gradient of filters w [K,
//     C, kh, kw] of the valid convolution y = x ⋆ w (compiler/ops/
//     conv2d-filter-grad.ts).
//
// Why: as a convolution of the transposed input by the flipped, transposed
// cotangent (conv2d's gradient written with conv2d) it cost three layout
// copies and an im2col of every 8×8 or 24×24 window (LeNet: 60 ms of a 200 ms
// step for 0.58 GFLOP). A first direct form summed along an output row's
// pixels (vectors of 4 pixels, R filters × S taps of accumulators): LeNet's
// rows are 8 pixels, so its loop ran two steps a row, and 5 taps a tile
// spilled accumulators under V8's allocator (~20 GFLOP/s). This one is
// gemm_nn's 4×8 tile (./gemm.ts) with the taps as rows and the filters as
// columns: per pixel, four taps of x broadcast (their offsets from the pixel
// in four locals) meet 8 adjacent filters of gt, and the reduction runs
// over every pixel of an image block in one loop.
//
// Images go in blocks of `nb`, each block of g transposed into gt (in L2)
// by the thread that uses it: transposing all of g first, once, made
// LeNet's first layer (g: 23 MB) read and write it through memory and then
// read it again on each thread. A block's sums are added to dw (stored for the first block), so each
// element's sequence depends on nb only: the same whichever thread, or
// tile, computes it.
import { add, c32, columnTiles, get, loadPartial, mul, set, whileLoop } from "./wat.ts";

const PARAMS = ["x", "g", "gt", "dw", "tab", "N", "C", "H", "W", "K", "Ho", "Wo", "P", "nb", "p0", "p1"];

/** R taps from $p × Wd filters from $k over the image block's pixels, then
 * added to dw (Wd = 8 or 4 whole vectors, 3–1 the last filters as low lanes). */
function tile(R: number, Wd: 8 | 4 | 3 | 2 | 1): string[] {
  const V = Wd === 8 ? 2 : 1;
  const part = Wd < 4 ? (Wd as 1 | 2 | 3) : undefined;
  const accs = Array.from({ length: R }, (_, r) => Array.from({ length: V }, (_, v) => `c${r}${v}`));
  const step: string[] = [];
  for (let v = 0; v < V; v++) step.push(set(`b${v}`, part ? loadPartial(part, get("pg")) : `(v128.load offset=${16 * v} ${get("pg")})`));
  for (let r = 0; r < R; r++) {
    step.push(set("a0", `(v128.load32_splat ${add(get("px"), get(`t${r}`))})`));
    for (let v = 0; v < V; v++) step.push(set(`c${r}${v}`, `(f32x4.add ${get(`c${r}${v}`)} (f32x4.mul ${get("a0")} ${get(`b${v}`)}))`));
  }
  step.push(set("pg", add(get("pg"), get("K4"))), set("px", add(get("px"), c32(4))));
  // Pixels of the block: rows of Wo, then the next input row, then the next image.
  const rows = [
    set("i", get("Ho")),
    `(loop $rows_${R}${Wd}`,
    `  ${set("j", get("Wo"))}`,
    `  (loop $px_${R}${Wd}`,
    ...step.map((l) => `    ${l}`),
    `    (br_if $px_${R}${Wd} (local.tee $j (i32.sub ${get("j")} (i32.const 1)))))`,
    `  ${set("px", add(get("px"), get("rowSkip")))}`,
    `  (br_if $rows_${R}${Wd} (local.tee $i (i32.sub ${get("i")} (i32.const 1)))))`,
    set("px", add(get("px"), get("imageSkip"))),
  ];
  // dw[k + l, p + r] (+)= lane l of tap r's sums: K rows of P apart.
  const flush: string[] = [];
  accs.forEach((row, r) =>
    row.forEach((acc, v) => {
      for (let l = 0; l < Math.min(4, Wd - 4 * v); l++) {
        const ptr = `(i32.add ${get("pd")} (i32.const ${4 * r}))`;
        const at = v * 4 + l === 0 ? ptr : `(i32.add ${ptr} (i32.mul ${get("P4")} (i32.const ${v * 4 + l})))`;
        flush.push(`(f32.store ${at} (f32.add (select (f32.load ${at}) (f32.const 0) ${get("first")}) (f32x4.extract_lane ${l} ${get(acc)})))`);
      }
    }),
  );
  return [
    ...accs.flat().map((a) => set(a, "(v128.const i32x4 0 0 0 0)")),
    set("px", get("xb")),
    set("pg", add(get("gb"), `(i32.shl ${get("k")} (i32.const 2))`)),
    set("n", get("nbb")),
    `(loop $imgs_${R}${Wd}`,
    ...rows.map((l) => `  ${l}`),
    `  (br_if $imgs_${R}${Wd} (local.tee $n (i32.sub ${get("n")} (i32.const 1)))))`,
    set("pd", add(get("dw"), `(i32.shl ${add(mul(get("k"), get("P")), get("p"))} (i32.const 2))`)),
    ...flush,
    set("k", add(get("k"), c32(Wd))),
  ];
}

/** Taps p..p+R against every filter: 8 at a time, then 4, then the last 1–3. */
function tapRows(R: number): string[] {
  const tapOffsets = Array.from({ length: R }, (_, r) => set(`t${r}`, `(i32.load offset=${4 * r} ${add(get("tab"), `(i32.shl ${get("p")} (i32.const 2))`)})`));
  return [
    ...tapOffsets,
    ...columnTiles(`k${R}_`, "k", get("K"), (w) => tile(R, w)),
    set("p", add(get("p"), c32(R))),
  ];
}

export function convFilterGradWat(): string[] {
  const ilocals = ["n0", "nbb", "n", "i", "j", "k", "p", "first", "xb", "gb", "px", "pg", "pd", "K4", "P4", "rowSkip", "imageSkip", "t0", "t1", "t2", "t3"];
  const vlocals = ["a0", "b0", "b1", ...[0, 1, 2, 3].flatMap((r) => [`c${r}0`, `c${r}1`])];
  const block = [
    set("nbb", `(select ${get("nb")} (i32.sub ${get("N")} ${get("n0")}) (i32.lt_u ${add(get("n0"), get("nb"))} ${get("N")}))`),
    set("first", get("n0")),
    // x[n0, 0, 0, 0]; the block's g [nbb, K, Ho·Wo] transposed into gt
    set("xb", add(get("x"), `(i32.shl ${mul(mul(mul(get("n0"), get("C")), get("H")), get("W"))} (i32.const 2))`)),
    `(call $transpose_planes ${add(get("g"), `(i32.shl ${mul(mul(mul(get("n0"), get("Ho")), get("Wo")), get("K"))} (i32.const 2))`)} ${get("gt")} ${get("nbb")} ${get("K")} ${mul(get("Ho"), get("Wo"))})`,
    set("gb", get("gt")),
    set("p", get("p0")),
    ...whileLoop("p4", `(i32.le_u ${add(get("p"), c32(4))} ${get("p1")})`, tapRows(4)),
    ...whileLoop("p3", `(i32.le_u ${add(get("p"), c32(3))} ${get("p1")})`, tapRows(3)),
    ...whileLoop("p2", `(i32.le_u ${add(get("p"), c32(2))} ${get("p1")})`, tapRows(2)),
    ...whileLoop("p1", `(i32.lt_u ${get("p")} ${get("p1")})`, tapRows(1)),
    set("n0", add(get("n0"), get("nbb"))),
  ];
  return [
    ...transposePlanesWat(),
    `(func $conv_filter_grad (export "conv_filter_grad") ${PARAMS.map((p) => `(param $${p} i32)`).join(" ")}`,
    `  ${ilocals.map((l) => `(local $${l} i32)`).join(" ")}`,
    `  ${vlocals.map((l) => `(local $${l} v128)`).join(" ")}`,
    ...[
      set("K4", `(i32.shl ${get("K")} (i32.const 2))`),
      set("P4", `(i32.shl ${get("P")} (i32.const 2))`),
      set("rowSkip", `(i32.shl (i32.sub ${get("W")} ${get("Wo")}) (i32.const 2))`),
      set("imageSkip", `(i32.shl (i32.sub ${mul(mul(get("C"), get("H")), get("W"))} ${mul(get("Ho"), get("W"))}) (i32.const 2))`),
      set("n0", c32(0)),
      ...whileLoop("blocks", `(i32.lt_u ${get("n0")} ${get("N")})`, block),
    ].map((l) => `  ${l}`),
    `)`,
  ];
}

/** i8x16.shuffle of two vectors by i32 lanes (0–3 the first, 4–7 the second). */
function shuffle32(a: string, b: string, lanes: readonly number[]): string {
  return `(i8x16.shuffle ${lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]).join(" ")} ${a} ${b})`;
}

/** transpose_planes: 4×4 blocks through registers (two rounds of
 * shuffles), the rows and columns past the last whole block one float at a
 * time. LeNet's first filter gradient transposes 5.8 M floats a step: one
 * at a time that was 6.3 ms. */
function transposePlanesWat(): string[] {
  const src = (r: string, c: string) => add(get("s"), `(i32.shl ${add(mul(r, get("cols")), c)} (i32.const 2))`);
  const dst = (c: string, r: string) => add(get("d"), `(i32.shl ${add(mul(c, get("rows")), r)} (i32.const 2))`);
  const scalar = (r: string, c: string) => `(f32.store ${dst(c, r)} (f32.load ${src(r, c)}))`;
  const r = get("r"), c = get("c");
  const block = [
    ...[0, 1, 2, 3].map((i) => set(`v${i}`, `(v128.load ${src(add(r, c32(i)), c)})`)),
    set("t0", shuffle32(get("v0"), get("v1"), [0, 4, 1, 5])),
    set("t1", shuffle32(get("v0"), get("v1"), [2, 6, 3, 7])),
    set("t2", shuffle32(get("v2"), get("v3"), [0, 4, 1, 5])),
    set("t3", shuffle32(get("v2"), get("v3"), [2, 6, 3, 7])),
    `(v128.store ${dst(c, r)} ${shuffle32(get("t0"), get("t2"), [0, 1, 4, 5])})`,
    `(v128.store ${dst(add(c, c32(1)), r)} ${shuffle32(get("t0"), get("t2"), [2, 3, 6, 7])})`,
    `(v128.store ${dst(add(c, c32(2)), r)} ${shuffle32(get("t1"), get("t3"), [0, 1, 4, 5])})`,
    `(v128.store ${dst(add(c, c32(3)), r)} ${shuffle32(get("t1"), get("t3"), [2, 3, 6, 7])})`,
  ];
  const r4 = `(i32.and ${get("rows")} (i32.const -4))`, c4 = `(i32.and ${get("cols")} (i32.const -4))`;
  const plane = [
    // whole 4×4 blocks, then each block row's last columns
    ...forStep("r", r4, 4, [
      ...forStep("c", c4, 4, block),
      ...forFrom("c", c4, get("cols"), [0, 1, 2, 3].map((i) => scalar(add(r, c32(i)), c))),
    ]),
    // the last rows
    ...forFrom("r", r4, get("rows"), forFrom("c", c32(0), get("cols"), [scalar(r, c)])),
    set("s", add(get("s"), `(i32.shl ${mul(get("rows"), get("cols"))} (i32.const 2))`)),
    set("d", add(get("d"), `(i32.shl ${mul(get("rows"), get("cols"))} (i32.const 2))`)),
  ];
  return [
    `(func $transpose_planes (export "transpose_planes") (param $src i32) (param $dst i32) (param $n i32) (param $rows i32) (param $cols i32)`,
    `  (local $b i32) (local $r i32) (local $c i32) (local $s i32) (local $d i32)`,
    `  (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)`,
    ...[set("s", get("src")), set("d", get("dst")), ...forFrom("b", c32(0), get("n"), plane)].map((l) => `  ${l}`),
    `)`,
  ];
}

/** for (x = from; x < end; x++) */
function forFrom(x: string, from: string, end: string, body: readonly string[]): string[] {
  return [set(x, from), ...whileLoop(`${x}_from`, `(i32.lt_u ${get(x)} ${end})`, [...body, set(x, add(get(x), c32(1)))])];
}

/** for (x = 0; x < end; x += step) */
function forStep(x: string, end: string, step: number, body: readonly string[]): string[] {
  return [set(x, c32(0)), ...whileLoop(`${x}_step`, `(i32.lt_u ${get(x)} ${end})`, [...body, set(x, add(get(x), c32(step)))])];
}
