// A valid convolution computed straight from its input, with no im2col copy
// (runtime/cpu/kernels.wat, beside the matrix kernels of ./gemm.ts):
//
//   conv_taps(tab, C, H, W, kh, kw)
//     tab[p] for p = (c, u, v) = the byte offset of input tap
//     (c, kh−1−u, kw−1−v) from an output position's top-left input pixel:
//     the row of im2col's matrix (./im2col.ts) that p names, as an address.
//   conv_valid(x, w, y, tab, C, H, W, K, Ho, Wo, P, pblock, n0, n1)
//     y[n, k, i, j] = Σ_p w[k, p] · x[n, i·W + j + tab[p]] for images n0..n1,
//     P = C·kh·kw taps, filters w [K, P] as stored (unflipped: the taps
//     carry the flip).
//
// Why: im2col wrote C·kh·kw floats for every output pixel (LeNet's second
// layer: 500 per pixel, 1 MB a block of 8 images) for the product to read
// back; here an output row's 8 adjacent pixels read 8 adjacent input
// floats per tap, so the product's B operand is the input itself, in L1.
//
// Bitwise the im2col + gemm_nn path's floats: a 4×8 tile of outputs (4
// filters, 8 pixels of an output row) sums its taps from zero in blocks of
// at most KC = 256 within channel blocks of `pblock` taps (the im2col path's
// channel block cb·kh·kw), and adds each block's sum to the output (zero
// before the first block), the sequence gemm_nn runs per element of C with
// α = 1 (0 + s, then C + s).
import { add, c32, columnTiles, forLoop, get, loadPartial, mul, set, storePartial, whileLoop } from "./wat.ts";

const KC = 256;

const PARAMS = ["x", "w", "y", "tab", "C", "H", "W", "K", "Ho", "Wo", "P", "pblock", "n0", "n1"];
const TAP_PARAMS = ["tab", "C", "H", "W", "kh", "kw"];

/** One tile: R filters from $k × Wd output pixels from $j of output row $i
 * (Wd = 8 or 4 whole vectors, 3–1 the row's last pixels as low lanes). */
function tile(R: number, Wd: 8 | 4 | 3 | 2 | 1): string[] {
  const V = Wd === 8 ? 2 : 1;
  const part = Wd < 4 ? (Wd as 1 | 2 | 3) : undefined;
  const accs = Array.from({ length: R }, (_, r) => Array.from({ length: V }, (_, v) => `c${r}${v}`));
  const rowOf = (base: string, r: number, stride: string) => (r === 0 ? get(base) : add(get(base), get(`${stride}${r}`)));
  const step: string[] = [set("pb", add(get("base"), `(i32.load ${get("pt")})`))];
  for (let v = 0; v < V; v++) step.push(set(`b${v}`, part ? loadPartial(part, get("pb")) : `(v128.load offset=${16 * v} ${get("pb")})`));
  for (let r = 0; r < R; r++) {
    step.push(set("a0", `(v128.load32_splat ${rowOf("pa", r, "lda")})`));
    for (let v = 0; v < V; v++) step.push(set(`c${r}${v}`, `(f32x4.add ${get(`c${r}${v}`)} (f32x4.mul ${get("a0")} ${get(`b${v}`)}))`));
  }
  step.push(set("pt", add(get("pt"), c32(4))), set("pa", add(get("pa"), c32(4))));
  // The output before this block's sum: zero for the first block.
  const old = (ptr: string, v: number) =>
    `(select ${part ? loadPartial(part, ptr) : `(v128.load offset=${16 * v} ${ptr})`} (v128.const i32x4 0 0 0 0) ${get("p0")})`;
  const flush: string[] = [];
  accs.forEach((row, r) =>
    row.forEach((acc, v) => {
      const ptr = rowOf("pc", r, "ldc");
      const sum = `(f32x4.add ${old(ptr, v)} ${get(acc)})`;
      if (part) flush.push(...storePartial(part, ptr, sum, "a0"));
      else flush.push(`(v128.store offset=${16 * v} ${ptr} ${sum})`);
    }),
  );
  const block = [
    set("pe", `(select ${add(get("p0"), c32(KC))} ${get("cbEnd")} (i32.lt_u ${add(get("p0"), c32(KC))} ${get("cbEnd")}))`),
    ...accs.flat().map((a) => set(a, "(v128.const i32x4 0 0 0 0)")),
    set("pa", add(get("wk"), `(i32.shl ${get("p0")} (i32.const 2))`)),
    set("pt", add(get("tab"), `(i32.shl ${get("p0")} (i32.const 2))`)),
    set("p", `(i32.sub ${get("pe")} ${get("p0")})`),
    `(loop $taps`,
    ...step.map((l) => `  ${l}`),
    `  (br_if $taps (local.tee $p (i32.sub ${get("p")} (i32.const 1)))))`,
    ...flush,
    set("p0", get("pe")),
  ];
  const channelBlock = [
    set("cbEnd", `(select ${add(get("p0"), get("pblock"))} ${get("P")} (i32.lt_u ${add(get("p0"), get("pblock"))} ${get("P")}))`),
    ...whileLoop(`kc_${R}_${Wd}`, `(i32.lt_u ${get("p0")} ${get("cbEnd")})`, block),
  ];
  return [
    set("base", add(get("xrow"), `(i32.shl ${get("j")} (i32.const 2))`)),
    set("pc", add(get("yrow"), `(i32.shl ${add(mul(get("k"), get("plane")), get("j"))} (i32.const 2))`)),
    set("wk", add(get("w"), mul(get("k"), get("lda1")))),
    set("p0", c32(0)),
    ...whileLoop(`cb_${R}_${Wd}`, `(i32.lt_u ${get("p0")} ${get("P")})`, channelBlock),
    set("j", add(get("j"), c32(Wd))),
  ];
}

