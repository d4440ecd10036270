// Starts a real Debian `nats-server` on a free loopback port (JetStream on by default) for
// tests and benches, and can stop and restart it on the same port and store dir so fault
// tests can prove nothing durable is lost. Nothing here is mocked.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface NatsServerHandle {
  url: string;
  port: number;
  storeDir: string;
  stop(): Promise<void>;
  /** The server process's id (for `--reload PID`, SIGHUP). */
  readonly pid: number;
  /** Resolves once the server's log (stderr, its last 64 KiB) holds text `times` times (default 1); rejects after timeoutMs. */
  logged(text: string, timeoutMs?: number, times?: number): Promise<void>;
  /** Stops (SIGTERM, or SIGKILL for a crash) and starts again on the same port and store dir. */
  restart(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
}

export interface NatsServerOptions {
  jetstream?: boolean;
  storeDir?: string;
  port?: number;
  /** Milliseconds to wait for "Server is ready" (default 15000). */
  readyTimeoutMs?: number;
  /**
   * A config file (-c), e.g. one that includes the authorization `fleet nats auth` writes. It
   * must enable JetStream itself (`jetstream { store_dir: ... }`): -js is not passed with it,
   * and a reload would turn off what only the command line turned on.
   */
  config?: string;
}

let cachedBinary: string | null | undefined;

/** Absolute path of nats-server on PATH (or /usr/sbin, where Debian puts it), or null. */
export function natsServerBinary(): string | null {
  if (cachedBinary !== undefined) return cachedBinary;
  const path = `${process.env.PATH ?? ""}:/usr/sbin:/usr/local/sbin`;
  const probe = spawnSync("sh", ["-c", "command -v nats-server"], { env: { ...process.env, PATH: path }, encoding: "utf8" });
  cachedBinary = probe.status === 0 && probe.stdout.trim() ? probe.stdout.trim() : null;
  return cachedBinary;
}

/** For `describe.skipIf(!hasNatsServer)`; print skipMessage once so a skip is never silent. */
export const hasNatsServer = natsServerBinary() !== null;
export const natsSkipMessage = "nats-server not found on PATH: skipping NATS tests (apt-get install -y nats-server)";

/** A port the OS considers free on 127.0.0.1 right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      const port = typeof address === "object" && address ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** The last 64 KiB a server logged, per process (bounded). */
const LOG_LIMIT = 65_536;
const logs = new WeakMap<ChildProcess, { text: string; waiters: Set<() => void> }>();

function launch(binary: string, port: number, storeDir: string, jetstream: boolean, timeoutMs: number, config?: string): Promise<ChildProcess> {
  const args = ["-a", "127.0.0.1", "-p", String(port)];
  // A config file owns JetStream (its `jetstream {}` block: what a reload keeps on).
  if (config) args.push("-c", config);
  else if (jetstream) args.push("-js", "-sd", storeDir);
  const child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  const kept = { text: "", waiters: new Set<() => void>() };
  logs.set(child, kept);
  child.stderr?.on("data", (chunk: Buffer) => {
    kept.text = (kept.text + chunk.toString("utf8")).slice(-LOG_LIMIT);
    for (const w of kept.waiters) w();
  });
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`nats-server not ready within ${timeoutMs} ms on port ${port}:\n${log.slice(-2000)}`));
    }, timeoutMs);
    const onData = (chunk: Buffer): void => {
      log += chunk.toString("utf8");
      if (log.includes("Server is ready")) {
        clearTimeout(timer);
        child.stderr?.off("data", onData);
        // The log keeper above keeps draining stderr so a chatty server never blocks on a full pipe.
        child.off("exit", onExit);
        resolve(child);
      }
    };
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited (${code}) before ready on port ${port}:\n${log.slice(-2000)}`));
    };
    child.stderr?.on("data", onData);
    child.once("exit", onExit);
    child.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

function terminate(child: ChildProcess, signal: "SIGTERM" | "SIGKILL" = "SIGTERM"): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 5_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill(signal);
  });
}

export async function startNatsServer(opts: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = natsServerBinary();
  if (!binary) throw new Error(natsSkipMessage);
  const jetstream = opts.jetstream ?? true;
  const ownStore = opts.storeDir === undefined;
  const storeDir = opts.storeDir ?? mkdtempSync(join(tmpdir(), "fleet-nats-"));
  const timeoutMs = opts.readyTimeoutMs ?? 15_000;

  // A free port can be taken between probe and bind: retry a few times with fresh ports.
  let child: ChildProcess | undefined;
  let port = opts.port ?? 0;
  for (let attempt = 0; !child; attempt++) {
    if (!opts.port) port = await freePort();
    try {
      child = await launch(binary, port, storeDir, jetstream, timeoutMs, opts.config);
    } catch (e) {
      if (opts.port || attempt >= 3) throw e;
    }
  }

  let current: ChildProcess | undefined = child;
  const stopProcess = async (signal?: "SIGTERM" | "SIGKILL"): Promise<void> => {
    if (current) await terminate(current, signal);
    current = undefined;
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    get pid() {
      return current?.pid ?? -1;
    },
    logged(text, waitMs = 10_000, times = 1) {
      const kept = current ? logs.get(current) : undefined;
      if (!kept) return Promise.reject(new Error("nats-server is not running"));
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (kept.text.split(text).length - 1 < times) return;
          clearTimeout(timer);
          kept.waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          kept.waiters.delete(check);
          reject(new Error(`nats-server did not log ${JSON.stringify(text)} within ${waitMs} ms:\n${kept.text.slice(-2000)}`));
        }, waitMs);
        kept.waiters.add(check);
        check();
      });
    },
    async stop() {
      await stopProcess();
      if (ownStore) rmSync(storeDir, { recursive: true, force: true });
    },
    async restart(signal) {
      await stopProcess(signal);
      // Same port and store dir: JetStream recovers its streams from disk.
      current = await launch(binary, port, storeDir, jetstream, timeoutMs, opts.config);
    },
  };
}
