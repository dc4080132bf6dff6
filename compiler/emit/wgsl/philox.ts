// Philox4x32-10 in WGSL: the same generator as runtime/rng/philox.ts, so a
// kernel draws, for the same (seed, salt, step, iter, index), the same value
// the TypeScript trainer and the reference evaluator draw.
//
// Layout (identical to runtime/rng/philox.ts):
//   counter = (block, salt, step, iter), key = (seed, 0x9E3779B9 ^ hi(seed));
//   uniform: block = i >> 2, lane i & 3, value (x >> 8) * 2^-24;
//   normal:  block = i >> 1, lanes 0 and 1 → Box-Muller; even i cosine, odd i sine.
// Seeds are u32 here (the spec's schema caps them at 2^32 - 1), so hi(seed) = 0
// and the second key word is the constant 0x9E3779B9.
//
// Agreement (test/webgpu-philox.test.ts): philox_uniform is bit-identical to
// the TypeScript uniform — every step is exact u32 arithmetic, and the final
// (x >> 8) * 2^-24 is exact in f32. philox_normal is not bit-identical: the
// TypeScript side computes log, sqrt, cos and sin in f64 and rounds once,
// WGSL computes them in f32 with implementation-defined accuracy. Two
// choices keep the error small on any conforming GPU, not just on ones with
// accurate transcendental functions:
//   - log(u1) for u1 near 1 (where WGSL only promises an absolute error of
//     2^-21, i.e. a large relative error of a tiny radius) goes through a
//     log1p series on v = 1 - u1, which is exact in f32;
//   - the angle is reduced to [-pi, pi) (the only range where WGSL bounds
//     cos/sin error) with cos(t) = -cos(t - pi), sin(t) = -sin(t - pi); the
//     shift u2 - 0.5 is exact in f32.
// Measured on Mesa 22.3 llvmpipe (Dawn, OpenGL backend): max |gpu - ts| =
// 6.5e-7 over 8192 draws (|z| up to 4.1), about one f32 ulp of the angle
// times the radius; the test allows 1e-5 (docs/webgpu.md).

export const PHILOX_WGSL = /* wgsl */ `
// ---- Philox4x32-10 (Random123 constants), as runtime/rng/philox.ts ----
const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// High 32 bits of the 64-bit product a * b, from 16-bit halves (WGSL has no
// u64); every partial sum stays below 2^32.
fn philox_mulhi(a: u32, b: u32) -> u32 {
  let a0 = a & 0xFFFFu;
  let a1 = a >> 16u;
  let b0 = b & 0xFFFFu;
  let b1 = b >> 16u;
  let t = a1 * b0 + ((a0 * b0) >> 16u);
  let w = (t & 0xFFFFu) + a0 * b1;
  return a1 * b1 + (t >> 16u) + (w >> 16u);
}

// One round: two 32x32 -> 64 products, then the Philox permutation.
fn philox_round(x: vec4u, key: vec2u) -> vec4u {
  let hi0 = philox_mulhi(PHILOX_M0, x.x);
  let lo0 = PHILOX_M0 * x.x;
  let hi1 = philox_mulhi(PHILOX_M1, x.z);
  let lo1 = PHILOX_M1 * x.z;
  return vec4u(hi1 ^ x.y ^ key.x, lo1, hi0 ^ x.w ^ key.y, lo0);
}

// Ten rounds on counter c with key k; the key is bumped (Weyl sequence)
// before every round but the first. Unrolled by hand: a loop the driver
// kept would spend llvmpipe's per-invocation loop budget (65535 iterations
// shared by all loops of a shader; docs/webgpu.md) in kernels that draw
// many numbers per invocation.
fn philox4x32(c: vec4u, k: vec2u) -> vec4u {
  let w = vec2u(PHILOX_W0, PHILOX_W1);
  var x = philox_round(c, k);
${Array.from({ length: 9 }, (_, r) => `  x = philox_round(x, k + ${r + 1}u * w);`).join("\n")}
  return x;
}

// The Philox block for counter word 0 = block, under a u32 seed.
fn philox_block(seed: u32, salt: u32, step: u32, iter: u32, block: u32) -> vec4u {
  return philox4x32(vec4u(block, salt, step, iter), vec2u(seed, PHILOX_W0));
}

// Uniform in [0, 1): top 24 bits of lane i & 3 of block i >> 2; exact in f32.
fn philox_uniform(seed: u32, salt: u32, step: u32, iter: u32, i: u32) -> f32 {
  var x = philox_block(seed, salt, step, iter, i >> 2u);
  return f32(x[i & 3u] >> 8u) * 5.9604644775390625e-8;
}

// ln(u) for u = m * 2^-24, 1 <= m <= 2^24 (so u in (0, 1]). Near 1 a log1p
// series on v = 1 - u (exact) keeps the relative error at f32 level.
fn philox_log_unit(u: f32) -> f32 {
  let v = 1.0 - u;
  if (v < 0.0625) {
    // -(v + v^2/2 + ... + v^7/7); the first omitted term is < 2^-28 v.
    let p = 1.0 + v * (0.5 + v * (0.33333334 + v * (0.25 + v * (0.2 + v * (0.16666667 + v * 0.14285715)))));
    return -v * p;
  }
  return log(u);
}

// Standard normal by Box-Muller on lanes 0 and 1 of block i >> 1; even i takes
// the cosine, odd i the sine of the same pair.
fn philox_normal(seed: u32, salt: u32, step: u32, iter: u32, i: u32) -> f32 {
  let x = philox_block(seed, salt, step, iter, i >> 1u);
  let u1 = (f32(x.x >> 8u) + 1.0) * 5.9604644775390625e-8;
  let u2 = f32(x.y >> 8u) * 5.9604644775390625e-8;
  let r = sqrt(-2.0 * philox_log_unit(u1));
  // 2 pi u2 - pi, in [-pi, pi); cos(t) = -cos(t - pi), sin(t) = -sin(t - pi).
  let a = 6.2831853071795862 * (u2 - 0.5);
  if ((i & 1u) == 0u) {
    return -r * cos(a);
  }
  return -r * sin(a);
}
`;
