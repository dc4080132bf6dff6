// A small printer for the TypeScript the compiler emits: declarations as
// plain data (imports, constants, an interface, functions, one class) and
// statement lines that are re-indented by their brackets. It replaced
// ts-morph + the TypeScript formatter, which cost about a second of every
// dlt-compile's start-up (loading typescript.js) to lay out text the
// renderers already write well-formed, one statement a line.
//
// Traps recorded here:
// - Brackets inside string, template and comment text must not count:
//   jsString output can hold any character ("{", "`", "//"), so the scanner
//   skips literals and comments (templates with their `${…}` nesting).
// - A line that starts with closers ("}", "},", "]);") is indented one level
//   less per leading closer; its openers count for the lines after it.

const INDENT = "  ";

/** Net bracket depth change of one line, and how many closers lead it. */
function scanBrackets(line: string): { delta: number; leadingClosers: number } {
  let delta = 0;
  let leading = 0;
  let seenOther = false;
  const templateDepth: number[] = []; // brace depth at each open `${`
  let braces = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === " " || c === "\t") continue;
    if (c === "/" && line[i + 1] === "/") break;
    if (c === "/" && line[i + 1] === "*") {
      const end = line.indexOf("*/", i + 2);
      if (end < 0) break;
      i = end + 1;
      continue;
    }
    if (c === '"' || c === "'") {
      for (i++; i < line.length && line[i] !== c; i++) if (line[i] === "\\") i++;
      seenOther = true;
      continue;
    }
    if (c === "`" || (c === "}" && templateDepth.length && templateDepth[templateDepth.length - 1] === braces)) {
      // Template text: from a backtick, or from the "}" that closes `${`.
      if (c === "}") templateDepth.pop();
      for (i++; i < line.length; i++) {
        if (line[i] === "\\") i++;
        else if (line[i] === "`") break;
        else if (line[i] === "$" && line[i + 1] === "{") {
          templateDepth.push(braces);
          i++;
          break;
        }
      }
      seenOther = true;
      continue;
    }
    if (c === "{" || c === "[" || c === "(") {
      if (c === "{") braces++;
      delta++;
      seenOther = true;
    } else if (c === "}" || c === "]" || c === ")") {
      if (c === "}") braces--;
      delta--;
      if (!seenOther) leading++;
    } else if (c !== "," && c !== ";") seenOther = true;
  }
  return { delta, leadingClosers: leading };
}

/** Statements (their own indentation ignored; one may span lines) indented
 * by bracket depth from `depth`. A statement that ends with "}" is followed
 * by a blank line unless a closer follows, so the kernel blocks of a long
 * method body read apart (the layout ts-morph gave, kept byte for byte). */
export function indentLines(statements: readonly string[], depth: number): string[] {
  const out: string[] = [];
  let d = depth;
  for (const statement of statements) {
    for (const raw of statement.split("\n")) {
      const line = raw.trim();
      if (line === "") {
        out.push("");
        continue;
      }
      const { delta, leadingClosers } = scanBrackets(line);
      out.push(INDENT.repeat(Math.max(0, d - leadingClosers)) + line);
      d += delta;
    }
    if (statement.trimEnd().endsWith("}")) out.push("");
  }
  while (out.length && out[out.length - 1] === "") out.pop();
  // A blank line never comes right before a closing bracket.
  return out.filter((l, i) => !(l === "" && (out[i + 1] === undefined || /^\s*[}\])]/.test(out[i + 1]!) || out[i - 1] === "")));
}

/** `/** text *\/` above a declaration (one line: the texts are short). */
const doc = (docs: string | undefined, pad: string) => (docs === undefined ? [] : [`${pad}/** ${docs} */`]);

export interface Parameter {
  readonly name: string;
  readonly type: string;
}

export interface MethodDecl {
  readonly name: string;
  readonly docs?: string;
  readonly isPrivate?: boolean;
  readonly isAsync?: boolean;
  readonly isExported?: boolean;
  readonly parameters: readonly Parameter[];
  readonly returnType: string;
  readonly statements: readonly string[];
}

export interface PropertyDecl {
  readonly name: string;
  readonly docs?: string;
  readonly isPrivate?: boolean;
  readonly isReadonly?: boolean;
  readonly type?: string;
  readonly initializer?: string;
}

function signature(m: MethodDecl): string {
  const params = m.parameters.map((p) => `${p.name}: ${p.type}`).join(", ");
  return `${m.name}(${params}): ${m.returnType} {`;
}

/** A function declaration at the top level. */
export function functionDecl(f: MethodDecl): string[] {
  const mods = `${f.isExported ? "export " : ""}${f.isAsync ? "async " : ""}function `;
  return [...doc(f.docs, ""), mods + signature(f), ...indentLines(f.statements, 1), "}"];
}

export function propertyDecl(p: PropertyDecl, pad: string): string[] {
  const mods = `${p.isPrivate ? "private " : ""}${p.isReadonly ? "readonly " : ""}`;
  const type = p.type === undefined ? "" : `: ${p.type}`;
  const init = p.initializer === undefined ? "" : ` = ${p.initializer}`;
  return [...doc(p.docs, pad), `${pad}${mods}${p.name}${type}${init};`];
}

export interface ClassDecl {
  readonly name: string;
  readonly isExported?: boolean;
  readonly implements?: readonly string[];
  readonly properties: readonly PropertyDecl[];
  /** The constructor's parameters, e.g. "options: ModelOptions = {}". */
  readonly constructorParameters?: readonly string[];
  /** The constructor's body (after the property initializers); none when
   * empty and without parameters. */
  readonly constructorStatements?: readonly string[];
  readonly methods: readonly MethodDecl[];
}

/** Properties one a line, then the constructor and the methods, separated
 * by blank lines. */
export function classDecl(c: ClassDecl): string[] {
  const head = `${c.isExported ? "export " : ""}class ${c.name}${c.implements?.length ? ` implements ${c.implements.join(", ")}` : ""} {`;
  const props = c.properties.flatMap((p) => propertyDecl(p, INDENT));
  const methods = c.methods.map((m) => [
    ...doc(m.docs, INDENT),
    `${INDENT}${m.isPrivate ? "private " : ""}${m.isAsync ? "async " : ""}${signature(m)}`,
    ...indentLines(m.statements, 2),
    `${INDENT}}`,
  ]);
  const params = c.constructorParameters ?? [];
  const body = c.constructorStatements ?? [];
  const ctor = body.length || params.length ? [[`${INDENT}constructor(${params.join(", ")}) {`, ...indentLines(body, 2), `${INDENT}}`]] : [];
  const members = [props, ...ctor, ...methods].filter((x) => x.length > 0);
  return [head, ...members.flatMap((m, i) => (i === 0 ? m : ["", ...m])), "}"];
}

export interface InterfaceDecl {
  readonly name: string;
  readonly docs?: string;
  readonly properties: readonly PropertyDecl[];
}

export function interfaceDecl(i: InterfaceDecl): string[] {
  return [...doc(i.docs, ""), `interface ${i.name} {`, ...i.properties.flatMap((p) => propertyDecl(p, INDENT)), "}"];
}

/** Top-level declarations separated by one blank line; imports (the first
 * block) stay together. A file ends with one newline. */
export function sourceFile(imports: readonly string[], declarations: readonly (readonly string[])[]): string {
  return [imports.join("\n"), ...declarations.map((d) => d.join("\n"))].join("\n\n") + "\n";
}
