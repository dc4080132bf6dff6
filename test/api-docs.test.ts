// The package's public surface (the `dlt`, `dlt/runtime` and
// `dlt/runtime/node` entries) is documented: every exported name has a doc
// comment where it is declared, which editors show and docs/api.md
// summarises; and docs/api.md names every export of the three entries.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { type Node as TsNode, Node, Project } from "ts-morph";
import { describe, expect, it } from "vitest";
import { ROOT } from "../compiler/cli/files.ts";

const ENTRIES = { dlt: "compiler/index.ts", "dlt/runtime": "runtime/index.ts", "dlt/runtime/node": "runtime/node/index.ts" } as const;

const project = new Project({ tsConfigFilePath: join(ROOT, "tsconfig.json"), skipAddingFilesFromTsConfig: true });

/** The doc comment of a declaration, or of what holds it (a variable's statement). */
function docOf(node: TsNode): string {
  const holder = Node.isVariableDeclaration(node) ? node.getVariableStatement() : node;
  if (holder && Node.isJSDocable(holder)) return holder.getJsDocs().map((d) => d.getDescription() + d.getTags().map((t) => t.getText()).join(" ")).join(" ").trim();
  // `export * as rng from "./rng/philox.ts"`: the module's header comment.
  if (Node.isSourceFile(node)) return node.getFullText().match(/^(\s*\/\/.*\n)+/)?.[0] ?? "";
  return "";
}

function exportsOf(entry: string): Map<string, TsNode[]> {
  const file = project.addSourceFileAtPath(join(ROOT, entry));
  project.resolveSourceFileDependencies();
  return new Map([...file.getExportedDeclarations()].map(([name, decls]) => [name, decls as TsNode[]]));
}

const api = readFileSync(join(ROOT, "docs/api.md"), "utf8");

describe.each(Object.entries(ENTRIES))("%s (%s)", (_name, entry) => {
  const exported = exportsOf(entry);

  it("exports something", () => {
    expect(exported.size).toBeGreaterThan(5);
  });

  it("every export has a doc comment where it is declared", () => {
    const undocumented = [...exported].filter(([, decls]) => !decls.some((d) => docOf(d).length >= 12)).map(([n, decls]) => `${n} (${decls[0]?.getSourceFile().getFilePath().slice(ROOT.length + 1)})`);
    expect(undocumented).toEqual([]);
  });

  it("docs/api.md names every export", () => {
    // In code: `name`, `name(...)`, `Name.field`.
    expect([...exported.keys()].filter((n) => !new RegExp(`\`[^\`\\n]*(?<![\\w-])${n}(?![\\w-])[^\`\\n]*\``).test(api))).toEqual([]);
  });
});
