import Ajv2020 from "ajv/dist/2020.js";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true, allowUnionTypes: true });
ajv.addVocabulary(["x-expected"]);
const v = ajv.compile(JSON.parse(readFileSync("schema/dlt.schema.json", "utf8")));
for (const f of process.argv.slice(2)) {
  const ok = v(parse(readFileSync(f, "utf8")));
  console.log(f, ok, JSON.stringify(v.errors?.map(e => ({k: e.keyword, p: e.instancePath, s: e.schemaPath, params: e.params, m: e.message})), null, 1));
}
