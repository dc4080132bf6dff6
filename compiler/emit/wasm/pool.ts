// Max-pooling and its gradient as WebAssembly, in the runtime's kernel module
// (runtime/cpu/kernels.wat). In TypeScript these were ~15 % of a LeNet step
// (window loops of 2×2 with index arithmetic per element).
//
//   max_pool2d(x, y, P, H, W, ph, pw, Ho, Wo)
//     y[p, i, j] = max of the ph×pw window of plane p of x at (i·ph, j·pw),
//     for P = N·C planes of H×W (NCHW), Ho×Wo outputs a plane.
//   max_pool2d_grad(x, g, out, P, H, W, ph, pw, Ho, Wo)
//     out = 0, then each window's g at the position of its maximum.
// Addresses are bytes; sizes are elements.
//
// Semantics are the ops' (compiler/ops/max_pool2d*.ts), bit for bit: the
// running maximum starts at the window's first element and takes v when
// v > m or v is NaN (so a NaN sticks), scanning in row-major order; the
// gradient takes the first strict maximum (NaN never wins there). The 2×2
// forward path does the same four steps on four windows at once: the even
// and odd columns of two rows, split with shuffles, and `bitselect` on
// (v > m) | (v ≠ v) — not f32x4.max, which would order −0 below +0 where the
// scalar rule keeps the first.

import { get, set, add, mul, c32, bytes, forLoop } from "./wat.ts";

/** m ← v where v > m or v is NaN (scalar f32 locals). */
const takeScalar = (m: string, v: string) => set(m, `(select ${get(v)} ${get(m)} (i32.or (f32.gt ${get(v)} ${get(m)}) (f32.ne ${get(v)} ${get(v)})))`);
/** The same on four lanes. */
const takeVector = (m: string, v: string) =>
  set(m, `(v128.bitselect ${get(v)} ${get(m)} (v128.or (f32x4.gt ${get(v)} ${get(m)}) (f32x4.ne ${get(v)} ${get(v)})))`);

/** Element index of window (p, i, j)'s first element: (p·H + i·ph)·W + j·pw. */
const windowStart = add(mul(add(mul(get("p"), get("H")), mul(get("i"), get("ph"))), get("W")), mul(get("j"), get("pw")));

// Lanes 0, 2, 4, 6 and 1, 3, 5, 7 of two f32x4 vectors, as byte shuffles.
const EVENS = "0 1 2 3 8 9 10 11 16 17 18 19 24 25 26 27";
const ODDS = "4 5 6 7 12 13 14 15 20 21 22 23 28 29 30 31";
// Interleaving evens e and odds o back: e0 o0 e1 o1 and e2 o2 e3 o3.
const LO = "0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23";
const HI = "8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31";

