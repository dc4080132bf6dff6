// Philox4x32-10 against the Random123 known-answer vectors, and the derived
// uniform/normal/shuffle streams.
import { describe, expect, it } from "vitest";
import { normal, philox4x32, shuffle, uint32, uniform } from "../runtime/rng/philox.ts";

const hex = (o: Uint32Array) => [...o].map((x) => x.toString(16).padStart(8, "0")).join(" ");

describe("philox4x32_10 known answers (Random123 kat_vectors)", () => {
  it.each([
    { ctr: [0, 0, 0, 0], key: [0, 0], want: "6627e8d5 e169c58d bc57ac4c 9b00dbd8" },
    { ctr: [0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], key: [0xffffffff, 0xffffffff], want: "408f276d 41c83b0e a20bc7c6 6d5451fd" },
    { ctr: [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], key: [0xa4093822, 0x299f31d0], want: "d16cfe09 94fdcceb 5001e420 24126ea1" },
  ])("counter $ctr key $key", ({ ctr, key, want }) => {
    const out = new Uint32Array(4);
    philox4x32(ctr[0]!, ctr[1]!, ctr[2]!, ctr[3]!, key[0]!, key[1]!, out);
    expect(hex(out)).toBe(want);
  });
});

describe("streams", () => {
  it("uint32 reads lane i & 3 of block i >>> 2 with the documented key", () => {
    const out = new Uint32Array(4);
    const seed = 42, salt = 7, step = 3, iter = 2;
    philox4x32(5, salt, step, iter, seed, 0x9e3779b9, out);
    for (let lane = 0; lane < 4; lane++) expect(uint32(seed, salt, step, iter, 20 + lane)).toBe(out[lane]);
    // The high part of a seed beyond 32 bits goes into the second key word.
    philox4x32(0, 0, 0, 0, 1, (0x9e3779b9 ^ 3) >>> 0, out);
    expect(uint32(3 * 2 ** 32 + 1, 0, 0, 0, 0)).toBe(out[0]);
  });

  it("uniform is (x >>> 8) * 2^-24, in [0, 1), with mean ~ 1/2 and variance ~ 1/12", () => {
    expect(uniform(1, 2, 3, 4, 5)).toBe((uint32(1, 2, 3, 4, 5) >>> 8) / 2 ** 24);
    const n = 100000;
    let s = 0, s2 = 0, lo = 1, hi = 0;
    for (let i = 0; i < n; i++) {
      const u = uniform(123, 1, 0, 0, i);
      s += u; s2 += u * u;
      lo = Math.min(lo, u); hi = Math.max(hi, u);
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    // 5 sigma: sd of the mean is sqrt(1/12 / n) ~ 9e-4.
    expect(Math.abs(s / n - 0.5)).toBeLessThan(5e-3);
    expect(Math.abs(s2 / n - (s / n) ** 2 - 1 / 12)).toBeLessThan(3e-3);
  });

  it("normal has mean ~ 0 and variance ~ 1; pairs share a block", () => {
    const n = 100000;
    let s = 0, s2 = 0, finite = true;
    for (let i = 0; i < n; i++) {
      const z = normal(9, 3, 1, 0, i);
      finite &&= Number.isFinite(z);
      s += z; s2 += z * z;
    }
    expect(finite).toBe(true);
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
    // Box-Muller: z_{2k}^2 + z_{2k+1}^2 = r^2 = -2 ln u1 of block k.
    const out = new Uint32Array(4);
    philox4x32(6, 3, 1, 0, 9, 0x9e3779b9, out);
    const u1 = ((out[0]! >>> 8) + 1) / 2 ** 24;
    expect(normal(9, 3, 1, 0, 12) ** 2 + normal(9, 3, 1, 0, 13) ** 2).toBeCloseTo(-2 * Math.log(u1), 12);
  });

  it("is deterministic and independent of call order (the block cache is keyed on every input)", () => {
    const a = Array.from({ length: 64 }, (_, i) => uniform(5, 1, 2, 3, i));
    const b: number[] = [];
    for (let i = 63; i >= 0; i--) {
      normal(5, 1, 2, 3, i); // interleave other draws of the same counters
      uniform(6, 1, 2, 3, i);
      b[i] = uniform(5, 1, 2, 3, i);
    }
    expect(b).toEqual(a);
    // Each counter component changes the stream.
    const base = uniform(5, 1, 2, 3, 0);
    expect(uniform(6, 1, 2, 3, 0)).not.toBe(base);
    expect(uniform(5, 2, 2, 3, 0)).not.toBe(base);
    expect(uniform(5, 1, 3, 3, 0)).not.toBe(base);
    expect(uniform(5, 1, 2, 4, 0)).not.toBe(base);
  });

  it("shuffle is a deterministic permutation that depends on the salt", () => {
    const n = 1000;
    const p = new Int32Array(n), q = new Int32Array(n), r = new Int32Array(n);
    shuffle(77, 0, n, p);
    shuffle(77, 0, n, q);
    shuffle(77, 1, n, r);
    expect([...p].sort((x, y) => x - y)).toEqual([...Array(n).keys()]);
    expect(q).toEqual(p);
    expect(r).not.toEqual(p);
    // Not the identity, and position 0 is roughly uniform over many seeds.
    expect(p.filter((v, i) => v === i).length).toBeLessThan(10);
    let first = 0;
    const t = new Int32Array(4);
    for (let s = 0; s < 4000; s++) {
      shuffle(s, 0, 4, t);
      if (t[0] === 0) first++;
    }
    expect(Math.abs(first / 4000 - 0.25)).toBeLessThan(0.03);
  });
});
