import { defineConfig } from "vitest/config";

// A limit, not a timing assertion: training tests run a few hundred steps.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
