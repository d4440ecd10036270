import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: keep process-spawning suites from starving each other.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
