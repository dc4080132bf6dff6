// Assembles generated/<model>/model.ts with ts-morph: the model description
// (plain data the runtime reads), a class with its buffers as fields, one
// method per phase's training step and one for evaluation. Formatted by the
// TypeScript formatter so output is stable and readable.

import { IndentationText, Project, QuoteKind, Scope } from "ts-morph";
import type { Graph, Node } from "../../ir/types.ts";
import type { ModelDescription } from "../../../runtime/compiled-model.ts";
import { Arena, type BufferDecl, emitGraph, type FunctionContext } from "./function.ts";
import type { Fusion } from "../../lower/fusion.ts";
import { assemble, base64Lines } from "../wasm/assemble.ts";
import { WasmLoops } from "../wasm/loops.ts";

export interface ModuleInput {
  readonly desc: ModelDescription;
  /** One optimised training-step graph per distinct phase step. */
  readonly steps: readonly Graph[];
  readonly evalGraph: Graph;
  /** One graph per sampler (outputs `next` and `show`). */
  readonly samplers?: readonly Graph[];
  readonly header: string;
}

const ident = (s: string) => (/^[A-Za-z_$][\w$]*$/.test(s) ? s : JSON.stringify(s));
const prop = (obj: string, key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `${obj}.${key}` : `${obj}[${JSON.stringify(key)}]`);

/** Writes an output into its parameter/state buffer directly when the node is
 * an elementwise loop root and every other reader of the old value runs
 * before it (so the in-place update reads each old element exactly once). */
function inPlaceTarget(name: string, n: Node, g: Graph, f: Fusion): Node | undefined {
  const m = /^(param|state):(.+)$/.exec(name);
  if (!m) return undefined;
  const kind = m[1] as "param" | "state";
  const leaf = g.nodes.find((x) => x.op === kind && (x.attrs as { name: string }).name === m[2]);
  if (!leaf) return undefined;
  if (f.consumers[n.id]!.length > 0) return undefined;
  if (f.consumers[leaf.id]!.some((c) => c > n.id)) return undefined;
  if (![...g.outputs.values()].every((id) => id === n.id || id !== leaf.id)) return undefined;
  return leaf;
}

function bodyWithLocals(lines: string[], buffers: readonly BufferDecl[]): string[] {
  const text = lines.join("\n");
  const used = buffers.filter((b) => text.includes(`this.${b.name}`));
  const re = /this\.(f\d+_\w+|ev_\w+|sm\d+_\w+)/g;
  return [...used.map((b) => `const ${b.name} = this.${b.name};`), ...lines.map((l) => l.replace(re, "$1"))];
}

export interface EmittedModule {
  /** generated/<model>/model.ts */
  readonly model: string;
  /** The model's fused loops as WebAssembly: WAT listing and the bytes
   * (loops.wat, loops-wasm.ts); absent when no loop qualified. */
  readonly loops?: { readonly wat: string; readonly ts: string };
}

