// The two caches that make a CLI start fast: decoded data splits
// (runtime/node/split-cache.ts) and the stamp that lets dlt-train skip the
// compiler (compiler/cli/compiled-stamp.ts). Each must never serve stale or
// damaged content.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Split } from "../runtime/data/dataset.ts";
import { cachedSplit } from "../runtime/node/split-cache.ts";
import { compilerFingerprint, freshStamp, writeStamp } from "../compiler/cli/compiled-stamp.ts";

const scratch = mkdtempSync(join(tmpdir(), "dlt-start-caches-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function splitOf(seed: number): Split {
  const x = Float32Array.from({ length: 3 * 4 }, (_, i) => Math.sin(seed + i));
  const y = Int32Array.from([seed % 10, 1, 2]);
  return { x, y, n: 3, shape: [2, 2], yShape: [] };
}

describe("cachedSplit", () => {
  const source = join(scratch, "source.bin");
  const cache = join(scratch, "cache");
  writeFileSync(source, "v1");

  it("decodes once, then reads the same split back without decoding", () => {
    let decoded = 0;
    const decode = () => (decoded++, splitOf(7));
    const a = cachedSplit(cache, "t", [source], [2, 2], [], decode);
    const b = cachedSplit(cache, "t", [source], [2, 2], [], decode);
    expect(decoded).toBe(1);
    expect(b.x).toEqual(splitOf(7).x);
    expect(b.y).toEqual(splitOf(7).y);
    expect([b.n, b.shape, b.yShape]).toEqual([a.n, a.shape, a.yShape]);
  });

  it("decodes again when a source changes", () => {
    let decoded = 0;
    writeFileSync(source, "v2, longer");
    const b = cachedSplit(cache, "t", [source], [2, 2], [], () => (decoded++, splitOf(8)));
    expect(decoded).toBe(1);
    expect(b.y[0]).toBe(8);
    utimesSync(source, new Date(1), new Date(1)); // same size, other time
    cachedSplit(cache, "t", [source], [2, 2], [], () => (decoded++, splitOf(8)));
    expect(decoded).toBe(2);
  });

  it("ignores a truncated cache file and one it cannot write", () => {
    expect(readdirSync(cache).length).toBeGreaterThan(0);
    for (const f of readdirSync(cache)) truncateSync(join(cache, f), 5);
    let decoded = 0;
    expect(cachedSplit(cache, "t", [source], [2, 2], [], () => (decoded++, splitOf(8))).x).toEqual(splitOf(8).x);
    expect(decoded).toBe(1);
    const ro = join(scratch, "read-only");
    writeFileSync(ro, "a file where the cache folder should be");
    expect(cachedSplit(join(ro, "cache"), "t", [source], [2, 2], [], () => splitOf(9)).y[0]).toBe(9);
  });
});

describe("the compiled stamp", () => {
  const spec = join(scratch, "net.yaml");
  const dir = join(scratch, "generated-net");
  const files = new Map([
    ["model.ts", "export const a = 1;\n"],
    ["webgpu.ts", "export const b = 2;\n"],
  ]);
  const write = () => {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir);
    for (const [n, t] of files) writeFileSync(join(dir, n), t);
  };

  it("holds for the same spec text, compiler and generated files", () => {
    write();
    writeStamp(spec, "name: net\n", dir, files, ["w: warning"]);
    const s = freshStamp(spec, "name: net\n");
    expect(s?.dir).toBe(dir);
    expect(s?.gpuWarnings).toEqual(["w: warning"]);
    expect(s?.compiler).toBe(compilerFingerprint());
  });

  it("fails on an edited spec, a hand-edited or missing generated file", () => {
    write();
    writeStamp(spec, "name: net\n", dir, files, []);
    expect(freshStamp(spec, "name: net\n# edited\n")).toBeUndefined();
    writeFileSync(join(dir, "model.ts"), "export const a = 2;\n");
    expect(freshStamp(spec, "name: net\n")).toBeUndefined();
    write();
    expect(freshStamp(spec, "name: net\n")).toBeDefined();
    rmSync(join(dir, "webgpu.ts"));
    expect(freshStamp(spec, "name: net\n")).toBeUndefined();
  });

  it("is keyed by the spec's path", () => {
    write();
    writeStamp(spec, "name: net\n", dir, files, []);
    expect(freshStamp(join(scratch, "other.yaml"), "name: net\n")).toBeUndefined();
  });
});
