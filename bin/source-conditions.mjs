// A module resolution hook for running dlt from its TypeScript sources
// (bin/launch.mjs): resolves with the "dlt-source" condition, so that the
// `dlt/runtime` that generated code imports is this repository's
// runtime/index.ts (package.json "exports"), the same modules the CLI runs,
// rather than the compiled dist/runtime/.
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier, { ...context, conditions: [...context.conditions, "dlt-source"] });
}
