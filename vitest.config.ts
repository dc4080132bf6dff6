import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// "dlt-source": generated code imports `dlt/runtime` by package name, which
// resolves here to runtime/index.ts (package.json "exports") — the modules
// the tests import — rather than to the compiled dist/runtime/.
const conditions = ["dlt-source", ...defaultServerConditions];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ["dlt-source"] } },
  test: {
    // A limit, not a timing assertion: training tests run a few hundred steps.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Installs Mesa's llvmpipe packages on a fresh machine when it may.
    globalSetup: ["test/setup/webgpu-deps.ts"],
    setupFiles: ["test/setup/yield-between-tests.ts"],
  },
});
