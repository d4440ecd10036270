import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  resolve: {
    // package.json "imports" points #transport-tcp at the compiled dist/ (the published
    // package); tests run the sources, as tsconfig.json "paths" does for tsc and tsx.
    alias: { "#transport-tcp": fileURLToPath(new URL("./runtime/transport/tcp.ts", import.meta.url)) },
  },
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores on CI: keep process-spawning suites from starving each other.
    maxWorkers: 2,
    minWorkers: 1,
  },
});