export function maxPoolWat(): string[] {
  const params = ["x", "y", "P", "H", "W", "ph", "pw", "Ho", "Wo"].map((p) => `(param $${p} i32)`).join(" ");
  const locals = [
    ...["p", "i", "j", "a", "c", "base", "r0", "r1", "o"].map((l) => `(local $${l} i32)`),
    ...["m", "v"].map((l) => `(local $${l} f32)`),
    ...["u0", "u1", "w0", "w1", "vm", "va", "vb", "vc"].map((l) => `(local $${l} v128)`),
  ].join(" ");
  // Scalar windows from column j on (any ph, pw).
  const scalarFrom = (from: string) =>
    forLoop("j", get("Wo"), [
      set("base", windowStart),
      set("m", `(f32.load ${add(get("x"), bytes(get("base")))})`),
      ...forLoop("a", get("ph"), forLoop("c", get("pw"), [
        set("v", `(f32.load ${add(get("x"), bytes(add(add(get("base"), mul(get("a"), get("W"))), get("c"))))})`),
        takeScalar("m", "v"),
      ])),
      `(f32.store ${add(get("y"), bytes(add(get("o"), get("j"))))} ${get("m")})`,
    ], from);
  // 2×2: four windows a step from rows r0, r1 (byte addresses of the row pair).
  const two = [
    set("r0", add(get("x"), bytes(mul(add(mul(get("p"), get("H")), mul(get("i"), c32(2))), get("W"))))),
    set("r1", add(get("r0"), bytes(get("W")))),
    set("j", c32(0)),
    `(block $v_end (loop $v_loop`,
    `  (br_if $v_end (i32.gt_u ${add(get("j"), c32(4))} ${get("Wo")}))`,
    `  ${set("u0", `(v128.load ${add(get("r0"), `(i32.shl ${get("j")} (i32.const 3))`)})`)}`,
    `  ${set("u1", `(v128.load offset=16 ${add(get("r0"), `(i32.shl ${get("j")} (i32.const 3))`)})`)}`,
    `  ${set("w0", `(v128.load ${add(get("r1"), `(i32.shl ${get("j")} (i32.const 3))`)})`)}`,
    `  ${set("w1", `(v128.load offset=16 ${add(get("r1"), `(i32.shl ${get("j")} (i32.const 3))`)})`)}`,
    `  ${set("vm", `(i8x16.shuffle ${EVENS} ${get("u0")} ${get("u1")})`)}`,
    `  ${set("va", `(i8x16.shuffle ${ODDS} ${get("u0")} ${get("u1")})`)}`,
    `  ${set("vb", `(i8x16.shuffle ${EVENS} ${get("w0")} ${get("w1")})`)}`,
    `  ${set("vc", `(i8x16.shuffle ${ODDS} ${get("w0")} ${get("w1")})`)}`,
    `  ${takeVector("vm", "va")}`,
    `  ${takeVector("vm", "vb")}`,
    `  ${takeVector("vm", "vc")}`,
    `  (v128.store ${add(get("y"), bytes(add(get("o"), get("j"))))} ${get("vm")})`,
    `  ${set("j", add(get("j"), c32(4)))}`,
    `  (br $v_loop)))`,
  ];
  const row = [
    set("o", mul(add(mul(get("p"), get("Ho")), get("i")), get("Wo"))),
    `(if (i32.and (i32.eq ${get("ph")} ${c32(2)}) (i32.eq ${get("pw")} ${c32(2)}))`,
    `  (then ${[...two, ...scalarFrom(get("j"))].join(" ")})`,
    `  (else ${scalarFrom(c32(0)).join(" ")}))`,
  ];
  const body = forLoop("p", get("P"), forLoop("i", get("Ho"), row));
  return [`(func $max_pool2d (export "max_pool2d") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}

export function maxPoolGradWat(): string[] {
  const params = ["x", "g", "out", "P", "H", "W", "ph", "pw", "Ho", "Wo"].map((p) => `(param $${p} i32)`).join(" ");
  const locals = [
    ...["p", "i", "j", "a", "c", "base", "k", "at", "o", "r0", "r1", "q0", "q1", "gt"].map((l) => `(local $${l} i32)`),
    ...["m", "v"].map((l) => `(local $${l} f32)`),
    ...["u0", "u1", "w0", "w1", "vm", "va", "vb", "vc", "idx", "mk", "gv"].map((l) => `(local $${l} v128)`),
  ].join(" ");
  // Scalar windows from column j on; branch-free (a mispredicted compare per
  // element cost more than the rest of the loop).
  const scalarFrom = (from: string) =>
    forLoop("j", get("Wo"), [
      set("o", add(mul(add(mul(get("p"), get("Ho")), get("i")), get("Wo")), get("j"))),
      set("base", windowStart),
      set("at", get("base")),
      set("m", `(f32.load ${add(get("x"), bytes(get("base")))})`),
      ...forLoop("a", get("ph"), forLoop("c", get("pw"), [
        set("k", add(add(get("base"), mul(get("a"), get("W"))), get("c"))),
        set("v", `(f32.load ${add(get("x"), bytes(get("k")))})`),
        set("gt", `(f32.gt ${get("v")} ${get("m")})`),
        set("m", `(select ${get("v")} ${get("m")} ${get("gt")})`),
        set("at", `(select ${get("k")} ${get("at")} ${get("gt")})`),
      ])),
      `(f32.store ${add(get("out"), bytes(get("at")))} (f32.load ${add(get("g"), bytes(get("o")))}))`,
    ], from);
  // 2×2, four windows a step: the window's first strict maximum as a lane
  // index 0–3 (r0 even, r0 odd, r1 even, r1 odd), then g or 0 at each of the
  // four positions, interleaved back into the two rows.
  const lane = (n: number) => `(v128.const i32x4 ${n} ${n} ${n} ${n})`;
  const step = (v: string, n: number) => [
    set("mk", `(f32x4.gt ${get(v)} ${get("vm")})`),
    set("vm", `(v128.bitselect ${get(v)} ${get("vm")} ${get("mk")})`),
    set("idx", `(v128.bitselect ${lane(n)} ${get("idx")} ${get("mk")})`),
  ];
  const pick = (n: number) => `(v128.and ${get("gv")} (i32x4.eq ${get("idx")} ${lane(n)}))`;
  const at8 = (r: string) => add(get(r), `(i32.shl ${get("j")} (i32.const 3))`);
  const two = [
    set("r0", bytes(mul(add(mul(get("p"), get("H")), mul(get("i"), c32(2))), get("W")))),
    set("r1", add(get("r0"), bytes(get("W")))),
    set("q0", add(get("out"), get("r0"))),
    set("q1", add(get("out"), get("r1"))),
    set("r0", add(get("x"), get("r0"))),
    set("r1", add(get("x"), get("r1"))),
    set("o", mul(add(mul(get("p"), get("Ho")), get("i")), get("Wo"))),
    set("j", c32(0)),
    `(block $v_end (loop $v_loop`,
    `  (br_if $v_end (i32.gt_u ${add(get("j"), c32(4))} ${get("Wo")}))`,
    ...[
      set("u0", `(v128.load ${at8("r0")})`),
      set("u1", `(v128.load offset=16 ${at8("r0")})`),
      set("w0", `(v128.load ${at8("r1")})`),
      set("w1", `(v128.load offset=16 ${at8("r1")})`),
      set("vm", `(i8x16.shuffle ${EVENS} ${get("u0")} ${get("u1")})`),
      set("va", `(i8x16.shuffle ${ODDS} ${get("u0")} ${get("u1")})`),
      set("vb", `(i8x16.shuffle ${EVENS} ${get("w0")} ${get("w1")})`),
      set("vc", `(i8x16.shuffle ${ODDS} ${get("w0")} ${get("w1")})`),
      set("idx", lane(0)),
      ...step("va", 1),
      ...step("vb", 2),
      ...step("vc", 3),
      set("gv", `(v128.load ${add(get("g"), bytes(add(get("o"), get("j"))))})`),
      // evens e0..e3 and odds o0..o3 back to e0 o0 e1 o1 | e2 o2 e3 o3.
      set("u0", pick(0)),
      set("u1", pick(1)),
      `(v128.store ${at8("q0")} (i8x16.shuffle ${LO} ${get("u0")} ${get("u1")}))`,
      `(v128.store offset=16 ${at8("q0")} (i8x16.shuffle ${HI} ${get("u0")} ${get("u1")}))`,
      set("u0", pick(2)),
      set("u1", pick(3)),
      `(v128.store ${at8("q1")} (i8x16.shuffle ${LO} ${get("u0")} ${get("u1")}))`,
      `(v128.store offset=16 ${at8("q1")} (i8x16.shuffle ${HI} ${get("u0")} ${get("u1")}))`,
      set("j", add(get("j"), c32(4))),
    ].map((l) => `  ${l}`),
    `  (br $v_loop)))`,
  ];
  const row = [
    `(if (i32.and (i32.eq ${get("ph")} ${c32(2)}) (i32.eq ${get("pw")} ${c32(2)}))`,
    `  (then ${[...two, ...scalarFrom(get("j"))].join(" ")})`,
    `  (else ${scalarFrom(c32(0)).join(" ")}))`,
  ];
  const body = [
    // Zero first: positions no window selects (and rows and columns no
    // window covers) get 0; the vector path rewrites its own anyway.
    `(memory.fill ${get("out")} (i32.const 0) ${bytes(mul(mul(get("P"), get("H")), get("W")))})`,
    ...forLoop("p", get("P"), forLoop("i", get("Ho"), row)),
  ];
  return [`(func $max_pool2d_grad (export "max_pool2d_grad") ${params}`, `  ${locals}`, ...body.map((l) => `  ${l}`), `)`];
}
