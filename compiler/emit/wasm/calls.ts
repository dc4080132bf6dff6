// How generated TypeScript calls the runtime's WebAssembly kernels: one
// method of `KernelCalls` (runtime/cpu/kernels.ts) per kernel, with an object
// of named arguments, e.g.
//   this.k.gemm({ a: 16, b: 2048, c: 4096, m: 20, n: 500, k: 784, lda: 784, ldb: 500, ldc: 500, transA: false, transB: false, accumulate: false, alpha: 1, split: false });
// The ops' kernel emitters (compiler/ops) build calls through `kernelCall`,
// whose argument type is the runtime's own argument interface: a missing,
// misspelt or extra argument does not type-check. Values are numbers and
// booleans, or TypeScript expressions (strings) where a call sits in an
// emitted loop (`${c0} > 0`). Every call site of one kernel writes its
// arguments in the interface's order (below), so V8 sees one object shape
// per kernel.

import type { KernelCalls } from "../../../runtime/cpu/kernels.ts";

export type KernelName = keyof KernelCalls;
export type KernelArgs<N extends KernelName> = Parameters<KernelCalls[N]>[0];

/** An argument as emitted: its value, or a TypeScript expression of it. */
export type EmittedArgs<N extends KernelName> = { readonly [K in keyof KernelArgs<N>]: (KernelArgs<N>[K] extends boolean ? boolean : number) | string };

/** Every argument of every kernel, in the order calls write them. */
const ORDER: { readonly [N in KernelName]: readonly (keyof KernelArgs<N>)[] } = {
  gemm: ["a", "b", "c", "m", "n", "k", "lda", "ldb", "ldc", "transA", "transB", "accumulate", "alpha", "split"],
  gemmSparse: ["a", "b", "c", "m", "n", "k", "lda", "ldb", "ldc", "transA", "accumulate", "alpha", "binary", "list", "split"],
  im2colBlock: ["x", "cols", "C", "H", "W", "kh", "kw", "Ho", "Wo", "L", "n0", "nb", "c0", "cb"],
  col2imAdd: ["r", "y", "K", "kh", "kw", "H", "W", "Ho", "Wo"],
  maxPool2d: ["x", "y", "planes", "H", "W", "ph", "pw", "Ho", "Wo"],
  maxPool2dGrad: ["x", "g", "out", "planes", "H", "W", "ph", "pw", "Ho", "Wo"],
  swap01Blocks: ["src", "dst", "rows", "cols", "block"],
  reverseBlocks: ["src", "dst", "blocks", "block"],
  copyRuns: ["src", "dst", "outer", "inner", "run", "srcOuter", "srcInner", "dstOuter", "dstInner"],
  sumAround: ["src", "dst", "outer", "mid", "inner"],
  maxRows: ["src", "dst", "rows", "n"],
  uniformFill: ["dst", "n", "seed", "salt", "step", "iter"],
  fullConv: ["x", "wr", "r", "r2", "y", "n", "C", "H", "W", "K", "kh", "kw", "Ho", "Wo"],
  convValid: ["x", "w", "y", "tab", "n", "C", "H", "W", "K", "kh", "kw", "Ho", "Wo", "cb"],
  convFilterGrad: ["x", "g", "gt", "gt2", "tab", "dw", "N", "C", "H", "W", "K", "Ho", "Wo", "kh", "kw", "nb"],
  convBlock: ["x", "cols", "C", "H", "W", "kh", "kw", "Ho", "Wo", "L", "n0", "nb", "c0", "cb", "w", "acc", "K", "lda", "accumulate"],
};

/** `kernels.name({ ...args })` as a statement, with an optional trailing comment. */
export function kernelCall<N extends KernelName>(kernels: string, name: N, args: EmittedArgs<N>, comment?: string): string {
  const order = ORDER[name] as readonly (keyof EmittedArgs<N>)[];
  const given = Object.keys(args);
  if (given.length !== order.length || order.some((k) => !(k in args))) {
    throw new Error(`${name}: arguments [${given.join(", ")}], expected [${order.join(", ")}]`);
  }
  const text = order.map((k) => `${String(k)}: ${String(args[k])}`).join(", ");
  return `${kernels}.${name}({ ${text} });${comment ? ` // ${comment}` : ""}`;
}

/** Names of the kernels' arguments in call order (tests). */
export function kernelArgNames(name: KernelName): readonly string[] {
  return ORDER[name] as readonly string[];
}
