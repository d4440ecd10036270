// describe() for suites that need chromium (kept apart from chromium.ts, which the bench
// imports outside vitest): without chromium the suite is skipped, and the reason is in its
// name, so the test report says why instead of silently passing.
import { describe } from "vitest";
import { chromiumMissing } from "./chromium.js";

export function describeBrowser(name: string, fn: () => void): void {
  if (chromiumMissing) describe.skip(`${name} [skipped: ${chromiumMissing}]`, fn);
  else describe(name, fn);
}
