import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // A limit, not a timing assertion: training tests run a few hundred steps.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Installs Mesa's llvmpipe packages on a fresh machine when it may.
    globalSetup: ["test/setup/webgpu-deps.ts"],
    setupFiles: ["test/setup/yield-between-tests.ts"],
  },
});
