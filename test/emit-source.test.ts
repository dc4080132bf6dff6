// The TypeScript printer of compiler/emit/ts/source.ts: bracket-indented
// statements (brackets in strings, templates and comments ignored), and a
// layout the TypeScript formatter leaves unchanged, checked on every
// generated model.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Project } from "ts-morph";
import { describe, expect, it } from "vitest";
import { classDecl, indentLines } from "../compiler/emit/ts/source.ts";

describe("indentLines", () => {
  it("indents by brackets and ignores those inside literals and comments", () => {
    const out = indentLines(
      [
        "if (a) {",
        'const s = "{ [ (";',
        "const t = `${x.map((v) => `${v}}`).join()} {`;",
        "f(); // {",
        "/* ( */ g(",
        "1,",
        ");",
        "}",
        "h();",
      ],
      1,
    );
    expect(out).toEqual([
      "  if (a) {",
      '    const s = "{ [ (";',
      "    const t = `${x.map((v) => `${v}}`).join()} {`;",
      "    f(); // {",
      "    /* ( */ g(",
      "      1,",
      "    );",
      "  }",
      "",
      "  h();",
    ]);
  });

  it("dedents a line that starts with closers, and keeps no blank line before one", () => {
    expect(indentLines(["x = [", "{ a: 1,", "}, {", "b: 2 }];", "{", "y();", "}"], 0)).toEqual(["x = [", "  { a: 1,", "  }, {", "    b: 2 }];", "{", "  y();", "}"]);
    expect(indentLines(["for (;;) {", "{", "}", "}"], 0)).toEqual(["for (;;) {", "  {", "  }", "}"]);
  });

  it("prints a class as the formatter would", () => {
    const text = `${classDecl({
      name: "M",
      isExported: true,
      implements: ["I"],
      properties: [{ name: "a", isPrivate: true, isReadonly: true, type: "number", initializer: "1", docs: "One." }],
      methods: [{ name: "f", parameters: [{ name: "x", type: "number" }], returnType: "number", statements: ["switch (x) {", "case 0: return 1;", "default: return 2;", "}"] }],
    }).join("\n")}\n`;
    expect(formatted(text)).toBe(text);
  });
});

describe("generated/*/model.ts", () => {
  const root = join(import.meta.dirname, "..", "generated");
  const models = readdirSync(root).filter((d) => !d.startsWith("."));
  it.each(models)("%s: the TypeScript formatter changes nothing", (m) => {
    const text = readFileSync(join(root, m, "model.ts"), "utf8");
    expect(formatted(text)).toBe(text);
  });
});

function formatted(text: string): string {
  const sf = new Project({ useInMemoryFileSystem: true }).createSourceFile("x.ts", text);
  sf.formatText({ indentSize: 2, convertTabsToSpaces: true, ensureNewLineAtEndOfFile: true });
  return sf.getFullText();
}
