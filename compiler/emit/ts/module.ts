// Assembles generated/<model>/model.ts from the lowered program
// (compiler/lower/): the model description (plain data the runtime reads), a
// class whose fields are typed-array views of one WebAssembly memory, one
// method per phase's training step, evaluation and samplers (rendered by
// ./render.ts), and the model's fused loops as a wasm module. Laid out by
// ./source.ts (declarations as data, statements indented by their brackets)
// so output is stable and readable.

import type { ModelDescription } from "../../../runtime/compiled-model.ts";
import { IRError } from "../../ir/types.ts";
import type { BufferId, LoweredFunction, Program } from "../../lower/program.ts";
import { assemble, base64Lines } from "../wasm/assemble.ts";
import { WasmLoops } from "../wasm/loops.ts";
import { jsString } from "../comments.ts";
import { RUNTIME_MODULE } from "../runtime-module.ts";
import { Arena } from "./arena.ts";
import { tsLiteral } from "./literals.ts";
import { FunctionRenderer, type RenderedFunction } from "./render.ts";
import { twoThreadsPay } from "../wasm/split-rule.ts";
import { classDecl, functionDecl, interfaceDecl, type MethodDecl, type PropertyDecl, sourceFile } from "./source.ts";

export interface ModuleInput {
  readonly desc: ModelDescription;
  readonly program: Program;
  readonly header: string;
}

const ident = (s: string) => (/^[A-Za-z_$][\w$]*$/.test(s) ? s : jsString(s));
const prop = (obj: string, key: string) => (/^[A-Za-z_$][\w$]*$/.test(key) ? `${obj}.${key}` : `${obj}[${jsString(key)}]`);

export interface EmittedModule {
  /** generated/<model>/model.ts */
  readonly model: string;
  /** The model's fused loops as WebAssembly: WAT listing and the bytes
   * (loops.wat, loops-wasm.ts); absent when no loop qualified. */
  readonly loops?: { readonly wat: string; readonly ts: string };
}

