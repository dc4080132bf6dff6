// Every YAML example in the docs is checked. A ```yaml fence says what its
// block is, in its info string:
//
//   ```yaml spec                        a whole spec: it compiles
//   ```yaml fragment BASE [at PATH] [lines]
//                                       an excerpt placed into the spec file
//                                       BASE, and the result compiles: its
//                                       sections' entries replace or add to
//                                       the base's (a `graph:` excerpt), or
//                                       with `at PATH` (dotted: phases.0) its
//                                       keys replace those at PATH;
//                                       `lines`: each line is a fragment of
//                                       its own (alternatives of one key)
//   ```yaml error CODE [BASE [at PATH]]  a deliberately wrong example, in the
//   ```yaml warning CODE                section of docs/errors.md for CODE;
//                                       with BASE, placed into that spec file
//                                       as a fragment, it must give CODE
//
// A ```yaml (or ```yml) block with none of these fails. Whole specs and
// merged fragments are also validated against schema/dlt.schema.json with
// the yaml-language-server modeline as their first line (the line every spec
// starts with, so editors validate while one types).

import { readFileSync, readdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { compileSpec } from "../compiler/compile.ts";
import { SpecError, formatDiagnostic } from "../compiler/frontend/diagnostics.ts";
import { loadSpecText, specValidator } from "../compiler/frontend/load.ts";
import { diagnosticsOf } from "../compiler/compile-text.ts";

const DOCS = ["README.md", ...readdirSync("docs").filter((f) => f.endsWith(".md")).map((f) => `docs/${f}`)];

/** The modeline of a spec in specs/ (test/specs/ says ../../schema). */
export const MODELINE = "# yaml-language-server: $schema=../schema/dlt.schema.json";

interface Block {
  readonly file: string;
  readonly line: number;
  readonly info: string;
  readonly text: string;
  /** The nearest heading above the block. */
  readonly heading: string;
}

/** The fenced yaml blocks of a markdown file. */
export function yamlBlocks(file: string, md = readFileSync(file, "utf8")): Block[] {
  const lines = md.split("\n");
  const out: Block[] = [];
  let heading = "";
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^#{1,6} /.test(l)) heading = l;
    const open = /^(\s*)(`{3,}|~{3,})\s*(.*)$/.exec(l);
    if (!open) continue;
    const [, indent, fence, info] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !new RegExp(`^\\s*${fence![0]}{${fence!.length},}\\s*$`).test(lines[j]!); j++) body.push(lines[j]!.slice(indent!.length));
    if (/^ya?ml\b/.test(info!.trim())) out.push({ file, line: i + 1, info: info!.trim(), text: body.join("\n") + "\n", heading });
    i = j;
  }
  return out;
}

type Kind =
  | { kind: "spec" }
  | { kind: "fragment"; base: string; at: string[]; lines: boolean }
  | { kind: "diagnostic"; code: string; base?: string; at: string[] }
  | { kind: "unmarked"; why: string };

export function kindOf(info: string): Kind {
  const w = info.split(/\s+/).slice(1);
  if (w[0] === "spec" && w.length === 1) return { kind: "spec" };
  if (w[0] === "fragment" && w[1]) {
    let at: string[] = [];
    let lines = false;
    for (let k = 2; k < w.length; k++) {
      if (w[k] === "at" && w[k + 1]) at = w[++k]!.split(".");
      else if (w[k] === "lines") lines = true;
      else return { kind: "unmarked", why: `unknown word '${w[k]}' in a fragment's info string` };
    }
    return { kind: "fragment", base: w[1], at, lines };
  }
  if (w[0] === "warning" && /^W\d{3}$/.test(w[1] ?? "") && w.length === 2) return { kind: "diagnostic", code: w[1]!, at: [] };
  if (w[0] === "error" && /^E\d{3}$/.test(w[1] ?? "")) {
    if (w.length === 2) return { kind: "diagnostic", code: w[1]!, at: [] };
    if (w.length === 3 || (w.length === 5 && w[3] === "at")) return { kind: "diagnostic", code: w[1]!, base: w[2], at: w[4]?.split(".") ?? [] };
    return { kind: "unmarked", why: "say `yaml error Ennn [BASE [at PATH]]`" };
  }
  return { kind: "unmarked", why: "say `yaml spec`, `yaml fragment BASE [at PATH] [lines]`, `yaml error Ennn` or `yaml warning Wnnn`" };
}