/** Filters k..k+R across output row $i: 8-pixel tiles, then 4, then the last 1–3. */
function filterRows(R: number): string[] {
  return [...columnTiles(`j${R}_`, "j", get("Wo"), (w) => tile(R, w)), set("k", add(get("k"), c32(R)))];
}

export function convDirectWat(): string[] {
  const ilocals = ["n", "i", "k", "j", "p", "p0", "pe", "cbEnd", "xrow", "yrow", "plane", "base", "pb", "pa", "pt", "pc", "wk", "lda1", "lda2", "lda3", "ldc1", "ldc2", "ldc3"];
  const vlocals = ["a0", "b0", "b1", ...[0, 1, 2, 3].flatMap((r) => [`c${r}0`, `c${r}1`])];
  const imageBytes = `(i32.shl ${mul(mul(get("C"), get("H")), get("W"))} (i32.const 2))`;
  const outBytes = `(i32.shl ${mul(get("K"), get("plane"))} (i32.const 2))`;
  const rows = [
    set("xrow", add(add(get("x"), mul(get("n"), imageBytes)), `(i32.shl ${mul(get("i"), get("W"))} (i32.const 2))`)),
    set("yrow", add(add(get("y"), mul(get("n"), outBytes)), `(i32.shl ${mul(get("i"), get("Wo"))} (i32.const 2))`)),
    set("k", c32(0)),
    ...whileLoop("k4", `(i32.le_u ${add(get("k"), c32(4))} ${get("K")})`, filterRows(4)),
    ...whileLoop("k3", `(i32.le_u ${add(get("k"), c32(3))} ${get("K")})`, filterRows(3)),
    ...whileLoop("k2", `(i32.le_u ${add(get("k"), c32(2))} ${get("K")})`, filterRows(2)),
    ...whileLoop("k1", `(i32.lt_u ${get("k")} ${get("K")})`, filterRows(1)),
    set("i", add(get("i"), c32(1))),
  ];
  const images = [set("i", c32(0)), ...whileLoop("rows", `(i32.lt_u ${get("i")} ${get("Ho")})`, rows), set("n", add(get("n"), c32(1)))];
  const body = [
    set("plane", mul(get("Ho"), get("Wo"))),
    set("lda1", `(i32.shl ${get("P")} (i32.const 2))`),
    set("lda2", `(i32.shl ${get("lda1")} (i32.const 1))`),
    set("lda3", add(get("lda2"), get("lda1"))),
    set("ldc1", `(i32.shl ${get("plane")} (i32.const 2))`),
    set("ldc2", `(i32.shl ${get("ldc1")} (i32.const 1))`),
    set("ldc3", add(get("ldc2"), get("ldc1"))),
    set("n", get("n0")),
    ...whileLoop("images", `(i32.lt_u ${get("n")} ${get("n1")})`, images),
  ];
  // tab[(c·kh + u)·kw + v] = ((c·H + kh−1−u)·W + kw−1−v)·4
  const taps = [
    set("p", c32(0)),
    ...forLoop("c", get("C"), [
      ...forLoop("u", get("kh"), [
        ...forLoop("v", get("kw"), [
          `(i32.store ${add(get("tab"), `(i32.shl ${get("p")} (i32.const 2))`)} (i32.shl ${add(mul(add(mul(get("c"), get("H")), `(i32.sub ${get("kh")} ${add(get("u"), c32(1))})`), get("W")), `(i32.sub ${get("kw")} ${add(get("v"), c32(1))})`)} (i32.const 2)))`,
          set("p", add(get("p"), c32(1))),
        ]),
      ]),
    ]),
  ];
  return [
    `(func $conv_taps (export "conv_taps") ${TAP_PARAMS.map((p) => `(param $${p} i32)`).join(" ")}`,
    `  (local $c i32) (local $u i32) (local $v i32) (local $p i32)`,
    ...taps.map((l) => `  ${l}`),
    `)`,
    `(func $conv_valid (export "conv_valid") ${PARAMS.map((p) => `(param $${p} i32)`).join(" ")}`,
    `  ${ilocals.map((l) => `(local $${l} i32)`).join(" ")}`,
    `  ${vlocals.map((l) => `(local $${l} v128)`).join(" ")}`,
    ...body.map((l) => `  ${l}`),
    `)`,
  ];
}
