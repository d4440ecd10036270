// Helpers for hub and CLI tests: temp homes, the real CLI as a child process, a real hub
// process on an ephemeral loopback port, in-process hubs, and raw sockets for bad input.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createConnection, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { create } from "@bufbuild/protobuf";
import type { Envelope } from "../../generated/proto/fleet/v1/envelope_pb.js";
import { decodePacket, encodeFrame, encodePacket, FrameDecoder } from "../../runtime/codec/index.js";
import { parseEnvelope } from "../../runtime/crypto/envelope-bytes.js";
import { PacketSchema } from "../../generated/proto/fleet/v1/signed_pb.js";
import { generateIdentity } from "../../runtime/crypto/index.js";
import type { Clock } from "../../runtime/clock.js";
import { startHub, type RunningHub } from "../../runtime/hub/start.js";

export const ROOT = resolve(import.meta.dirname, "../..");
export const FLEET_BIN = join(ROOT, "bin/fleet.js");

const cleanups: (() => unknown)[] = [];
export async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}

export function tmpDir(prefix = "fleet-test-"): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  cleanups.push(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the real `fleet` command (node bin/fleet.js) with FLEET_HOME=home; bounded by timeoutMs. */
export function runCli(args: string[], home: string, timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [FLEET_BIN, ...args], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fleet ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

export interface HubProcess {
  port: number;
  /** The WebSocket listener's port, when started with --ws-port. */
  wsPort?: number;
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code/signal. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns `fleet hub --port 0 --json` and waits for its "listening" event. */
/**
 * Points the home's config.json at a hub, as `fleet hub` does for a port of the user's choosing
 * (a `--port 0` hub, which spawnHub starts, leaves config.json alone).
 */
export function useHub(home: string, port: number): void {
  const path = join(home, "config.json");
  const config = existsSync(path) ? JSON.parse(readFileSync(path, "utf8")) : {};
  writeFileSync(path, JSON.stringify({ ...config, hub: `127.0.0.1:${port}` }));
}

export function spawnHub(home: string, extra: string[] = [], timeoutMs = 20_000): Promise<HubProcess> {
  const child = spawn(process.execPath, [FLEET_BIN, "hub", "--port", "0", "--json", ...extra], { env: { ...process.env, FLEET_HOME: home, FLEET_HUB: "" }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
  cleanups.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    return exited;
  });
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`hub did not start: ${out}`)), timeoutMs);
    child.stderr.on("data", (d) => (out += d));
    child.stdout.on("data", (d) => {
      out += d;
      for (const line of out.split("\n")) {
        if (!line.startsWith("{")) continue;
        try {
          const ev = JSON.parse(line) as { event?: string; port?: number; ws_port?: number };
          if (ev.event === "listening" && ev.port) {
            clearTimeout(timer);
            resolvePromise({ port: ev.port, wsPort: ev.ws_port, child, output: () => out, exited });
            return;
          }
        } catch {
          // partial line
        }
      }
    });
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`hub exited (${e.code ?? e.signal}) before listening: ${out}`));
    });
  });
}

/** An in-process hub on an ephemeral port with a temp store. */
export async function inProcessHub(opts: Partial<Parameters<typeof startHub>[0]> & { clock?: Clock } = {}): Promise<RunningHub> {
  const running = await startHub({ storeDir: opts.storeDir ?? join(tmpDir("fleet-hub-"), "hub"), identity: opts.identity ?? generateIdentity("fleet-hub"), port: 0, ...opts });
  cleanups.push(() => running.close());
  return running;
}

/** A raw TCP socket to the hub collecting the frames it sends back, for bad-input tests. */
export async function rawSocket(port: number): Promise<{ socket: Socket; frames: Uint8Array[]; closed: Promise<void> }> {
  const socket = createConnection({ host: "127.0.0.1", port });
  await new Promise<void>((r, j) => {
    socket.once("connect", () => r());
    socket.once("error", j);
  });
  const frames: Uint8Array[] = [];
  const decoder = new FrameDecoder();
  socket.on("data", (d) => {
    try {
      frames.push(...decoder.push(d));
    } catch {
      // tests look at frames only
    }
  });
  socket.on("error", () => {});
  const closed = new Promise<void>((r) => socket.once("close", () => r()));
  cleanups.push(() => socket.destroy());
  return { socket, frames, closed };
}

/** The envelope inside a frame the hub sent (its signed error frames). */
export function envelopeOfFrame(body: Uint8Array): Envelope {
  const p = decodePacket(body);
  if (p.kind.case !== "signed") throw new Error(`expected a signed packet, got ${p.kind.case}`);
  return parseEnvelope(p.kind.value.payload, p.kind.value.payloadType);
}

export { create, encodeFrame, encodePacket, PacketSchema };

/** Waits until check() is true, polling every 10 ms, at most timeoutMs. */
export async function until(check: () => boolean, timeoutMs = 5_000, what = "condition"): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
