// The compiler's own SHA-256 (compiler/sha256.ts, for the spec hash in a
// browser) equals node:crypto's on the padding boundaries, multi-byte text
// and every spec of the repository.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../compiler/sha256.ts";

const node = (s: string) => createHash("sha256").update(s).digest("hex");

describe("sha256Hex", () => {
  it("equals node:crypto around the 55/56/64-byte padding boundaries and on multi-byte text", () => {
    for (let n = 0; n < 200; n++) {
      const s = "a".repeat(n);
      expect(sha256Hex(s), `length ${n}`).toBe(node(s));
    }
    for (const s of ["", "abc", "λ‖∂nll/∂x‖² — déjà vu 🎵", "x\n".repeat(1000)]) expect(sha256Hex(s)).toBe(node(s));
  });

  it("equals node:crypto on every spec", () => {
    for (const f of readdirSync("specs")) {
      const s = readFileSync(`specs/${f}`, "utf8");
      expect(sha256Hex(s), f).toBe(node(s));
    }
  });
});