export function emitModule(m: ModuleInput): EmittedModule {
  const { program } = m;
  const imports: string[] = [];
  const declarations: string[][] = [[`export const description: ModelDescription = ${literal(m.desc, "")};`]];

  // Parameters and state first, in the description's order (their offsets
  // then depend on the description only).
  const arena = new Arena(program.buffers);
  const leafId = (role: "param" | "state", name: string) => program.buffers.find((b) => b.role === role && b.ref === name)?.id;
  const leafOffsets = new Map<string, number>();
  for (const [role, list] of [["param", m.desc.params], ["state", m.desc.state]] as const) {
    for (const p of list) {
      const id = leafId(role, p.name);
      // A state tensor no graph reads (a sampler's target, read by the
      // trainer only) lives in a plain array outside the model's memory.
      if (id === undefined && role === "state") continue;
      if (id === undefined) throw new Error(`${role} ${p.name} is in the description but in no graph`);
      leafOffsets.set(`${role}:${p.name}`, arena.offset(id));
    }
  }
  const wasm = new WasmLoops();
  const rendered = new Map<LoweredFunction, RenderedFunction>();
  for (const fn of program.functions) rendered.set(fn, new FunctionRenderer(program, fn, arena, wasm, "this.desc.seed").render());
  checkMemory(program, arena);
  const dtypeOf = new Map(m.desc.inputs.map((i) => [i.name, i.dtype]));
  /** Fields some method reads: only those are declared (a buffer only wasm
   * kernels touch needs its memory, not a typed-array view). */
  const fieldsRead = new Set<string>();

  /** Locals for the buffers a body names, the batch copied in, the body. */
  const methodBody = (fn: LoweredFunction, r: RenderedFunction, tail: string[]): string[] => {
    // A buffer gets a local when the code names it (kernels given addresses,
    // and comments, do not count).
    const code = [...r.body, ...tail].join("\n").replace(/\/\/.*$/gm, "");
    const named = (local: string) => new RegExp(`(?<![\\w$.])${local}(?![\\w$])`).test(code) || fn.inputs.some((b) => program.buffers[b]!.local === local);
    const used = [...new Set([...r.used, ...fn.inputs])].sort((a, b) => a - b).filter((b) => named(program.buffers[b]!.local));
    for (const b of used) fieldsRead.add(program.buffers[b]!.name);
    for (const m of code.matchAll(/\bthis\.(\w+)/g)) fieldsRead.add(m[1]!);
    const locals = used.map((b: BufferId) => {
      const info = program.buffers[b]!;
      const src = info.role === "param" ? prop("this.params", info.ref!) : info.role === "state" ? prop("this.state", info.ref!) : `this.${info.name}`;
      return `const ${info.local} = ${src};`;
    });
    const copies = fn.inputs.map((b) => {
      const info = program.buffers[b]!;
      const batch = `${prop("batch", info.ref!)} as ${dtypeOf.get(info.ref!) === "i32" ? "Int32Array" : "Float32Array"}`;
      const at = r.inPlace.get(b);
      return at === undefined ? `${info.local}.set(${batch});` : `const ${at} = inputAddress(this.mem, ${batch}, ${info.local});`;
    });
    const inPlace = fn.inputs.filter((b) => r.inPlace.has(b)).map((b) => program.buffers[b]!.local);
    const copied = fn.inputs.filter((b) => !r.inPlace.has(b)).map((b) => program.buffers[b]!.local);
    const them = inPlace.length > 1 ? "them" : "it";
    const head = !copies.length
      ? []
      : !inPlace.length
        ? ["// The batch, copied into the model's memory.", ...copies]
        : [`// The batch: ${inPlace.join(", ")} read where the batch lies when that is the model's memory (only products read ${them}), else copied in${copied.length ? `; ${copied.join(", ")} copied in` : ""}.`, ...copies];
    return [...locals, ...head, ...r.body, ...tail];
  };
  const usesStep = (lines: readonly string[]) => lines.some((l) => /\bstep\b/.test(l));
  const local = (b: BufferId | undefined) => (b === undefined ? "undefined" : program.buffers[b]!.local);

  const steps = program.functions.filter((f) => f.kind === "step");
  const samplers = program.functions.filter((f) => f.kind === "sampler");
  const evalFn = program.functions.find((f) => f.kind === "eval")!;
  const probes: string[] = [];
  const stepMethods = steps.map((fn): MethodDecl => {
    const r = rendered.get(fn)!;
    for (const [, b] of r.probes) fieldsRead.add(program.buffers[b]!.name);
    probes.push(`[\n${r.probes.map(([label, b]) => `[${jsString(label)}, this.${program.buffers[b]!.name}]`).join(",\n")},\n]`);
    const cost = fn.block.outputs.get("cost");
    const r2 = { ...r, used: new Set([...r.used, ...(cost !== undefined ? [cost] : [])]) };
    const statements = methodBody(fn, r2, [`return ${local(cost)}[0];`]);
    return {
      name: fn.name,
      isPrivate: true,
      parameters: [
        { name: fn.inputs.length ? "batch" : "_batch", type: "Batch" },
        { name: usesStep(r.body) ? "step" : "_step", type: "number" },
      ],
      returnType: "number",
      statements,
    };
  });
  const samplerMethods = samplers.map((fn): MethodDecl => {
    const r = rendered.get(fn)!;
    const next = fn.block.outputs.get("next")!;
    const show = fn.block.outputs.get("show")!;
    const r2 = { ...r, used: new Set([...r.used, next, show]) };
    return {
      name: fn.name,
      isPrivate: true,
      parameters: [
        { name: fn.inputs.length ? "batch" : "_batch", type: "Batch" },
        { name: "out", type: "Record<string, Float32Array>" },
        { name: usesStep(r.body) ? "step" : "_step", type: "number" },
      ],
      returnType: "void",
      statements: methodBody(fn, r2, [`out.next.set(${local(next)});`, `out.show.set(${local(show)});`]),
    };
  });
  const evr = rendered.get(evalFn)!;
  const evOutputs = [...evalFn.block.outputs];
  const evr2 = { ...evr, used: new Set([...evr.used, ...evOutputs.map(([, b]) => b)]) };
  const evOut = evOutputs.map(([k, b]) => `${prop("out", k.replace(/^(metric|output):/, ""))}.set(${local(b)});`);
  const evBody = methodBody(evalFn, evr2, evOut);
  const evStatements = usesStep(evr.body) ? ["const step = 0; // evaluation draws random numbers from counter 0", ...evBody] : evBody;

  const view = (ctor: string, offset: number, n: number) => `new ${ctor}(this.mem.buffer, ${offset}, ${n})`;
  const fillLiteral = (b: { readonly ctor: string; readonly fill?: number }) => tsLiteral(b.fill!, b.ctor === "Float32Array" ? "f32" : "f64");
  const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
  const paramsInit = m.desc.params.map((p) => `${ident(p.name)}: ${view("Float32Array", leafOffsets.get(`param:${p.name}`)!, size(p.shape))}`);
  const stateInit = m.desc.state.map((p) => {
    const at = leafOffsets.get(`state:${p.name}`);
    return `${ident(p.name)}: ${at === undefined ? `new Float32Array(${size(p.shape)})` : view("Float32Array", at, size(p.shape))}`;
  });
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
    declarations.push(
      interfaceDecl({
        name: "Loops",
        docs: "The exports of loops.wat: one function per fused loop, addresses and extents built in.",
        properties: loopNames.map((n) => ({ name: n, type: "() => void", isReadonly: true })),
      }),
    );
  }
  const usesKernels = [...rendered.values()].some((r) => r.body.some((l) => /\bthis\.k\./.test(l)));
  const usesRng = [...rendered.values()].some((r) => r.body.some((l) => /\brng\./.test(l)));
  // A training step that reads an input in place: the trainer may place
  // the training split in the model's memory (`resident`).
  const readsInPlace = steps.some((fn) => rendered.get(fn)!.inPlace.size > 0);
  const usesInputAddress = [...rendered.values()].some((r) => r.inPlace.size > 0);
  // Two threads when a training step's shared work pays for them
  // (compiler/emit/wasm/split-rule.ts twoThreadsPay): the model asks for
  // them unless DLT_THREADS says otherwise (runtime/cpu/arena.ts
  // cpuThreads); any other never starts the helper.
  const splits = [...rendered.entries()].some(([fn, r]) => fn.kind === "step" && twoThreadsPay(r.split));
  // One import of the runtime, by package name (see ../runtime-module.ts).
  const runtimeNames = [
    ...["Batch", "CompiledModel", "ModelDescription", "ModelOptions", ...(usesKernels ? ["Kernels"] : [])].map((n) => ({ n, type: true })),
    ...["createArena", "describeRun", ...(splits ? ["cpuThreads"] : []), ...(usesKernels ? ["createKernels"] : []), ...(usesInputAddress ? ["inputAddress"] : []), ...(loops ? ["instantiateLoops"] : []), "precompileModules", ...(readsInPlace ? ["residentCopy"] : []), ...(usesRng ? ["rng"] : [])].map((n) => ({ n, type: false })),
  ].sort((a, b) => a.n.toLowerCase().localeCompare(b.n.toLowerCase()));
  imports.push(`import { ${runtimeNames.map((x) => (x.type ? `type ${x.n}` : x.n)).join(", ")} } from ${jsString(RUNTIME_MODULE)};`);
  if (loops) imports.push(`import { LOOPS_SHARED_WASM, LOOPS_WASM } from "./loops-wasm.ts";`);
  declarations.push(
    functionDecl({
      name: "prepare",
      isExported: true,
      isAsync: true,
      docs: "Compiles the model's WebAssembly ahead (required before `new Model()` on a browser's main thread, optional elsewhere).",
      parameters: [],
      returnType: "Promise<void>",
      statements: [loops ? "await precompileModules(LOOPS_WASM, LOOPS_SHARED_WASM);" : "await precompileModules();"],
    }),
  );
  const properties: PropertyDecl[] = [
      { name: "desc", isReadonly: true, type: "ModelDescription", docs: "The spec's description, or with `options.seed` a copy with the run's seed." },
      {
        name: "mem",
        isPrivate: true,
        isReadonly: true,
        docs: `Every buffer of the model, ${(arena.size / 2 ** 20).toFixed(1)} MiB, laid out at compile time.`,
        initializer: splits ? `createArena(${arena.size}, cpuThreads(true))` : `createArena(${arena.size})`,
      },
      ...(usesKernels ? [{ name: "k", isPrivate: true, isReadonly: true, type: "Kernels", initializer: "createKernels(this.mem)" }] : []),
      ...(loops ? [{ name: "w", isPrivate: true, isReadonly: true, type: "Loops", initializer: "instantiateLoops<Loops>(this.mem, LOOPS_WASM, LOOPS_SHARED_WASM)" }] : []),
      { name: "params", isReadonly: true, initializer: paramsInit.length ? `{ ${paramsInit.join(", ")} }` : "{}" },
      { name: "state", isReadonly: true, type: "Record<string, Float32Array>", initializer: stateInit.length ? `{ ${stateInit.join(", ")} }` : "{}" },
      ...arena.fields.filter((b) => fieldsRead.has(b.name)).map((b) => ({
        name: b.name,
        isPrivate: true,
        isReadonly: true,
        initializer: b.fill === undefined || b.fill === 0 ? view(b.ctor, b.offset, b.size) : `${view(b.ctor, b.offset, b.size)}.fill(${fillLiteral(b)})`,
      })),
  ];
  // A constant that only kernels read, by address (a concat's padding
  // copied by copyRuns), needs its fill but no field: it is filled once here.
  const constructorStatements = [
    "this.desc = describeRun(description, options);",
    ...arena.fields
      .filter((b) => !fieldsRead.has(b.name) && b.fill !== undefined && b.fill !== 0)
      .map((b) => `${view(b.ctor, b.offset, b.size)}.fill(${fillLiteral(b)}); // ${b.name}`),
  ];
  const methods: MethodDecl[] = [];
  methods.push({
    name: "trainStep",
    parameters: [
      { name: "stepFn", type: "number" },
      { name: "batch", type: "Batch" },
      { name: "step", type: "number" },
    ],
    returnType: "number",
    statements: dispatch("stepFn", steps.length, (s) => `this.step${s}(batch, step)`, "training step"),
  });
  methods.push({
    name: "evaluate",
    parameters: [
      { name: evalFn.inputs.length ? "batch" : "_batch", type: "Batch" },
      { name: evOut.length ? "out" : "_out", type: "Record<string, Float32Array>" },
    ],
    returnType: "void",
    statements: evStatements,
  });
  methods.push({
    name: "probe",
    docs: "Buffers of the last training step in execution order, labelled with op and spec location (read after a non-finite cost).",
    parameters: [{ name: "stepFn", type: "number" }],
    returnType: "ReadonlyArray<readonly [string, ArrayLike<number>]>",
    statements: [`const probes: ReadonlyArray<readonly [string, ArrayLike<number>]>[] = [\n${probes.join(",\n")},\n];`, "return probes[stepFn] ?? [];"],
  });
  if (samplerMethods.length) {
    methods.push({
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
  if (readsInPlace) {
    methods.push({
      name: "resident",
      docs: "A copy of `data` in the model's memory for good (undefined where it cannot grow): batches of its rows are read where they lie.",
      parameters: [{ name: "data", type: "Float32Array" }],
      returnType: "Float32Array | undefined",
      statements: ["return residentCopy(this.mem, data);"],
    });
  }
  methods.push(...stepMethods, ...samplerMethods);
  declarations.push(classDecl({ name: "Model", isExported: true, implements: ["CompiledModel"], properties, constructorParameters: ["options: ModelOptions = {}"], constructorStatements, methods }));
  return { model: m.header + sourceFile(imports, declarations), ...(loops ? { loops } : {}) };
}

/** WebAssembly's 32-bit memory: 65,536 pages of 64 KiB. */
const MAX_WASM_BYTES = 2 ** 32;

/** Refuses a model whose buffers do not fit one WebAssembly memory (E036),
 * at the spec line of its largest buffer, before any code is assembled. */
function checkMemory(p: Program, arena: Arena): void {
  const bytes = arena.size;
  if (bytes <= MAX_WASM_BYTES) return;
  const size = (b: Program["buffers"][number]) => b.size * (b.dtype === "f64" ? 8 : b.dtype === "bool" ? 1 : 4);
  const largest = p.buffers.filter((b) => arena.has(b.id)).sort((a, b) => size(b) - size(a)).slice(0, 3);
  const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;
  throw new IRError(
    `the model needs ${gib(bytes)} of memory, more than WebAssembly's 4 GiB; the largest buffers: ${largest.map((b) => `${b.name} [${b.shape.join(", ")}] ${gib(size(b))}`).join(", ")} (make them smaller, or lower data.batch_size if they scale with it)`,
    largest[0]?.loc,
    "E036",
  );
}

/** `switch (on) { case k: return call(k); … default: throw … }` for k < n. */
function dispatch(on: string, n: number, call: (k: number) => string, what: string): string[] {
  return ["switch (" + on + ") {", ...Array.from({ length: n }, (_, k) => `case ${k}: return ${call(k)};`), `default: throw new RangeError(\`no ${what} \${${on}}\`);`, "}"];
}

/** A readable TypeScript literal of plain data: objects one key a line,
 * arrays of numbers on one line. Strings go through jsString, so no
 * spec text reaches the code unescaped. */
export function literal(v: unknown, indent: string): string {
  if (v === null || typeof v !== "object") return typeof v === "number" ? numLit(v) : typeof v === "string" ? jsString(v) : String(v);
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