function isMapping(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/** `over`'s keys replacing `base`'s; with `sections`, a mapping (a top-level
 * section: `graph:`, `params:`) replaces the base's entries one by one. */
export function merge(base: unknown, over: unknown, sections = false): unknown {
  if (!isMapping(base) || !isMapping(over)) return over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = sections && isMapping(base[k]) && isMapping(v) ? { ...base[k], ...v } : v;
  return out;
}

/** `base` with `frag` placed at `at`: at the top level sections merge entry by
 * entry (a `graph:` excerpt replaces or adds the entries it shows), at a path
 * the fragment's keys replace the base's (`optimizer:` at phases.0). */
export function placeAt(base: unknown, at: readonly string[], frag: unknown, top = true): unknown {
  if (at.length === 0) return merge(base, frag, top);
  const [head, ...rest] = at;
  if (Array.isArray(base)) {
    const i = Number(head);
    if (!Number.isInteger(i) || i < 0 || i >= base.length) throw new Error(`no item ${head} in a list of ${base.length}`);
    return base.map((x, j) => (j === i ? placeAt(x, rest, frag, false) : x));
  }
  if (!isMapping(base) || !(head! in base)) throw new Error(`no key '${head}' in the base spec`);
  return { ...base, [head!]: placeAt(base[head!], rest, frag, false) };
}

/** Compiles spec text; a SpecError becomes a readable failure. */
function compiles(text: string, file: string): void {
  try {
    compileSpec(loadSpecText(text, file));
  } catch (e) {
    if (e instanceof SpecError) throw new Error(`${file} does not compile:\n${e.diagnostics.map((d) => formatDiagnostic(d)).join("\n")}\n--- spec ---\n${text}`);
    throw e;
  }
}

/** Validates against the JSON Schema, with the modeline the first line. */
function schemaValid(text: string, where: string): void {
  expect(text.split("\n")[0], `${where}: first line`).toBe(MODELINE);
  const validate = specValidator();
  const ok = validate(parse(text));
  expect(ok, `${where}: ${JSON.stringify(validate.errors, null, 1)}`).toBe(true);
}

/** The codes of the diagnostics compiling `text` gives (none: []). */
function codesOf(text: string, file: string): string[] {
  try {
    compileSpec(loadSpecText(text, file));
  } catch (e) {
    const ds = diagnosticsOf(e, file);
    if (ds === null) throw e;
    return ds.map((d) => d.code);
  }
  return [];
}

/** The spec texts a block stands for (one per line with `lines`). */
function specsOf(b: Block, k: Kind): string[] {
  if (k.kind === "spec") return [b.text];
  if (k.kind === "diagnostic" && k.base) return [`${MODELINE}\n${stringify(placeAt(parse(readFileSync(k.base, "utf8")), k.at, parse(b.text)), { lineWidth: 0 })}`];
  if (k.kind !== "fragment") return [];
  const baseText = readFileSync(k.base, "utf8");
  const base = parse(baseText) as unknown;
  const pieces = k.lines ? b.text.split("\n").filter((l) => l.trim() && !l.trim().startsWith("#")) : [b.text];
  return pieces.map((p) => `${MODELINE}\n${stringify(placeAt(base, k.at, parse(p)), { lineWidth: 0 })}`);
}

const BLOCKS = DOCS.flatMap((f) => yamlBlocks(f));

describe("docs examples", () => {
  it("the docs hold yaml examples (spec.md and errors.md), most errors reproduced on a base spec", () => {
    expect(BLOCKS.filter((b) => { const k = kindOf(b.info); return k.kind === "diagnostic" && k.base; }).length).toBeGreaterThanOrEqual(25);
    expect(BLOCKS.filter((b) => b.file === "docs/spec.md").length).toBeGreaterThanOrEqual(8);
    expect(BLOCKS.filter((b) => b.file === "docs/errors.md").length).toBeGreaterThanOrEqual(30);
  });

  it.each(BLOCKS.map((b) => ({ ...b, name: `${b.file}:${b.line} (${b.info})` })))("$name", (b) => {
    const k = kindOf(b.info);
    if (k.kind === "unmarked") throw new Error(`${b.file}:${b.line}: \`\`\`${b.info}: ${k.why}`);
    if (k.kind === "diagnostic") {
      // A deliberately wrong example sits in the section of its code.
      expect(b.heading, `${b.file}:${b.line}`).toMatch(new RegExp(`^#+ ${k.code} — `));
      // Placed into its base spec, it gives its code.
      for (const text of specsOf(b, k)) expect(codesOf(text, "case.yaml"), `${b.file}:${b.line}\n${text}`).toContain(k.code);
      return;
    }
    specsOf(b, k).forEach((text, i) => {
      const where = `${b.file}:${b.line}${k.kind === "fragment" && k.lines ? ` line ${i + 1}` : ""}`;
      schemaValid(text, where);
      compiles(text, where.replace(/:/g, "_") + ".yaml");
    });
  });
});

describe("the convention itself", () => {
  const md = (info: string, body: string) => `# T\n\`\`\`${info}\n${body}\n\`\`\`\n`;
  it("an unmarked yaml block is refused", () => {
    const [b] = yamlBlocks("x.md", md("yaml", "model: x"));
    expect(kindOf(b!.info).kind).toBe("unmarked");
    expect(kindOf("yaml fragment specs/mlp.yaml sideways").kind).toBe("unmarked");
  });
  it("a fragment that breaks its base fails to compile", () => {
    const [b] = yamlBlocks("x.md", md("yaml fragment specs/lenet.yaml", "graph:\n  h: { dense: { input: flatten(c2), weight: W3, bias: b3, activation: tanh } }"));
    const k = kindOf(b!.info);
    const [text] = specsOf(b!, k);
    expect(() => compiles(text!, "x.yaml")).toThrow(/E008/);
  });
  it("an error example is placed into its base and must give its code", () => {
    const codes = (body: string) => {
      const [b] = yamlBlocks("x.md", md("yaml error E010 specs/logreg.yaml", body));
      return specsOf(b!, kindOf(b!.info)).map((t) => codesOf(t, "x.yaml"));
    };
    expect(codes("graph:\n  p_y_given_x: softmax(x @ w + b)")).toEqual([["E010"]]);
    expect(codes("graph:\n  p_y_given_x: softmax(x @ W + b)")).toEqual([[]]);
    expect(kindOf("yaml error E010 specs/logreg.yaml at").kind).toBe("unmarked");
  });
  it("fragments merge at a path, each line on its own with `lines`", () => {
    expect(placeAt({ a: [{ b: 1, c: 2 }] }, ["a", "0"], { c: 3 })).toEqual({ a: [{ b: 1, c: 3 }] });
    const [b] = yamlBlocks("x.md", md("yaml fragment specs/mlp.yaml at phases.0 lines", "optimizer: { sgd: { lr: 0.5 } }\noptimizer: { adam: { lr: 0.001 } }   # two"));
    const texts = specsOf(b!, kindOf(b!.info));
    expect(texts.length).toBe(2);
    expect((parse(texts[1]!) as { phases: { optimizer: unknown }[] }).phases[0]!.optimizer).toEqual({ adam: { lr: 0.001 } });
  });
});

describe("specs for editors", () => {
  const SPECS = [
    ...readdirSync("specs").filter((f) => f.endsWith(".yaml")).map((f) => `specs/${f}`),
    ...readdirSync("test/specs").filter((f) => f.endsWith(".yaml")).map((f) => `test/specs/${f}`),
  ];
  it.each(SPECS)("%s starts with the schema modeline and validates against the schema", (file) => {
    const text = readFileSync(file, "utf8");
    const m = /^# yaml-language-server: \$schema=(\S+)\n/.exec(text);
    expect(m, `${file}: the first line must be # yaml-language-server: $schema=<path to schema/dlt.schema.json>`).not.toBeNull();
    expect(resolve(dirname(file), m![1]!)).toBe(resolve("schema/dlt.schema.json"));
    const validate = specValidator();
    expect(validate(parse(text)), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
  });
});
