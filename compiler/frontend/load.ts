// YAML → validated, located spec. Parses with node ranges, reports YAML syntax
// errors (E001) and duplicate keys (E002), validates against
// schema/dlt.schema.json (schema.ts: E003–E011, E025), then runs the
// cross-field checks of checks/. Throws SpecError with every error found;
// warnings come back on `LoadedSpec.warnings`. Positions come from
// yaml-source.ts.

import { readTextFileOrThrow } from "./host-files.ts";
import { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode, type Pair, parseDocument, visit } from "yaml";
import { runChecks } from "./checks/index.ts";
import { type Diagnostic, SpecError } from "./diagnostics.ts";
import { NAME_HELP, schemaDiagnostics, specValidator } from "./schema.ts";
import type { LoadedSpec, Path, Spec } from "./types.ts";
import { keyString, YamlSource } from "./yaml-source.ts";

export { describeValue, SCHEMA, specValidator } from "./schema.ts";
export { scalarOffset } from "./yaml-source.ts";

export function loadSpec(file: string): LoadedSpec {
  return loadSpecText(readTextFileOrThrow(file), file);
}

export function loadSpecText(text: string, file: string): LoadedSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, logLevel: "error" });
  const src = new YamlSource(file, text, lineCounter, doc);

  if (doc.errors.length > 0) {
    // After the first syntax error the rest of the parse is unreliable.
    const e = doc.errors[0]!;
    throw new SpecError([src.diagAtOffset("E001", e.pos[0], `YAML syntax error: ${YAML_MESSAGE[e.code] ?? yamlMessage(e.message)}`, { help: YAML_HELP[e.code], span: Math.max(1, e.pos[1] - e.pos[0]) })]);
  }
  const bad = badKeys(src);
  if (bad.length) throw new SpecError(bad);

  const data = toData(doc, src);
  const validate = specValidator();
  if (!validate(data)) throw new SpecError(schemaDiagnostics(validate.errors ?? [], src, data));

  const kinds = phaseKinds(data as RawSpec, src);
  if (kinds.length) throw new SpecError(kinds);

  const partial = {
    file,
    text,
    spec: normalize(data as RawSpec),
    locate: (path: Path, opts?: { key?: boolean }) => src.locate(path, opts),
    locateIn: (path: Path, offset: number) => src.locateIn(path, offset),
  };
  const ds = runChecks(partial);
  const errors = ds.filter((d) => d.severity === "error");
  if (errors.length) throw new SpecError(errors);
  return { ...partial, warnings: ds.filter((d) => d.severity === "warning") };
}

/** Aliases (`*a`) a spec may expand in all: a real spec repeats a value a
 * few times; nested aliases (a "billion laughs" file) multiply far beyond. */
export const MAX_ALIAS_EXPANSION = 1000;

/** The document as plain data, refusing alias expansion past the budget
 * (E060, located at the first alias) instead of building it. */
function toData(doc: ReturnType<typeof parseDocument>, src: YamlSource): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
  } catch (e) {
    if (!(e instanceof ReferenceError) || !/alias/i.test(e.message)) throw e;
    let first = 0;
    visit(doc, {
      Alias(_key, node) {
        first = node.range?.[0] ?? 0;
        return visit.BREAK;
      },
    });
    throw new SpecError([
      src.diagAtOffset("E060", first, `YAML aliases expand to more than ${MAX_ALIAS_EXPANSION} values`, {
        help: "a spec needs no nested aliases; write the repeated value out, or use one alias level",
      }),
    ]);
  }
}

// ---------------------------------------------------------------------------
// YAML errors

function yamlMessage(m: string): string {
  // yaml appends "at line L, column C" to some messages; we print our own.
  return m.replace(/ at line \d+, column \d+:?[\s\S]*$/, "").trim();
}

const YAML_MESSAGE: Readonly<Record<string, string>> = {
  MULTIPLE_DOCS: "the file holds more than one YAML document",
};

const YAML_HELP: Readonly<Record<string, string>> = {
  TAB_AS_INDENT: "indent with spaces, not tabs",
  MULTIPLE_DOCS: "a spec is a single YAML document: remove the `---` separator",
  BAD_INDENT: "check the indentation and that every '[' or '{' is closed",
  MISSING_CHAR: "a flow collection ('[' or '{') or a quoted string is not closed",
  BLOCK_AS_IMPLICIT_KEY: "a key must fit on one line and be followed by ': '",
  MULTILINE_IMPLICIT_KEY: "a key must fit on one line and be followed by ': '",
  UNEXPECTED_TOKEN: "check the indentation and the ':' after each key",
};

/** Duplicate keys (E002) and keys that are not scalars (E008): the YAML
 * parser accepts both, and either would silently lose part of the spec. */
