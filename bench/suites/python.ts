// The Python binding (bindings/python) beside its anchors, in one run: its sign_envelope and
// open_signed (every step of spec/signing.md) beside raw `cryptography` Ed25519 over the same
// bytes, and a Python agent's request/response round trip through the hub (a `fleet hub`
// process) beside a TypeScript agent's to the same TypeScript echo agent. Runs Debian's
// /usr/bin/python3 on bindings/python/bench.py; skipped (no rows) when it is missing.
import { execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MessageType } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { applicationValue } from "../../runtime/client/draft.js";
import { connectHub } from "../../runtime/client/hub-client.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import type { BenchRow, BenchSuite } from "../harness.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "../..");
const PYTHON = process.env.FLEET_PYTHON ?? "/usr/bin/python3";
const ROUND_TRIPS = 200;
const ROUNDS = 3;

function spawnHub(home: string): Promise<{ port: number; kill: () => void }> {
  const child = spawn(process.execPath, [join(ROOT, "bin/fleet.js"), "hub", "--port", "0", "--json"], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${out}`)), 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        child.stdout.removeAllListeners("data");
        child.stdout.resume();
        resolve({ port: (JSON.parse(line) as { port: number }).port, kill: () => child.kill("SIGKILL") });
      }
    });
    child.once("exit", (code) => reject(new Error(`hub exited (${code}): ${out}`)));
  });
}

export const suite: BenchSuite = {
  name: "python",
  async run(): Promise<BenchRow[]> {
    if (!existsSync(PYTHON)) {
      console.error(`bench python: ${PYTHON} missing; skipped`);
      return [];
    }
    const home = mkdtempSync(join(tmpdir(), "fleet-bench-py-"));
    const hub = await spawnHub(home);
    try {
      const echo = await connectHub({ port: hub.port, identity: generateIdentity("bench-echo") });
      echo.onMessage((env) => {
        if (env.type === MessageType.REQUEST) void echo.send({ to: env.sender, type: MessageType.RESPONSE, inReplyTo: env.id, json: applicationValue(env) });
      });
      const ts = await connectHub({ port: hub.port, identity: generateIdentity("bench-ts") });
      for (let i = 0; i < 20; i++) await ts.request({ to: "bench-echo", json: { warm: true } });
      // Alternating rounds (TypeScript, then Python), medians of each: load drift on a shared
      // machine hits both sides alike.
      const tsRates: number[] = [];
      const pyRuns: Record<string, number>[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        const t0 = performance.now();
        for (let i = 0; i < ROUND_TRIPS; i++) await ts.request({ to: "bench-echo", json: { i } });
        tsRates.push((ROUND_TRIPS / (performance.now() - t0)) * 1000);
        // Asynchronously: the echo agent answers from this process's event loop meanwhile.
        const stdout = await new Promise<string>((resolve, reject) =>
          execFile(PYTHON, [join(ROOT, "bindings/python/bench.py"), "--port", String(hub.port), "--echo", "bench-echo", "--n", String(ROUND_TRIPS)], { timeout: 120_000 }, (e, out, err) => (e ? reject(new Error(`bench.py failed: ${err}`)) : resolve(out))),
        );
        pyRuns.push(JSON.parse(stdout.trim().split("\n").pop()!) as Record<string, number>);
      }
      const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const r = Object.fromEntries(Object.keys(pyRuns[0]).map((k) => [k, med(pyRuns.map((p) => p[k]))]));
      const tsRate = med(tsRates);
      await ts.close();
      await echo.close();
      const extra = { payload_bytes: r.payload_bytes };
      return [
        { suite: "python", name: "cryptography Ed25519 sign (raw)", rate: r.raw_sign, unit: "ops/s", extra },
        { suite: "python", name: "python sign_envelope", rate: r.sign_envelope, unit: "ops/s", anchor: "cryptography Ed25519 sign (raw)" },
        { suite: "python", name: "cryptography Ed25519 verify (raw)", rate: r.raw_verify, unit: "ops/s" },
        { suite: "python", name: "python open_signed", rate: r.open_signed, unit: "ops/s", anchor: "cryptography Ed25519 verify (raw)" },
        { suite: "python", name: "typescript agent round trip via hub", rate: tsRate, unit: "msg/s", extra: { n: ROUND_TRIPS, rounds: ROUNDS } },
        { suite: "python", name: "python agent round trip via hub", rate: r.round_trips, unit: "msg/s", anchor: "typescript agent round trip via hub", extra: { n: ROUND_TRIPS, rounds: ROUNDS } },
      ];
    } finally {
      hub.kill();
      rmSync(home, { recursive: true, force: true });
    }
  },
};
