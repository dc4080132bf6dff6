import { parseExpr, showExpr, ExprError } from "./compiler/spec/expr.ts";
for (const s of process.argv.slice(2)) { try { console.log(s, "=>", showExpr(parseExpr(s))); } catch (e) { const x = e as ExprError; console.log(s, "=> ERR", x.code, x.offset, x.message, x.help ?? ""); } }
