// Text from outside the compiler reaches generated code only through one
// escaping function per kind: spec paths and spec locations through
// `commentText` (comments in TypeScript, WAT and WGSL), names through
// `identifier` (compiler/lower/names.ts), strings through JSON.stringify.
// A spec path full of line breaks and comment terminators must not put a
// line of code into any generated file.

import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import ts from "typescript";
import { loadSpecFile, ROOT } from "../compiler/cli/files.ts";
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

describe("generated code does not depend on where the spec lives", () => {
  it("a spec of the project, named by any path, compiles to the committed files", () => {
    for (const p of [join(ROOT, "specs/logreg.yaml"), "specs/logreg.yaml", join(ROOT, "specs/../specs/logreg.yaml")]) {
      const c = compileSpec(loadSpecFile(p));
      expect(c.files.get("model.ts"), p).toBe(readFileSync(join(ROOT, "generated/logreg/model.ts"), "utf8"));
    }
  });

  it("a spec outside the project is named by its file name only", () => {
    const text = readFileSync(join(ROOT, "specs/logreg.yaml"), "utf8");
    const outputs = ["a", "b/c"].map((d) => {
      const dir = join(tmpdir(), `dlt-where-${process.pid}`, d);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "logreg.yaml"), text);
      return compileSpec(loadSpecFile(join(dir, "logreg.yaml"))).files.get("model.ts")!;
    });
    rmSync(join(tmpdir(), `dlt-where-${process.pid}`), { recursive: true, force: true });
    expect(outputs[0]).toBe(outputs[1]);
    expect(outputs[0]).toContain("from logreg.yaml (spec sha256");
    expect(outputs[0]).not.toContain(tmpdir());
  });
});
