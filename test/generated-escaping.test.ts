// Text from outside the compiler reaches generated code only through one
// escaping function per kind: spec paths and spec locations through
// `commentText` (comments in TypeScript, WAT and WGSL), names through
// `identifier` (compiler/lower/names.ts), strings through JSON.stringify.
// A spec path full of line breaks and comment terminators must not put a
// line of code into any generated file.

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import ts from "typescript";
import { ROOT } from "../compiler/cli/files.ts";
import { compileSpec } from "../compiler/compile.ts";
import { loadSpecText } from "../compiler/frontend/load.ts";
import { identifier } from "../compiler/lower/names.ts";

const PAYLOAD = 'console.log("pwned")';
const EVIL = ["\n", "\r\n", "\u2028", "\u2029", "*/", "`", "${", '"', "'"].map((sep) => `x${sep}${PAYLOAD}${sep}`).join("/");

describe("spec text in generated code", () => {
  const c = compileSpec(loadSpecText(readFileSync(join(ROOT, "specs/mlp.yaml"), "utf8"), `specs/${EVIL}/mlp.yaml`));

  it.each([...c.files.keys()])("%s: the spec path's payload is never code", (name) => {
    const text = c.files.get(name)!;
    expect(text).not.toMatch(/[\u2028\u2029]/);
    if (name.endsWith(".wat")) {
      for (const line of text.split("\n")) if (line.includes("pwned")) expect(line, line).toMatch(/^\s*;;/);
      return;
    }
    // TypeScript: no identifier of the payload in the syntax tree (comments,
    // strings and template strings hold no identifiers).
    const sf = ts.createSourceFile(name, text, ts.ScriptTarget.ES2022, true);
    const identifiers: string[] = [];
    const walk = (n: ts.Node): void => {
      if (ts.isIdentifier(n)) identifiers.push(n.text);
      ts.forEachChild(n, walk);
    };
    walk(sf);
    expect(identifiers.length).toBeGreaterThan(0);
    expect(identifiers).not.toContain("console");
  });

  it("model.ts and webgpu.ts parse with no statement besides the generated ones", () => {
    for (const name of ["model.ts", "webgpu.ts"]) {
      const sf = ts.createSourceFile(name, c.files.get(name)!, ts.ScriptTarget.ES2022, true);
      const calls = sf.statements.filter((s) => ts.isExpressionStatement(s));
      expect(calls.map((s) => s.getText()), name).toEqual([]);
    }
  });

  it("identifier() makes a valid, unreserved identifier of anything", () => {
    for (const s of ["hidden", "p_y_given_x", "a b\nc", "1st", "delete", "x\u2028y", "", "${x}", "batch"]) {
      const id = identifier(s);
      expect(id, JSON.stringify(s)).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
    }
    expect(identifier("delete")).toBe("delete_");
    expect(identifier("batch")).toBe("batch_");
    expect(identifier("W1")).toBe("W1");
  });
});