function badKeys(src: YamlSource): Diagnostic[] {
  const out: Diagnostic[] = [];
  const visit = (n: unknown, path: string[]): void => {
    if (isMap(n)) {
      const first = new Map<string, Pair>();
      for (const it of n.items) {
        if (it.key !== null && !isScalar(it.key)) {
          out.push(src.diagAtOffset("E008", (it.key as YamlNode).range?.[0] ?? 0, `a key must be a name, found ${isSeq(it.key) ? "a list" : isMap(it.key) ? "a mapping" : "an alias"}`, { help: NAME_HELP }));
          continue;
        }
        const k = keyString(it);
        const prev = first.get(k);
        const at = (it.key as YamlNode).range?.[0] ?? 0;
        if (prev) {
          const p0 = src.pos((prev.key as YamlNode).range?.[0] ?? 0);
          const where = path.length ? ` in '${path.join(".")}'` : "";
          out.push(src.diagAtOffset("E002", at, `duplicate key '${k}'${where}`, { help: "each key may appear once in a mapping; remove or rename one", related: [{ line: p0.line, col: p0.col, message: `'${k}' first defined here` }] }));
        } else first.set(k, it);
        visit(it.value, [...path, k]);
      }
    } else if (isSeq(n)) n.items.forEach((it, i) => visit(it, [...path, `[${i}]`]));
  };
  visit(src.doc.contents, []);
  return out;
}

/** The spec as the schema lets it be written: sampling specs (HMC) may leave
 * out params, losses and a sampling phase's epochs; `dataset: none` its
 * batch size and inputs. */
type RawSpec = Omit<Spec, "params" | "losses" | "data" | "phases"> & {
  readonly params?: Spec["params"];
  readonly losses?: Spec["losses"];
  readonly data: Omit<Spec["data"], "batch_size" | "inputs"> & { readonly batch_size?: number; readonly inputs?: Spec["data"]["inputs"] };
  readonly phases: readonly (Omit<Spec["phases"][number], "epochs"> & { readonly epochs?: number })[];
};

/** Keys a sampling phase (`draws`) does not take: it has no loss to
 * minimise, no data to shuffle and no validation. */
const NOT_IN_SAMPLING = ["loss", "optimizer", "epochs", "params", "shuffle", "early_stopping", "after_update"] as const;

/** What the schema cannot say about the two kinds of phase: a training
 * phase needs the spec's losses and params (E004, as a missing key), a
 * sampling phase none of the training keys (E003), and `record` belongs to
 * sampling phases (E003). */
function phaseKinds(spec: RawSpec, src: YamlSource): Diagnostic[] {
  const out: Diagnostic[] = [];
  const training = spec.phases.some((p) => p.draws === undefined);
  for (const key of ["losses", "params"] as const) {
    if (training && spec[key] === undefined) {
      const what = key === "losses" ? "Named scalar costs, each the sum of its weighted terms" : "Trained tensors with their shapes and initialisation";
      out.push(src.diagAt("E004", [], `missing required key '${key}' at the top level`, { key: true, help: `add \`${key}: …\` — ${what}; a spec whose phases all sample (\`draws\`) may leave it out` }));
    }
  }
  if (training && spec.data.dataset === "none") {
    const first = spec.phases.find((p) => p.draws === undefined)!;
    out.push(src.diagAt("E007", ["data", "dataset"], `dataset 'none' has no examples for training phase '${first.name}'`, { help: "name a dataset, or make every phase a sampling phase (`draws`, `updates`)" }));
  }
  spec.phases.forEach((p, i) => {
    if (p.draws !== undefined) {
      for (const k of NOT_IN_SAMPLING) {
        if (k in p) out.push(src.diagAt("E003", ["phases", i, k], `'${k}' is not a key of a sampling phase ('draws')`, { key: true, help: `a sampling phase runs its graph \`draws\` times and applies \`updates\`; remove '${k}', or make it a training phase (loss, optimizer, epochs) without draws` }));
      }
    } else if (p.record !== undefined) {
      out.push(src.diagAt("E003", ["phases", i, "record"], `'record' is a key of sampling phases ('draws') only`, { key: true, help: "record the state a sampling phase draws; a training phase's results are its checkpoints and metrics" }));
    }
  });
  return out;
}

function normalize(raw: RawSpec): Spec {
  return {
    ...raw,
    params: raw.params ?? {},
    losses: raw.losses ?? {},
    data: { ...raw.data, batch_size: raw.data.batch_size ?? 1, inputs: raw.data.inputs ?? {} },
    // A sampling phase is one pass of `draws` steps.
    phases: raw.phases.map((p) => ({ ...p, epochs: p.epochs ?? 1 })),
  };
}