export function emitModule(m: ModuleInput): EmittedModule {
  const project = new Project({ useInMemoryFileSystem: true, manipulationSettings: { indentationText: IndentationText.TwoSpaces, quoteKind: QuoteKind.Double } });
  const sf = project.createSourceFile("model.ts", "", { overwrite: true });
  sf.addImportDeclaration({ isTypeOnly: true, moduleSpecifier: "../../runtime/compiled-model.ts", namedImports: ["Batch", "CompiledModel", "ModelDescription"] });
  sf.addImportDeclaration({ moduleSpecifier: "../../runtime/cpu/kernels.ts", namedImports: ["createArena", "createKernels", "instantiateLoops", "type Kernels", "precompileModules"] });
  sf.addImportDeclaration({ moduleSpecifier: "../../runtime/rng/philox.ts", namespaceImport: "rng" });
  sf.addVariableStatement({
    isExported: true,
    declarationKind: "const" as never,
    declarations: [{ name: "description", type: "ModelDescription", initializer: literal(m.desc, "") }],
  });

  const buffers: BufferDecl[] = [];
  // Parameters and state first, then every function's buffers as declared.
  const arena = new Arena();
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const leafOffsets = new Map<string, number>();
  for (const p of m.desc.params) leafOffsets.set(`param:${p.name}`, arena.place("Float32Array", size(p.shape)));
  for (const p of m.desc.state) leafOffsets.set(`state:${p.name}`, arena.place("Float32Array", size(p.shape)));
  // Leaves are read through locals (hot loops then index a local typed array).
  const localOf = (kind: "param" | "state", name: string) => {
    const list = kind === "param" ? m.desc.params : m.desc.state;
    return `${kind === "param" ? "p" : "st"}${list.findIndex((x) => x.name === name)}_${name.replace(/\W/g, "_")}`;
  };
  const leafBuffer = (n: Node) => {
    const name = (n.attrs as { name: string }).name;
    if (n.op === "param" || n.op === "state") return localOf(n.op, name);
    return `in_${name}`;
  };
  for (const p of m.desc.params) arena.addrs.set(localOf("param", p.name), leafOffsets.get(`param:${p.name}`)!);
  for (const p of m.desc.state) arena.addrs.set(localOf("state", p.name), leafOffsets.get(`state:${p.name}`)!);
  const leafLocals = [
    ...m.desc.params.map((p) => `const ${localOf("param", p.name)} = ${prop("this.params", p.name)};`),
    ...m.desc.state.map((p) => `const ${localOf("state", p.name)} = ${prop("this.state", p.name)};`),
  ];
  const wasm = new WasmLoops();
  const ctx = (): FunctionContext => ({ buffers, arena, wasm, leafBuffer, outputTarget: inPlaceTarget, seed: "this.desc.seed", step: "step" });
  const dtypeOf = new Map(m.desc.inputs.map((i) => [i.name, i.dtype]));
  const copyInputs = (ins: readonly (readonly [string, string])[]) =>
    ins.length ? ["// The batch, copied into the model's memory.", ...ins.map(([name, buf]) => `${buf}.set(${prop("batch", name)} as ${dtypeOf.get(name) === "i32" ? "Int32Array" : "Float32Array"});`)] : [];

  const probes: string[] = [];
  const stepMethods = m.steps.map((g, s) => {
    const f = emitGraph(g, ctx(), `f${s}_`);
    probes.push(`[\n${f.probes.map(([label, buf]) => `[${JSON.stringify(label)}, ${buf}]`).join(",\n")},\n]`);
    const copies: string[] = [];
    for (const [name, buf] of f.outputs) {
      const mm = /^(param|state):(.+)$/.exec(name);
      if (!mm) continue;
      const dst = localOf(mm[1] as "param" | "state", mm[2]!);
      if (buf !== dst) copies.push(`${dst}.set(${buf});`);
    }
    const cost = f.outputs.get("cost");
    return {
      name: `step${s}`,
      scope: Scope.Private,
      parameters: [
        { name: "batch", type: "Batch" },
        { name: "step", type: "number" },
      ],
      returnType: "number",
      statements: bodyWithLocals([...leafLocals, ...copyInputs(f.inputs), ...f.body, ...(copies.length ? ["// Commit the updates that could not be written in place.", ...copies] : []), `return ${cost}[0];`], buffers),
    };
  });

  const ev = emitGraph(m.evalGraph, ctx(), "ev_");
  const samplerMethods = (m.samplers ?? []).map((g, k) => {
    const f = emitGraph(g, ctx(), `sm${k}_`);
    return {
      name: `sampler${k}`,
      scope: Scope.Private,
      parameters: [
        { name: "batch", type: "Batch" },
        { name: "out", type: "Record<string, Float32Array>" },
        { name: "step", type: "number" },
      ],
      returnType: "void",
      statements: bodyWithLocals([...leafLocals, ...copyInputs(f.inputs), ...f.body, `out.next.set(${f.outputs.get("next")});`, `out.show.set(${f.outputs.get("show")});`], buffers),
    };
  });
  const evOut = [...ev.outputs].map(([k, buf]) => `${prop("out", k.replace(/^metric:/, ""))}.set(${buf});`);

  const view = (ctor: string, offset: number, n: number) => `new ${ctor}(this.mem.buffer, ${offset}, ${n})`;
  const paramsInit = m.desc.params.map((p) => `${ident(p.name)}: ${view("Float32Array", leafOffsets.get(`param:${p.name}`)!, size(p.shape))}`);
  const stateInit = m.desc.state.map((p) => `${ident(p.name)}: ${view("Float32Array", leafOffsets.get(`state:${p.name}`)!, size(p.shape))}`);
  let loops: EmittedModule["loops"];
  const loopNames: string[] = [];
  if (wasm.size > 0) {
    const wat = wasm.module(m.header, false);
    const plain = assemble("loops.wat", wat, true);
    const shared = assemble("loops-shared.wat", wasm.module(m.header, true), false);
    loopNames.push(...[...wat.matchAll(/\(export "(\w+)"\)/g)].map((x) => x[1]!));
    loops = {
      wat,
      ts: [
        m.header.trimEnd(),
        "// The model's fused loops as WebAssembly (listing: loops.wat), for an ordinary and a shared memory.",
        `export const LOOPS_WASM =\n${base64Lines(plain)};`,
        "",
        `export const LOOPS_SHARED_WASM =\n${base64Lines(shared)};`,
        "",
      ].join("\n"),
    };
    sf.addImportDeclaration({ moduleSpecifier: "./loops-wasm.ts", namedImports: ["LOOPS_SHARED_WASM", "LOOPS_WASM"] });
    sf.addInterface({
      name: "Loops",
      docs: ["The exports of loops.wat: one function per fused loop, addresses and extents built in."],
      properties: loopNames.map((n) => ({ name: n, type: "() => void", isReadonly: true })),
    });
  }
  sf.addFunction({
    name: "prepare",
    isExported: true,
    isAsync: true,
    docs: ["Compiles the model's WebAssembly ahead (required before `new Model()` on a browser's main thread, optional elsewhere)."],
    returnType: "Promise<void>",
    statements: [loops ? "await precompileModules(LOOPS_WASM, LOOPS_SHARED_WASM);" : "await precompileModules();"],
  });
  const cls = sf.addClass({
    name: "Model",
    isExported: true,
    isDefaultExport: false,
    implements: ["CompiledModel"],
    properties: [
      { name: "desc", isReadonly: true, initializer: "description", type: "ModelDescription" },
      {
        name: "mem",
        scope: Scope.Private,
        isReadonly: true,
        docs: [`Every buffer of the model, ${(arena.size / 2 ** 20).toFixed(1)} MiB, laid out at compile time.`],
        initializer: `createArena(${arena.size})`,
      },
      { name: "k", scope: Scope.Private, isReadonly: true, type: "Kernels", initializer: "createKernels(this.mem)" },
      ...(loops ? [{ name: "w", scope: Scope.Private, isReadonly: true, type: "Loops", initializer: "instantiateLoops<Loops>(this.mem, LOOPS_WASM, LOOPS_SHARED_WASM)" }] : []),
      { name: "params", isReadonly: true, initializer: `{ ${paramsInit.join(", ")} }` },
      { name: "state", isReadonly: true, type: "Record<string, Float32Array>", initializer: `{ ${stateInit.join(", ")} }` },
      ...buffers.map((b) => ({
        name: b.name,
        scope: Scope.Private,
        isReadonly: true,
        initializer: b.fill === undefined || b.fill === 0 ? view(b.ctor, b.offset, b.size) : `${view(b.ctor, b.offset, b.size)}.fill(${numLit(b.fill)})`,
      })),
    ],
  });
  cls.addMethod({
    name: "trainStep",
    parameters: [
      { name: "stepFn", type: "number" },
      { name: "batch", type: "Batch" },
      { name: "step", type: "number" },
    ],
    returnType: "number",
    statements: dispatch("stepFn", m.steps.length, (s) => `this.step${s}(batch, step)`, "training step"),
  });
  cls.addMethod({
    name: "evaluate",
    parameters: [
      { name: "batch", type: "Batch" },
      { name: "out", type: "Record<string, Float32Array>" },
    ],
    returnType: "void",
    statements: bodyWithLocals([...leafLocals, ...copyInputs(ev.inputs), "const step = 0; // evaluation draws random numbers from counter 0", ...ev.body, ...evOut], buffers),
  });
  cls.addMethod({
    name: "probe",
    docs: ["Buffers of the last training step in execution order, labelled with op and spec location (read after a non-finite cost)."],
    parameters: [{ name: "stepFn", type: "number" }],
    returnType: "ReadonlyArray<readonly [string, ArrayLike<number>]>",
    statements: [`const probes: ReadonlyArray<readonly [string, ArrayLike<number>]>[] = [\n${probes.join(",\n")},\n];`, "return probes[stepFn] ?? [];"],
  });
  if (samplerMethods.length) {
    cls.addMethod({
      name: "sample",
      parameters: [
        { name: "index", type: "number" },
        { name: "batch", type: "Batch" },
        { name: "out", type: "Record<string, Float32Array>" },
        { name: "call", type: "number" },
      ],
      returnType: "void",
      statements: dispatch("index", samplerMethods.length, (k) => `this.sampler${k}(batch, out, call)`, "sampler"),
    });
  }
  cls.addMethods(stepMethods);
  cls.addMethods(samplerMethods);
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true, ensureNewLineAtEndOfFile: true });
  // Blank lines the formatter leaves after closing braces of kernel blocks.
  return { model: m.header + sf.getFullText().replace(/\n\n(\s*\})/g, "\n$1"), ...(loops ? { loops } : {}) };
}

/** `switch (on) { case k: return call(k); … default: throw … }` for k < n. */
function dispatch(on: string, n: number, call: (k: number) => string, what: string): string[] {
  return ["switch (" + on + ") {", ...Array.from({ length: n }, (_, k) => `case ${k}: return ${call(k)};`), `default: throw new RangeError(\`no ${what} \${${on}}\`);`, "}"];
}

/** A readable TypeScript literal of plain data: objects one key a line,
 * arrays of numbers on one line. Strings go through JSON.stringify, so no
 * spec text reaches the code unescaped. */
export function literal(v: unknown, indent: string): string {
  if (v === null || typeof v !== "object") return typeof v === "number" ? numLit(v) : JSON.stringify(v);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.every((x) => typeof x !== "object" || x === null)) return `[${v.map((x) => literal(x, inner)).join(", ")}]`;
    return `[\n${v.map((x) => `${inner}${literal(x, inner)}`).join(",\n")},\n${indent}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (entries.length === 0) return "{}";
  return `{\n${entries.map(([k, x]) => `${inner}${ident(k)}: ${literal(x, inner)}`).join(",\n")},\n${indent}}`;
}

export function numLit(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "Infinity";
  if (v === -Infinity) return "-Infinity";
  return String(v);
}
