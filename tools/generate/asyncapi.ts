// Runs the AsyncAPI CLI offline: analytics disabled through a private config file (the CLI
// otherwise creates ~/.asyncapi-analytics with tracking on and posts metrics), no config
// warnings, no registry lookups.
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot, tool } from "./paths.js";

export interface RunResult {
  ok: boolean;
  output: string;
}

export function runAsyncapi(args: string[], cwd = repoRoot): Promise<RunResult> {
  const dir = mkdtempSync(join(tmpdir(), "fleet-asyncapi-"));
  const config = join(dir, "analytics.json");
  writeFileSync(config, JSON.stringify({ analyticsEnabled: "false", infoMessageShown: "true", userID: "fleet-protocol-ci" }));
  const env = {
    ...process.env,
    ASYNCAPI_METRICS_CONFIG_PATH: config,
    ASYNCAPI_TELEMETRY_DISABLED: "1",
    DO_NOT_TRACK: "1",
    SUPPRESS_NO_CONFIG_WARNING: "1",
    PUPPETEER_SKIP_DOWNLOAD: "true",
  };
  return new Promise((resolve) => {
    execFile(tool("asyncapi"), args, { cwd, env, maxBuffer: 16 * 1024 * 1024, timeout: 300_000 }, (error, stdout, stderr) => {
      rmSync(dir, { recursive: true, force: true });
      resolve({ ok: !error, output: `${stdout}${stderr}`.trim() });
    });
  });
}
